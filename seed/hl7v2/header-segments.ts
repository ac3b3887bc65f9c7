import { hl7Date, hl7DateTime, type WallTime } from './clock.ts';
import { type Field, mshSegment, segment } from './hl7-writer.ts';
import { ASSIGNING_AUTHORITIES, fromIsoDate, type Physician, type SeedPatient } from './patients.ts';

/** A sending system: application and facility (MSH-3 / MSH-4). */
export interface Sender {
  application: string;
  facility: string;
}

export const LAB_SENDER: Sender = { application: 'GLIMS', facility: 'UMCX_KCL' };
export const PATHOLOGY_SENDER: Sender = { application: 'PATHOS', facility: 'UMCX_PA' };

/** MSH for an ORU^R01 v2.5.1 message. See: HL7 v2.5.1 section 2.14.9 (MSH). */
export function mshFor(sender: Sender, sentAt: WallTime, controlId: string): string {
  return mshSegment([
    sender.application, // MSH-3
    sender.facility, // MSH-4
    'IDR', // MSH-5
    'UMCX', // MSH-6
    hl7DateTime(sentAt), // MSH-7
    '', // MSH-8
    ['ORU', 'R01', 'ORU_R01'], // MSH-9
    controlId, // MSH-10
    'P', // MSH-11
    '2.5.1', // MSH-12
    '', // MSH-13
    '', // MSH-14
    '', // MSH-15
    '', // MSH-16
    'NLD', // MSH-17
    'UNICODE UTF-8', // MSH-18
  ]);
}

/** XCN for a physician of the hospital. */
export function xcn(p: Physician): Field {
  return [p.id, p.family, p.initials, '', '', 'dr.', '', '', 'UMCX'];
}

/** PID with BSN and MRN as repetitions of PID-3. See: HL7 v2.5.1 section 3.4.2 (PID). */
export function pidFor(p: SeedPatient): string {
  const { name, address } = p;
  return segment('PID', [
    '1', // PID-1
    '', // PID-2
    {
      repeat: [
        [p.bsn, '', '', ASSIGNING_AUTHORITIES.bsn, 'NNNLD'],
        [p.mrn, '', '', ASSIGNING_AUTHORITIES.mrn, 'MR'],
      ],
    }, // PID-3
    '', // PID-4
    [name.prefix ? [name.family, name.prefix, name.surname] : name.family, name.given, '', '', '', '', 'L'], // PID-5 (FN.2/FN.3: NL voorvoegsel)
    '', // PID-6
    hl7Date(fromIsoDate(p.birthDate)), // PID-7
    p.sex, // PID-8
    '', // PID-9
    '', // PID-10
    [[`${address.street} ${address.houseNumber}`, address.street, address.houseNumber], '', address.city, '', address.postalCode, address.country, 'H'], // PID-11
    '', // PID-12
    [p.phone, 'PRN', 'CP'], // PID-13
  ]);
}

/** PV1 for an outpatient (O) or inpatient (I) encounter at the given point of care. */
export function pv1For(patientClass: 'O' | 'I', pointOfCare: string, attending: Physician): string {
  return segment('PV1', ['1', patientClass, [pointOfCare, '', '', 'UMCX'], '', '', '', xcn(attending)]);
}
