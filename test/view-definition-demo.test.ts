import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authFetch, startTestServer, type TestServer } from './support/server.ts';
import { loadDemoData } from '../seed/load-demo.ts';

/**
 * IDR's ready-made ViewDefinitions (fhir/views/) on the demo data, loaded through the real
 * pipeline: each view answers rows of the shape its columns promise, joinable on patient_id.
 */

let server: TestServer;
type Row = Record<string, string | number | boolean | null>;
const rows: Record<string, Row[]> = {};

beforeAll(async () => {
  server = await startTestServer();
  const summary = await loadDemoData(server.services);
  expect(summary.failed).toBe(0);
  for (const name of ['patients', 'conditions', 'pathology-diagnoses', 'pathology-biomarkers', 'lab-results', 'imaging-studies', 'documents']) {
    const res = await authFetch(`${server.fhir}/ViewDefinition/${name}/$run?_format=ndjson`);
    expect(res.status, name).toBe(200);
    const text = await res.text();
    rows[name] = text ? text.trim().split('\n').map((l) => JSON.parse(l) as Row) : [];
  }
}, 600_000);
afterAll(async () => {
  await server?.close();
});

const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

describe('ready-made views on the demo data', () => {
  it('patients: one row per demo patient with sex and birth date', () => {
    const patients = rows.patients ?? [];
    expect(patients.length).toBeGreaterThanOrEqual(2);
    for (const p of patients) {
      expect(p.patient_id).toMatch(/^[A-Za-z0-9\-.]+$/);
      expect(['female', 'male', 'other', 'unknown']).toContain(p.gender);
      expect(p.birth_date).toMatch(/^\d{4}(-\d{2}(-\d{2})?)?$/);
    }
    expect(new Set(patients.map((p) => p.patient_id)).size).toBe(patients.length);
  });

  it('pathology-diagnoses: ICD-O-3 morphology and topography of each pathology report, for a known patient', () => {
    const dx = rows['pathology-diagnoses'] ?? [];
    const patients = new Set((rows.patients ?? []).map((p) => p.patient_id));
    expect(dx.length).toBeGreaterThan(0);
    for (const d of dx) {
      expect(patients.has(d.patient_id)).toBe(true);
      expect(d.morphology_code).toMatch(/^\d{4}\/\d$/);
      expect(d.behaviour).toBe(String(d.morphology_code).slice(5));
      expect(d.topography_code).toMatch(/^C\d{2}(\.\d)?$/);
      expect(d.diagnosis_date).toMatch(ISO_DATE_TIME);
    }
    expect(dx.map((d) => d.topography_code)).toEqual(expect.arrayContaining([expect.stringMatching(/^C50/), expect.stringMatching(/^C18/)]));
  });

  it('pathology-biomarkers: receptor status, HER2, Ki-67 as coded values or numbers with units', () => {
    const markers = rows['pathology-biomarkers'] ?? [];
    const byCode = (code: string): Row[] => markers.filter((m) => m.loinc_code === code);
    expect(byCode('16112-5').map((m) => m.value_text)).toContain('Positive'); // ER
    expect(byCode('48676-1').length).toBeGreaterThan(0); // HER2
    const ki67 = byCode('29593-1');
    expect(ki67.length).toBeGreaterThan(0);
    for (const k of ki67) {
      expect(typeof k.value_number).toBe('number');
      expect(k.unit).toBe('%');
    }
    for (const m of markers) expect(m.effective).toMatch(ISO_DATE_TIME);
  });

  it('lab-results: LOINC-coded numeric results with UCUM units and times, no pathology findings among them', () => {
    const labs = rows['lab-results'] ?? [];
    expect(labs.length).toBeGreaterThan(50);
    const markerIds = new Set((rows['pathology-biomarkers'] ?? []).map((m) => m.observation_id));
    for (const l of labs) {
      expect(l.loinc_code).toMatch(/^\d{1,5}-\d$/);
      expect(l.effective).toMatch(ISO_DATE_TIME);
      expect(markerIds.has(l.observation_id)).toBe(false);
    }
    const numeric = labs.filter((l) => typeof l.value === 'number');
    expect(numeric.length / labs.length).toBeGreaterThan(0.9);
    expect(numeric.every((l) => typeof l.unit === 'string' && l.unit.length > 0)).toBe(true);
  });

  it('imaging-studies: modality, start and Study Instance UID', () => {
    const studies = rows['imaging-studies'] ?? [];
    expect(studies.length).toBeGreaterThan(0);
    for (const s of studies) {
      expect(s.modality).toMatch(/^[A-Z]{2}( [A-Z]{2})*$/);
      expect(s.study_uid).toMatch(/^\d+(\.\d+)+$/);
      expect(s.started).toMatch(ISO_DATE_TIME);
    }
    expect(studies.map((s) => s.modality)).toEqual(expect.arrayContaining(['CT', 'MR', 'MG']));
  });

  it('documents: LOINC type, date and content type of the original', () => {
    const docs = rows.documents ?? [];
    expect(docs.length).toBeGreaterThan(0);
    for (const d of docs) {
      expect(d.type_code).toMatch(/^\d{1,5}-\d$/);
      expect(d.date).toMatch(/^\d{4}-\d{2}-\d{2}/);
      expect(d.content_type).toMatch(/^[a-z]+\/[a-z0-9.+-]+/);
    }
    expect(docs.map((d) => d.content_type)).toContain('application/pdf');
  });

  it('conditions: runs (the demo record has its diagnoses in pathology reports, not as Conditions)', () => {
    expect(rows.conditions).toEqual([]);
  });
});
