/* eslint-disable @typescript-eslint/no-explicit-any -- assertions read GraphQL JSON bodies */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authFetch, fhirFetch, startTestServer, type TestServer } from './support/server.ts';
import { loadDemoData } from '../seed/load-demo.ts';
import { pathologyReports, seedPatients, type PathologyReport, type SeedPatient } from '../seed/hl7v2/index.ts';
import { amsterdamOffsetMinutes, atTime, type WallTime } from '../seed/hl7v2/clock.ts';
import { fromIsoDate } from '../seed/hl7v2/patients.ts';
import { seedStudies } from '../seed/imaging/index.ts';

/**
 * The tumour board's case summary of every demo patient, loaded through the real pipeline, against
 * what the seed put into the pathology reports: receptors, HER2, Ki-67, MSI, grade, histology and
 * topography (ICD-O-3), tumour size, pTNM and the stage group — with each value's report and date
 * in the hospital's time zone. The expected values come from the seed's own patient objects.
 */

let server: TestServer;
const patients = seedPatients();
const ids = new Map<string, string>();
const reportIds = new Map<string, string>();

async function gql<T = any>(query: string, variables: Record<string, unknown> = {}): Promise<{ data: T; errors?: { message: string; extensions?: { code?: string } }[] }> {
  const res = await authFetch(`${server.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify({ query, variables }) });
  return (await res.json()) as { data: T };
}

beforeAll(async () => {
  server = await startTestServer();
  const summary = await loadDemoData(server.services, { patients: patients.length });
  expect(summary.failures).toEqual([]);
  for (const p of patients) {
    const found = await fhirFetch(`${server.fhir}/Patient?identifier=${encodeURIComponent(`http://fhir.nl/fhir/NamingSystem/bsn|${p.bsn}`)}`);
    ids.set(p.key, found.body.entry[0].resource.id);
    for (const r of pathologyReports(p)) {
      const dr = await fhirFetch(`${server.fhir}/DiagnosticReport?identifier=${encodeURIComponent(`urn:idr:hl7v2:filler-order|UMCX_PA/${r.filler}`)}`);
      reportIds.set(r.filler, `DiagnosticReport/${dr.body.entry[0].resource.id}`);
    }
  }
}, 900_000);
afterAll(async () => {
  await server?.close();
});

const SUMMARY = `query ($id: ID!, $units: [LabUnit!]) { patient(id: $id) { caseSummary(labUnits: $units) {
  biomarkers { item conflicting latest { value code interpretation quantity unit date source } values { source interpretation } }
  histology { conflicting latest { code system display source } }
  topography { conflicting latest { code system source } }
  tumourSize { latest { quantity unit source } }
  tnm { prefix t n m stageGroup stageGroupBasis stageGroupNote stagingSystem edition date source current }
  latestImaging { modality date conclusion study { started } }
  keyLabs { code name unit latest { value unit originalValue originalUnit } }
  procedures { display date reference }
} } }`;

/** The instant of a seed wall time as the GraphQL DateTime answers it (Europe/Amsterdam, with offset). */
function inHospitalZone(t: WallTime): string {
  const off = amsterdamOffsetMinutes(t);
  return `${new Date(t).toISOString().slice(0, 19)}.000+${String(Math.floor(off / 60)).padStart(2, '0')}:${String(off % 60).padStart(2, '0')}`;
}

/** AJCC 8th stage groups of the T/N combinations the seed generates (breast: anatomic stage). */
const EXPECTED_STAGE: Record<string, string> = {
  'breast pT1b pN0(sn)': 'IA', 'breast pT1c pN0(sn)': 'IA', 'breast pT1b pN1a(sn)': 'IIA', 'breast pT1c pN1a(sn)': 'IIA',
  'breast pT2 pN0(sn)': 'IIA', 'breast pT2 pN1a(sn)': 'IIB',
  'colorectal pT3 pN1a': 'IIIB', 'colorectal pT3 pN1b': 'IIIB', 'colorectal pT4a pN1a': 'IIIB', 'colorectal pT4a pN1b': 'IIIB',
};

const summaries = new Map<string, any>();
async function summaryOf(p: SeedPatient): Promise<any> {
  if (!summaries.has(p.key)) {
    const r = await gql(SUMMARY, { id: ids.get(p.key), units: [{ code: '718-7', unit: 'g/dL' }, { code: '2160-0', unit: 'mg/dL' }] });
    expect(r.errors).toBeUndefined();
    summaries.set(p.key, r.data.patient.caseSummary);
  }
  return summaries.get(p.key);
}

describe.each(patients.map((p) => [p.key, p.cancer, p] as const))('case summary of %s (%s cancer)', (_key, _cancer, p) => {
  const [biopsy, resection] = pathologyReports(p) as [PathologyReport, PathologyReport];
  const from = (r: PathologyReport): { source: string; date: string } => ({ source: reportIds.get(r.filler) as string, date: inHospitalZone(r.collectedAt) });
  const marker = (s: any, item: string): any => s.biomarkers.find((b: { item: string }) => b.item === item);

  it('has the receptors, HER2, Ki-67 and MSI of the biopsy, with its date and reference', async () => {
    const s = await summaryOf(p);
    const t = p.tumour;
    if (t.kind === 'breast') {
      expect(s.biomarkers.map((b: { item: string }) => b.item)).toEqual(['ER', 'PR', 'HER2 IHC', 'HER2', 'Ki-67', 'grade']);
      expect(marker(s, 'ER').latest).toMatchObject({ interpretation: t.erPercent > 0 ? 'positive' : 'negative', ...from(biopsy) });
      expect(marker(s, 'PR').latest).toMatchObject({ interpretation: t.prPercent > 0 ? 'positive' : 'negative', ...from(biopsy) });
      expect(marker(s, 'HER2 IHC').latest).toMatchObject({ code: t.her2Ihc, interpretation: t.her2Ihc, ...from(biopsy) });
      expect(marker(s, 'HER2').latest).toMatchObject({ interpretation: t.her2Ihc === '3+' ? 'positive' : 'negative', ...from(biopsy) });
      expect(marker(s, 'Ki-67').latest).toMatchObject({ quantity: t.ki67Percent, unit: '%', ...from(biopsy) });
      // both reports state the grade, alike: the resection's, no conflict, both listed
      expect(marker(s, 'grade')).toMatchObject({ conflicting: false, latest: { interpretation: `grade ${t.grade}`, ...from(resection) } });
      expect(marker(s, 'grade').values.map((v: { source: string }) => v.source)).toEqual([from(resection).source, from(biopsy).source]);
    } else {
      expect(s.biomarkers.map((b: { item: string }) => b.item)).toEqual(['MSI']);
      expect(marker(s, 'MSI').latest).toMatchObject({ code: t.microsatelliteStable ? 'MSS' : 'MSI-H', interpretation: t.microsatelliteStable ? 'MSS' : 'MSI-H', ...from(biopsy) });
    }
    for (const b of s.biomarkers) expect(b.conflicting, b.item).toBe(false);
  });

  it('has histology and topography in ICD-O-3, and the tumour size of the resection', async () => {
    const s = await summaryOf(p);
    const icdo3 = 'http://terminology.hl7.org/CodeSystem/icd-o-3';
    expect(s.histology).toMatchObject({ conflicting: false, latest: { code: p.cancer === 'breast' ? '8500/3' : '8140/3', system: icdo3, source: from(resection).source } });
    expect(s.topography).toMatchObject({ conflicting: false, latest: { code: p.tumour.topography.code, system: icdo3, source: from(resection).source } });
    expect(s.tumourSize.latest).toEqual({ quantity: p.tumour.sizeMm, unit: 'mm', source: from(resection).source });
  });

  it('has the pTNM of the resection with the edition it states and the AJCC 8th stage group', async () => {
    const s = await summaryOf(p);
    const expected = EXPECTED_STAGE[`${p.cancer} ${p.tumour.pT} ${p.tumour.pN}`];
    expect(expected).toBeDefined();
    expect(s.tnm).toEqual([{
      prefix: 'p', t: p.tumour.pT, n: p.tumour.pN, m: 'cM0', stageGroup: expected, stageGroupBasis: 'derived', stageGroupNote: null,
      stagingSystem: p.cancer === 'breast' ? 'AJCC 8th edition, anatomic stage group (breast)' : 'AJCC 8th edition, stage group (colon and rectum)',
      edition: '8', current: true, ...from(resection),
    }]);
  });

  it('has the latest study per modality and the key labs in the units asked for', async () => {
    const s = await summaryOf(p);
    const modalities = [...new Set(seedStudies(p).map((x) => x.modality))].sort();
    expect(s.latestImaging.map((i: { modality: string }) => i.modality).sort()).toEqual(modalities);
    for (const i of s.latestImaging) expect(i.date).toBe(i.study.started);
    const hb = s.keyLabs.find((l: { name: string }) => l.name === 'Hb');
    expect(hb).toMatchObject({ unit: 'g/dL', latest: { unit: 'g/dL', originalUnit: 'mmol/L' } });
    expect(hb.latest.value).toBeCloseTo(hb.latest.originalValue * 1.61145, 2);
    const creat = s.keyLabs.find((l: { name: string }) => l.name === 'Creat');
    expect(creat).toMatchObject({ unit: 'mg/dL', latest: { unit: 'mg/dL', originalUnit: 'umol/L' } });
    expect(creat.latest.value).toBeCloseTo(creat.latest.originalValue / 88.42, 2);
  });
});

describe('case summary: conflicts, procedures, input', () => {
  const p = patients.find((x) => x.cancer === 'breast') as SeedPatient;

  it('shows both values where a later report states a different receptor status, and a recorded surgery', async () => {
    const id = ids.get(p.key) as string;
    const subject = { reference: `Patient/${id}` };
    const t = p.tumour.kind === 'breast' ? p.tumour : undefined;
    const surgery = inHospitalZone(atTime(fromIsoDate(p.pathway.surgery), 9, 30));
    const flipped = t && t.erPercent > 0 ? ['LA6577-6', 'Negative'] : ['LA6576-8', 'Positive'];
    const obs = await fhirFetch(`${server.fhir}/Observation`, { method: 'POST', json: { resourceType: 'Observation', status: 'final', subject, code: { coding: [{ system: 'http://loinc.org', code: '16112-5' }] }, effectiveDateTime: '2025-12-01T10:00:00+01:00', valueCodeableConcept: { coding: [{ system: 'http://loinc.org', code: flipped[0], display: flipped[1] }] } } });
    const dr = await fhirFetch(`${server.fhir}/DiagnosticReport`, { method: 'POST', json: { resourceType: 'DiagnosticReport', status: 'final', subject, category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'SP' }] }], code: { coding: [{ system: 'http://loinc.org', code: '60567-5' }] }, effectiveDateTime: '2025-12-01T10:00:00+01:00', result: [{ reference: `Observation/${obs.body.id}` }] } });
    expect(dr.status).toBe(201);
    const proc = await fhirFetch(`${server.fhir}/Procedure`, { method: 'POST', json: { resourceType: 'Procedure', status: 'completed', subject, code: { coding: [{ system: 'http://snomed.info/sct', code: '392021009', display: 'Lumpectomy of breast' }] }, performedDateTime: surgery } });
    const r = await gql(`query ($id: ID!) { patient(id: $id) { caseSummary { biomarkers { item conflicting latest { interpretation source } values { interpretation source } } procedures { display date reference } } } }`, { id });
    expect(r.errors).toBeUndefined();
    const er = r.data.patient.caseSummary.biomarkers.find((b: { item: string }) => b.item === 'ER');
    const [biopsy] = pathologyReports(p) as [PathologyReport];
    expect(er).toEqual({
      item: 'ER', conflicting: true,
      latest: { interpretation: flipped[1]?.toLowerCase(), source: `DiagnosticReport/${dr.body.id}` },
      values: [{ interpretation: flipped[1]?.toLowerCase(), source: `DiagnosticReport/${dr.body.id}` }, { interpretation: t && t.erPercent > 0 ? 'positive' : 'negative', source: reportIds.get(biopsy.filler) }],
    });
    expect(r.data.patient.caseSummary.procedures).toEqual([{ display: 'Lumpectomy of breast', date: surgery, reference: `Procedure/${proc.body.id}` }]);
  });

  it('adds a clinical staging recorded as Observations outside any report, after the pathological one', async () => {
    const id = ids.get(p.key) as string;
    const posted: string[] = [];
    for (const [code, value] of [['21905-5', 'cT2'], ['21906-3', 'cN0'], ['21907-1', 'cM0']] as const) {
      const o = await fhirFetch(`${server.fhir}/Observation`, { method: 'POST', json: { resourceType: 'Observation', status: 'final', subject: { reference: `Patient/${id}` }, code: { coding: [{ system: 'http://loinc.org', code }] }, effectiveDateTime: '2025-01-10T14:00:00+01:00', method: { text: 'AJCC 8th edition' }, valueCodeableConcept: { coding: [{ system: 'http://cancerstaging.org', code: value }] } } });
      posted.push(`Observation/${o.body.id}`);
    }
    const r = await gql(`query ($id: ID!) { patient(id: $id) { caseSummary { tnm { prefix t n m stageGroup stageGroupBasis edition date source report { id } current } } } }`, { id });
    expect(r.errors).toBeUndefined();
    const [pathological, clinical] = r.data.patient.caseSummary.tnm;
    expect(pathological).toMatchObject({ prefix: 'p', t: p.tumour.pT, current: true });
    expect(clinical).toEqual({ prefix: 'c', t: 'cT2', n: 'cN0', m: 'cM0', stageGroup: 'IIA', stageGroupBasis: 'derived', edition: '8', date: '2025-01-10T14:00:00.000+01:00', source: expect.any(String), report: null, current: true });
    expect(posted).toContain(clinical.source);
  });

  it('refuses a lab unit without a code', async () => {
    const r = await gql(`query ($id: ID!) { patient(id: $id) { caseSummary(labUnits: [{ code: " ", unit: "g/dL" }]) { since } } }`, { id: ids.get(p.key) });
    expect(r.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});
