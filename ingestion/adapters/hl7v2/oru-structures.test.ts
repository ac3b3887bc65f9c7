import type { DiagnosticReport, Observation, Specimen } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { hl7v2ToBundle } from './index.ts';
import { patientScope } from './patient-scope.ts';
import { entryOf, resolve, resources, testContext } from './testing.ts';

/**
 * ORU^R01 as HL7 v2.5.1 defines it (chapter 7): MSH [SFT] { PATIENT_RESULT: [PATIENT: PID [PD1]
 * [{NTE}] [{NK1}] [VISIT: PV1 [PV2]]] { ORDER_OBSERVATION: [ORC] OBR [{NTE}] [{TIMING_QTY: TQ1
 * [{TQ2}]}] [CTD] [{OBSERVATION: OBX [{NTE}]}] [{FT1}] [{CTI}] [{SPECIMEN: SPM [{OBX}]}] } } [DSC].
 * Messages below are written from that structure, with order numbers repeated the way senders do.
 */

const MSH = 'MSH|^~\\&|LIS|LAB|IDR|HOSP|20240501101500+0200||ORU^R01^ORU_R01|CTRL-1|P|2.5.1';
const pid = (id: string, name = 'Jansen^Els'): string => `PID|1||${id}^^^HOSP^MR||${name}||19800101|F`;
const obr = (set: number, filler: string, service: string, extra = ''): string =>
  `OBR|${set}|PL-${filler}^EPIC|${filler}^LIS|${service}|||20240501080000+0200|||||||||||||||20240501100000+0200||CH|F${extra}`;
const obx = (set: number, code: string, value: string, status = 'F', sub = ''): string => `OBX|${set}|NM|${code}^LN|${sub}|${value}|mmol/L|||||${status}`;
const msg = (...segments: string[]): string => [MSH, ...segments].join('\r');
const map = (raw: string): ReturnType<typeof hl7v2ToBundle> => hl7v2ToBundle(raw, testContext());
const reportsOf = (raw: string): DiagnosticReport[] => resources<DiagnosticReport>(map(raw).bundle, 'DiagnosticReport');
const resultCodes = (raw: string, r: DiagnosticReport): string[] => {
  const { bundle } = map(raw);
  const same = resources<DiagnosticReport>(bundle, 'DiagnosticReport').find((x) => x.identifier?.[0]?.value === r.identifier?.[0]?.value) as DiagnosticReport;
  return (same.result ?? []).map((ref) => resolve<Observation>(bundle, ref.reference).code.coding?.[0]?.code ?? '');
};
const SCOPE = patientScope({ system: 'urn:idr:assigning-authority:HOSP', value: 'P1' });

describe('ORU^R01 v2.5.1 structures', () => {
  it('the minimal message: PID, OBR, OBX', () => {
    const out = map(msg(pid('P1'), obr(1, 'F1', '2951-2^Sodium^LN'), obx(1, '2951-2^Sodium', '140')));
    expect(resources(out.bundle, 'Patient')).toHaveLength(1);
    expect(resources(out.bundle, 'Observation')).toHaveLength(1);
    expect(out.kind).toBe('ORU^R01 lab');
  });

  it('every optional segment of the structure: SFT, PD1, NTE, NK1, PV1, PV2, ORC, TQ1, TQ2, CTD, FT1, CTI, SPM with OBX, DSC', () => {
    const raw = msg(
      'SFT|Vendor^L|1.0|LIS|1.0.1',
      pid('P1'), 'PD1|||Huisartsenpraktijk', 'NTE|1||patient note', 'NK1|1|Jansen^Piet|SPO', 'PV1|1|O', 'PV2|||consult',
      'ORC|RE|PL-F1^EPIC|F1^LIS', obr(1, 'F1', '24326-1^Electrolytes panel^LN'), 'NTE|1||order note', 'TQ1|1||||||20240501080000+0200', 'TQ2|1', 'CTD|EP|Jansen^Piet',
      obx(1, '2951-2^Sodium', '140'), 'NTE|1||sodium note', obx(2, '2823-3^Potassium', '4.1'), 'FT1|1', 'CTI|S1',
      'SPM|1|SP-1&LIS||SER^Serum^HL70487|||||||||||||20240501080000+0200', 'OBX|3|NM|2345-7^Glucose^LN||5.5|mmol/L|||||F',
      'DSC|1',
    );
    const out = map(raw);
    const [report] = resources<DiagnosticReport>(out.bundle, 'DiagnosticReport');
    expect(resultCodes(raw, report as DiagnosticReport)).toEqual(['2951-2', '2823-3', '2345-7']);
    const obs = resources<Observation>(out.bundle, 'Observation');
    expect(obs[0]?.note).toEqual([{ text: 'sodium note' }]);
    const specimen = resources<Specimen>(out.bundle, 'Specimen')[0] as Specimen;
    expect(resolve<Specimen>(out.bundle, obs[2]?.specimen?.reference)).toBe(specimen);
    expect(out.warnings.filter((w) => /not part of ORU\^R01/.test(w))).toEqual([]);
  });

  it('SPECIMEN repeated: each SPM with its own observations, linked to that specimen', () => {
    const out = map(msg(pid('P1'), obr(1, 'F1', '24326-1^Electrolytes panel^LN'),
      'SPM|1|SP-A&LIS||SER^Serum^HL70487', 'OBX|1|NM|2951-2^Sodium^LN||140|mmol/L|||||F',
      'SPM|2|SP-B&LIS||UR^Urine^HL70487', 'OBX|2|NM|2955-3^Sodium urine^LN||60|mmol/L|||||F'));
    const specimens = resources<Specimen>(out.bundle, 'Specimen');
    expect(specimens.map((s) => s.identifier?.[1]?.value)).toEqual(['LIS/SP-A', 'LIS/SP-B']);
    const obs = resources<Observation>(out.bundle, 'Observation');
    expect(obs.map((o) => resolve<Specimen>(out.bundle, o.specimen?.reference))).toEqual(specimens);
    expect(resources<DiagnosticReport>(out.bundle, 'DiagnosticReport')[0]?.specimen).toHaveLength(2);
  });

  it('PATIENT_RESULT repeated: two patients, even with the same order number, get separate reports', () => {
    const raw = msg(pid('P1'), obr(1, 'F1', '2951-2^Sodium^LN'), obx(1, '2951-2^Sodium', '140'), pid('P2', 'Bakker^Jan'), obr(1, 'F1', '2951-2^Sodium^LN'), obx(1, '2951-2^Sodium', '150'));
    const out = map(raw);
    const patients = resources(out.bundle, 'Patient');
    const reports = resources<DiagnosticReport>(out.bundle, 'DiagnosticReport');
    expect(patients).toHaveLength(2);
    expect(reports).toHaveLength(2);
    expect(reports[0]?.subject?.reference).toBe(entryOf(out.bundle, patients[0]!).fullUrl);
    expect(reports[1]?.subject?.reference).toBe(entryOf(out.bundle, patients[1]!).fullUrl);
    expect(new Set(reports.map((r) => r.identifier?.[0]?.value)).size).toBe(2);
    expect(new Set(resources<Observation>(out.bundle, 'Observation').map((o) => o.identifier?.[0]?.value)).size).toBe(2);
  });

  it('ORDER_OBSERVATION repeated under one filler order number (several panels): one report per panel', () => {
    const raw = msg(pid('P1'),
      'ORC|RE|PL-F1^EPIC|F1^LIS', obr(1, 'F1', '24326-1^Electrolytes panel^LN'), obx(1, '2951-2^Sodium', '140'), obx(2, '2823-3^Potassium', '4.1'),
      'ORC|RE|PL-F1^EPIC|F1^LIS', obr(2, 'F1', '24362-6^Renal function panel^LN'), obx(1, '2160-0^Creatinine', '88'), obx(2, '2823-3^Potassium', '4.1'));
    const reports = reportsOf(raw);
    expect(reports.map((r) => r.identifier?.[0]?.value)).toEqual([`${SCOPE}/filler/LIS/F1/24326-1`, `${SCOPE}/filler/LIS/F1/24362-6`]);
    for (const r of reports) expect(r.identifier).toContainEqual({ system: 'urn:idr:hl7v2:filler-order', value: 'LIS/F1' });
    expect(resultCodes(raw, reports[0]!)).toEqual(['2951-2', '2823-3']);
    expect(resultCodes(raw, reports[1]!)).toEqual(['2160-0', '2823-3']);
    // the potassium of each panel is its own observation
    expect(new Set(resources<Observation>(map(raw).bundle, 'Observation').map((o) => o.identifier?.[0]?.value)).size).toBe(4);
  });

  it('the same order number and the same OBR-4 repeated (newborn screening panels): told apart by position', () => {
    const nbs = '57128-1^Newborn screening panel^LN';
    const raw = msg(pid('P1'), obr(1, 'NBS-7', nbs), obx(1, '29575-8^Phenylalanine', '60'), obr(2, 'NBS-7', nbs), obx(1, '29575-8^Phenylalanine', '58'), obr(3, 'NBS-7', nbs), obx(1, '29573-3^Tyrosine', '70'));
    const out = map(raw);
    const reports = resources<DiagnosticReport>(out.bundle, 'DiagnosticReport');
    const stem = `${SCOPE}/filler/LIS/NBS-7/57128-1`;
    expect(reports.map((r) => r.identifier?.[0]?.value)).toEqual([stem, `${stem}/2`, `${stem}/3`]);
    expect(reports.map((r) => (r.result ?? []).length)).toEqual([1, 1, 1]);
    const values = reports.map((r) => resolve<Observation>(out.bundle, r.result?.[0]?.reference).valueQuantity?.value);
    expect(values).toEqual([60, 58, 70]);
    // the same message again gives the same identities: a resend or a correction updates, never duplicates
    expect(map(raw).bundle.entry?.map((e) => e.request?.url)).toEqual(out.bundle.entry?.map((e) => e.request?.url));
  });

  it('the order number only in ORC-3 (OBR-3 empty), and only a placer number', () => {
    const viaOrc = reportsOf(msg(pid('P1'), 'ORC|RE||F9^LIS', 'OBR|1|||2951-2^Sodium^LN|||20240501080000+0200||||||||||||||||CH|F', obx(1, '2951-2^Sodium', '140')));
    expect(viaOrc[0]?.identifier?.[0]?.value).toBe(`${SCOPE}/filler/LIS/F9/2951-2`);
    const placer = reportsOf(msg(pid('P1'), 'OBR|1|PL-9^EPIC||2951-2^Sodium^LN|||20240501080000+0200||||||||||||||||CH|F', obx(1, '2951-2^Sodium', '140')));
    expect(placer[0]?.identifier?.[0]?.value).toBe(`${SCOPE}/placer/EPIC/PL-9/2951-2`);
  });

  it('observations of the patient before the first OBR (later versions, PATIENT_OBSERVATION) are kept', () => {
    const out = map(msg(pid('P1'), 'OBX|1|NM|8302-2^Body height^LN||170|cm|||||F', 'OBX|2|ED|||^application^pdf^Base64^JVBERi0=', obr(1, 'F1', '2951-2^Sodium^LN'), obx(1, '2951-2^Sodium', '140')));
    const obs = resources<Observation>(out.bundle, 'Observation');
    expect(obs.map((o) => o.code.coding?.[0]?.code)).toEqual(['8302-2', '2951-2']);
    expect(obs[0]?.identifier?.[0]?.value).toBe(`${SCOPE}/message/LIS/CTRL-1/8302-2/`);
    expect(out.warnings).toContain('OBX[2]: observation outside an order group without OBX-3; not mapped');
  });

  it('an order group without a patient is refused, naming the segment', () => {
    expect(() => map(msg(obr(1, 'F1', '2951-2^Sodium^LN'), obx(1, '2951-2^Sodium', '140')))).toThrow(/^OBR\[1\]: OBR before any PID/);
  });

  it('a correction of one panel of a multi-panel order targets that panel\'s report and observations', () => {
    const original = msg(pid('P1'), obr(1, 'F1', '24326-1^Electrolytes panel^LN'), obx(1, '2951-2^Sodium', '140'), obr(2, 'F1', '24362-6^Renal function panel^LN'), obx(1, '2160-0^Creatinine', '88'));
    const correction = msg(pid('P1'), obr(1, 'F1', '24362-6^Renal function panel^LN').replace(/\|F$/, '|C'), obx(1, '2160-0^Creatinine', '80', 'C'));
    const urls = (raw: string, type: string): string[] => (map(raw).bundle.entry ?? []).filter((e) => e.resource?.resourceType === type).map((e) => e.request?.url ?? '');
    expect(urls(original, 'DiagnosticReport')).toContain(urls(correction, 'DiagnosticReport')[0]);
    expect(urls(original, 'Observation')).toContain(urls(correction, 'Observation')[0]);
    const [report] = reportsOf(correction);
    expect(report?.status).toBe('corrected');
  });
});
