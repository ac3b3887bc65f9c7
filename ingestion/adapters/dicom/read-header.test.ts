import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AdapterError } from '../types.ts';
import { readDicomHeader } from './read-header.ts';
import { sampleInstance } from './testing/sample-instances.ts';
import { writeDicomPart10, type DicomElement } from './testing/write-dicom.ts';

const FIXTURES = new URL('../../../test/fixtures/dicom/', import.meta.url);
const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(name, FIXTURES)));
const base = { studyUid: '1.2.3.4', seriesUid: '1.2.3.4.1', sopUid: '1.2.3.4.1.1', modality: 'CT' };

function refusal(fn: () => unknown): AdapterError {
  try {
    fn();
  } catch (err) {
    if (err instanceof AdapterError) return err;
    throw err;
  }
  throw new Error('expected an AdapterError');
}

describe('readDicomHeader', () => {
  it('reads every mapped field of a whole-slide image, including the specimen sequence', () => {
    const h = readDicomHeader(fixture('sm-slide.dcm'));
    expect(h).toMatchObject({
      SOPClassUID: '1.2.840.10008.5.1.4.1.1.77.1.6', SOPInstanceUID: '1.2.826.0.1.3680043.10.1234.300.1.1',
      StudyInstanceUID: '1.2.826.0.1.3680043.10.1234.300', SeriesInstanceUID: '1.2.826.0.1.3680043.10.1234.300.1',
      AccessionNumber: 'T24-01234', StudyDate: '20240312', StudyTime: '093015.123456', Modality: 'SM',
      StudyDescription: 'Whole-slide image H&E', SeriesDescription: 'H&E 40x', BodyPartExamined: 'BREAST',
      PatientID: '999911120', IssuerOfPatientID: '2.16.840.1.113883.2.4.6.3', PatientName: 'Jansen^Anna^Maria',
      PatientBirthDate: '19640523', PatientSex: 'F', ReferringPhysicianName: 'de Vries^Pieter^^Dr.',
      InstitutionName: 'Noordwest Ziekenhuis', SeriesNumber: 1, InstanceNumber: 1,
      SpecimenIdentifier: 'T24-01234-A1', SpecimenIdentifierIssuer: 'PATHLAB', ContainerIdentifier: 'T24-01234-A1-1',
      TransferSyntaxUID: '1.2.840.10008.1.2.1',
    });
  });

  it('takes the issuer of the patient id from the qualifiers sequence (universal entity id) over the local name', () => {
    const qualifiers: DicomElement = { tag: '00100024', vr: 'SQ', value: [[{ tag: '00400032', vr: 'UT', value: '2.16.840.1.113883.2.4.6.3' }, { tag: '00400033', vr: 'CS', value: 'ISO' }]] };
    const h = readDicomHeader(writeDicomPart10(sampleInstance({ ...base, issuer: 'NLMINBIZA-LOCAL', extra: [qualifiers] })));
    expect(h.IssuerOfPatientID).toBe('2.16.840.1.113883.2.4.6.3');
    expect(readDicomHeader(writeDicomPart10(sampleInstance({ ...base, issuer: 'UMCX' }))).IssuerOfPatientID).toBe('UMCX');
  });

  it('reads laterality, frames, series date/time and timezone offset', () => {
    const extra: DicomElement[] = [
      { tag: '00200062', vr: 'CS', value: 'R' }, { tag: '00280008', vr: 'IS', value: '12' },
      { tag: '00080021', vr: 'DA', value: '20240313' }, { tag: '00080031', vr: 'TM', value: '101500' },
      { tag: '00080201', vr: 'SH', value: '+0100' },
    ];
    const h = readDicomHeader(writeDicomPart10(sampleInstance({ ...base, laterality: 'L', extra })));
    expect(h).toMatchObject({ Laterality: 'L', ImageLaterality: 'R', NumberOfFrames: 12, SeriesDate: '20240313', SeriesTime: '101500', TimezoneOffsetFromUTC: '+0100' });
  });

  it('decodes UTF-8 names when SpecificCharacterSet is ISO_IR 192', () => {
    const h = readDicomHeader(writeDicomPart10(sampleInstance({ ...base, patientName: 'Çelik^Zoë' })));
    expect(h.PatientName).toBe('Çelik^Zoë');
  });

  it('stops at PixelData: a file cut inside the pixel data still reads', () => {
    const huge: DicomElement = { tag: '7FE00010', vr: 'OW', value: new Uint8Array(1_000_000) };
    const full = writeDicomPart10([...sampleInstance(base).filter((e) => e.tag !== '7FE00010'), huge]);
    const cut = full.subarray(0, full.length - 999_000);
    expect(readDicomHeader(cut).SOPInstanceUID).toBe('1.2.3.4.1.1');
  });

  it('refuses a file without the DICM marker', () => {
    const err = refusal(() => readDicomHeader(fixture('not-dicom.dcm')));
    expect(err.location).toBe('preamble');
    expect(err.message).toMatch(/DICM/);
    expect(refusal(() => readDicomHeader(new Uint8Array(0))).location).toBe('preamble');
  });

  it('refuses a file without PatientID', () => {
    const err = refusal(() => readDicomHeader(fixture('no-patient-id.dcm')));
    expect(err.location).toBe('(0010,0020)');
    expect(err.message).toBe('(0010,0020): PatientID is missing');
  });

  it.each([
    ['0020000D', '(0020,000D)', 'StudyInstanceUID is missing'],
    ['0020000E', '(0020,000E)', 'SeriesInstanceUID is missing'],
    ['00080060', '(0008,0060)', 'Modality is missing'],
  ])('refuses a file without %s', (tag, location, message) => {
    const err = refusal(() => readDicomHeader(writeDicomPart10(sampleInstance(base).filter((e) => e.tag !== tag))));
    expect(err.location).toBe(location);
    expect(err.message).toContain(message);
  });

  it('refuses a malformed UID', () => {
    const err = refusal(() => readDicomHeader(writeDicomPart10(sampleInstance({ ...base, studyUid: '1.2.abc' }))));
    expect(err.location).toBe('(0020,000D)');
    expect(err.message).toMatch(/not a valid UID/);
  });

  it('refuses a data set cut in the middle of the header', () => {
    const bytes = fixture('ct-thorax-1.dcm');
    const err = refusal(() => readDicomHeader(bytes.subarray(0, 400)));
    expect(['dataset', '(0010,0020)', '(0020,000D)', '(0020,000E)', '(0008,0060)']).toContain(err.location);
  });
});
