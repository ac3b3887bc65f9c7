import { describe, expect, it } from 'vitest';
import { hl7v2ToBundle } from './index.ts';
import { patientScope } from './patient-scope.ts';
import { fixture, testContext } from './testing.ts';

const message = (mrn: string): string => [
  'MSH|^~\\&|LIS|LAB|IDR|HOSP|20240501101500+0200||ORU^R01^ORU_R01|CTRL-1|P|2.5.1',
  `PID|1||${mrn}^^^HOSP^MR||Jansen^Els||19800101|F`,
  'OBR|1|PL-1^EPIC|ORD-1^LIS|2951-2^Sodium^LN|||20240501080000+0200||||||||||||||||CH|F',
  'OBX|1|NM|2951-2^Sodium^LN||140|mmol/L|||||F',
  'SPM|1|SP-1&LIS||SER^Serum^HL70487',
].join('\r');

describe('patientScope', () => {
  it('is stable, differs per patient identifier, and carries neither system nor value', () => {
    const a = patientScope({ system: 'http://fhir.nl/fhir/NamingSystem/bsn', value: '999911120' });
    expect(a).toMatch(/^p-[0-9a-f]{16}$/);
    expect(patientScope({ system: 'http://fhir.nl/fhir/NamingSystem/bsn', value: '999911120' })).toBe(a);
    expect(patientScope({ system: 'http://fhir.nl/fhir/NamingSystem/bsn', value: '999922224' })).not.toBe(a);
    expect(patientScope({ system: 'urn:idr:assigning-authority:X', value: '999911120' })).not.toBe(a);
  });

  it('HL7 v2: two patients\' messages with the same order number and specimen id share no conditional URL', () => {
    const urls = (mrn: string): string[] => (hl7v2ToBundle(message(mrn), testContext()).bundle.entry ?? []).filter((e) => e.resource?.resourceType !== 'Patient').map((e) => e.request?.url ?? '');
    const one = urls('P1');
    const two = urls('P2');
    expect(one).toHaveLength(3);
    expect(one.filter((u) => two.includes(u))).toEqual([]);
  });

  it('HL7 v2 pathology: two patients\' reports with the same case number and specimen ids share no conditional URL', () => {
    const raw = fixture('pathology-breast-biopsy.hl7');
    const other = raw.replace('PID|1||123456782^', 'PID|1||999922224^');
    expect(other).not.toBe(raw);
    const urls = (msg: string): string[] => (hl7v2ToBundle(msg, testContext()).bundle.entry ?? []).filter((e) => e.resource?.resourceType !== 'Patient').map((e) => e.request?.url ?? '');
    const one = urls(raw);
    expect(one.some((u) => u.startsWith('Specimen?'))).toBe(true);
    expect(one.some((u) => u.startsWith('DiagnosticReport?'))).toBe(true);
    expect(one.filter((u) => urls(other).includes(u))).toEqual([]);
  });
});
