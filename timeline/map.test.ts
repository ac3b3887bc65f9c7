import { describe, expect, it } from 'vitest';
import type { DiagnosticReport, Observation, Provenance, Resource } from '@medplum/fhirtypes';
import { buildTimelineEvents, compareEvents } from './map.ts';
import { encodeCursor, decodeCursor, isAfterCursor } from './query.ts';
import { buildTrend, convertUcum } from './lab-trend.ts';

const subject = { reference: 'Patient/p1' };
const obs = (id: string, code: string, value: number, unit: string, flag?: string, extra: Partial<Observation> = {}): Observation => ({
  resourceType: 'Observation', id, status: 'final', subject, code: { coding: [{ system: 'http://loinc.org', code }] }, effectiveDateTime: '2024-03-15T09:00:00+01:00',
  valueQuantity: { value, unit, code: unit, system: 'http://unitsofmeasure.org' }, ...(flag ? { interpretation: [{ coding: [{ code: flag }] }] } : {}), ...extra,
});
const report = (id: string, results: string[], extra: Partial<DiagnosticReport> = {}): DiagnosticReport => ({
  resourceType: 'DiagnosticReport', id, status: 'final', subject, code: { text: 'Full blood count' }, effectiveDateTime: '2024-03-15T08:30:00+01:00',
  category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'LAB' }] }], result: results.map((r) => ({ reference: `Observation/${r}` })), ...extra,
});

describe('buildTimelineEvents', () => {
  const hb = obs('hb', '718-7', 6.2, 'mmol/L', 'L');
  const wbc = obs('wbc', '6690-2', 3.1, '10*9/L', 'L');
  const plt = obs('plt', '777-3', 245, '10*9/L', 'N');

  it('folds a report\'s results into one lab event with a one-line summary', () => {
    const [e, ...rest] = buildTimelineEvents([hb, wbc, plt, report('r1', ['hb', 'wbc', 'plt'])]);
    expect(rest).toEqual([]);
    expect(e).toMatchObject({ anchor: 'DiagnosticReport/r1', lane: 'lab', title: 'Full blood count', summary: 'Hb 6.2 mmol/L (L), WBC 3.1 10*9/L (L), PLT 245 10*9/L', abnormal: true, status: 'final' });
    expect(e?.refs).toEqual(['DiagnosticReport/r1', 'Observation/hb', 'Observation/wbc', 'Observation/plt']);
    expect(e?.codes).toContain('718-7');
    expect(e?.time.toISOString()).toBe('2024-03-15T07:30:00.000Z');
  });

  it('computes a flag from the reference range when none was sent', () => {
    const [e] = buildTimelineEvents([obs('x', '2039-6', 7, 'ug/L', undefined, { referenceRange: [{ high: { value: 5 } }] })]);
    expect(e?.summary).toBe('CEA 7 ug/L (H)');
    expect(e?.abnormal).toBe(true);
  });

  it('marks a report corrected when a result was corrected and drops entered-in-error results and reports', () => {
    const [e] = buildTimelineEvents([{ ...hb, status: 'corrected' }, { ...wbc, status: 'entered-in-error' }, report('r1', ['hb', 'wbc'])]);
    expect(e).toMatchObject({ status: 'corrected', summary: 'Hb 6.2 mmol/L (L)' });
    expect(buildTimelineEvents([hb, report('r1', ['hb'], { status: 'entered-in-error' })])).toEqual([]);
  });

  it('summarises a pathology report with diagnosis, grade, receptors, Ki-67 and TNM', () => {
    const cc = (code: string, text: string, system = 'http://loinc.org') => ({ coding: [{ system, code }], text });
    const results: Observation[] = [
      { resourceType: 'Observation', id: 'g', status: 'final', code: cc('44648-4', 'Nottingham grade'), valueCodeableConcept: { text: 'Grade 2' } },
      { resourceType: 'Observation', id: 'er', status: 'final', code: cc('16112-5', 'ER'), valueCodeableConcept: { text: 'Positive' } },
      { resourceType: 'Observation', id: 'her2', status: 'final', code: cc('48676-1', 'HER2'), valueCodeableConcept: { text: 'Negative' } },
      { resourceType: 'Observation', id: 'ki', status: 'final', code: cc('29593-1', 'Ki-67'), valueQuantity: { value: 20, unit: '%' } },
      { resourceType: 'Observation', id: 't', status: 'final', code: cc('21899-0', 'pT'), valueCodeableConcept: { text: 'pT1c' } },
      { resourceType: 'Observation', id: 'n', status: 'final', code: cc('21900-6', 'pN'), valueCodeableConcept: { text: 'pN0' } },
    ];
    const dr = report('p1', results.map((r) => r.id as string), {
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'PAT' }] }], code: { text: 'Breast biopsy' },
      conclusionCode: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/icd-o-3', code: '8500/3' }], text: 'Invasive carcinoma NST' }],
    });
    const [e] = buildTimelineEvents([...results, dr]);
    expect(e).toMatchObject({ lane: 'pathology', abnormal: true, summary: 'Invasive carcinoma NST; Grade 2; ER Positive, HER2 Negative; Ki-67 20 %; pT1c pN0' });
  });

  it('folds a linked radiology report into the imaging study event; an unlinked one stands alone', () => {
    const study: Resource = { resourceType: 'ImagingStudy', id: 's1', status: 'available', subject, started: '2024-03-10', series: [{ uid: '1.2', modality: { code: 'CT' } }], description: 'CT thorax' };
    const rad = report('rad', [], { category: [{ coding: [{ code: 'RAD' }] }], imagingStudy: [{ reference: 'ImagingStudy/s1' }], conclusion: 'No metastases.' });
    const events = buildTimelineEvents([study, rad]);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ anchor: 'ImagingStudy/s1', lane: 'imaging', title: 'CT CT thorax', summary: 'report: No metastases.' });
    expect(buildTimelineEvents([rad])[0]).toMatchObject({ anchor: 'DiagnosticReport/rad', lane: 'imaging', summary: 'No metastases.' });
  });

  it('takes the source from the latest Provenance naming one of the event\'s resources', () => {
    const prov = (id: string, recorded: string, inbox: string): Provenance => ({ resourceType: 'Provenance', id, recorded, agent: [{ who: { display: 'IDR' } }], target: [{ reference: 'Observation/hb' }], activity: { text: 'lab' }, entity: [{ role: 'source', what: { identifier: { value: inbox } } }] });
    const [e] = buildTimelineEvents([hb, report('r1', ['hb'])], [prov('a', '2024-01-01T00:00:00Z', 'in-1'), prov('b', '2024-02-01T00:00:00Z', 'in-2')]);
    expect(e?.source).toMatchObject({ activity: 'lab', inboxId: 'in-2', provenance: 'Provenance/b' });
  });

  it('maps letters, diagnoses, treatments and encounters to their lanes', () => {
    const events = buildTimelineEvents([
      { resourceType: 'DocumentReference', id: 'd', status: 'current', date: '2024-01-01', type: { text: 'Referral letter' }, content: [{ attachment: {} }] },
      { resourceType: 'Condition', id: 'c', subject, code: { text: 'Breast cancer' }, onsetDateTime: '2024-01-02' },
      { resourceType: 'Procedure', id: 'pr', status: 'completed', subject, code: { text: 'Lumpectomy' }, performedDateTime: '2024-01-03' },
      { resourceType: 'MedicationAdministration', id: 'm', status: 'completed', subject, medicationCodeableConcept: { text: 'Paclitaxel' }, effectiveDateTime: '2024-01-04' },
      { resourceType: 'Encounter', id: 'en', status: 'finished', class: { code: 'AMB' }, subject, period: { start: '2024-01-05' } },
      { resourceType: 'Specimen', id: 'sp', subject },
    ]).sort(compareEvents);
    expect(events.map((e) => [e.lane, e.title])).toEqual([['encounter', 'AMB'], ['treatment', 'Paclitaxel'], ['treatment', 'Lumpectomy'], ['diagnosis', 'Breast cancer'], ['document', 'Referral letter']]);
  });
});

describe('cursors and trends', () => {
  it('round-trips a cursor and orders by (time, anchor) descending', () => {
    const e = { time: new Date('2024-01-01T00:00:00Z'), anchor: 'Observation/b' };
    const c = decodeCursor(encodeCursor(e));
    expect(c).toEqual(e);
    expect(isAfterCursor({ time: e.time, anchor: 'Observation/a' }, c)).toBe(true);
    expect(isAfterCursor({ time: e.time, anchor: 'Observation/c' }, c)).toBe(false);
    expect(() => decodeCursor('bogus')).toThrow(/cursor/);
  });

  it('converts units where UCUM allows and leaves the rest unconverted', () => {
    expect(convertUcum(88, 'umol/L', 'mmol/L')).toBe(0.088);
    expect(convertUcum(12, 'g/dL', 'g/L')).toBe(120);
    expect(convertUcum(7, 'mmol/L', 'g/dL')).toBeNull();
    const t = buildTrend([obs('a', '2160-0', 88, 'umol/L'), obs('b', '2160-0', 0.1, 'mmol/L', 'H', { effectiveDateTime: '2024-04-01' })], { codes: ['2160-0'] });
    expect(t.unit).toBe('mmol/L');
    expect(t.points.map((p) => p.value)).toEqual([0.088, 0.1]);
  });
});
