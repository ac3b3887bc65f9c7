import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImagingStudy, Observation, Patient, Resource } from '@medplum/fhirtypes';
import { fhirFetch, startTestServer, type TestServer } from './support/server.ts';
import { userToken } from './support/auth.ts';
import { loadDemoData } from '../seed/load-demo.ts';
import { resourceOf } from '../schema/collections.ts';
import { Deidentifier, findDirectIdentifiers, patientFacts, PSEUDONYM_SYSTEM, shiftDate, type PatientFacts } from '../fhir/deidentify.ts';

/**
 * De-identification on the demo data (four patients, their lab results, pathology reports, studies
 * and letters — with names, BSNs, addresses and birth dates in the letters' text): the checker
 * finds every direct identifier in the record as stored, and none after de-identification.
 */

let server: TestServer;
const byPatient = new Map<string, Resource[]>();
const patients: Patient[] = [];
const key = Buffer.from('0123456789abcdef0123456789abcdef');
const NOW = new Date('2026-11-29T12:00:00Z');

beforeAll(async () => {
  server = await startTestServer();
  await loadDemoData(server.services);
  for await (const doc of server.services.database.c.resources.find({ deleted: false, rt: { $ne: 'AuditEvent' } })) {
    const res = resourceOf(doc);
    if (!res) continue;
    if (res.resourceType === 'Patient') patients.push(res as Patient);
    for (const p of doc.patients ?? []) byPatient.set(p, [...(byPatient.get(p) ?? []), res]);
    if (res.resourceType === 'Patient' && res.id) byPatient.set(res.id, [...(byPatient.get(res.id) ?? []), res]);
  }
}, 300_000);
afterAll(async () => {
  await server?.close();
});

function exportOf(d: Deidentifier, facts: PatientFacts[]): string {
  const lines: string[] = [];
  for (const f of facts) for (const r of byPatient.get(f.id) ?? []) lines.push(JSON.stringify(d.deidentify(r, f)));
  return lines.join('\n');
}

describe('de-identification of the demo record', () => {
  it('the checker finds the patients’ direct identifiers in the record as stored (it can fail)', () => {
    const facts = patients.map(patientFacts);
    expect(patients).toHaveLength(4);
    const raw = [...byPatient.values()].flat().map((r) => JSON.stringify(r)).join('\n');
    const hits = findDirectIdentifiers(raw, facts);
    for (const p of facts) expect(hits.filter((h) => h.patient === p.id).length, p.id).toBeGreaterThan(3);
  });

  it('leaves no direct identifier in a de-identified export of every resource of every patient', () => {
    const facts = patients.map(patientFacts);
    const text = exportOf(new Deidentifier(key, undefined, NOW), facts);
    expect(text.length).toBeGreaterThan(100_000);
    expect(findDirectIdentifiers(text, facts)).toEqual([]);
  });

  it('keeps the record usable: consistent pseudonyms, intervals kept, codes and values kept, DICOM UIDs remapped', () => {
    const d = new Deidentifier(key, undefined, NOW);
    const p = patients[0] as Patient;
    const f = patientFacts(p);
    const dp = d.deidentify(p, f) as Patient;
    expect(dp.id).toBe(d.pseudonym('Patient', p.id as string));
    expect(dp.name).toBeUndefined();
    expect(dp.identifier?.every((i) => i.system === PSEUDONYM_SYSTEM)).toBe(true);
    const obs = (byPatient.get(p.id as string) ?? []).filter((r): r is Observation => r.resourceType === 'Observation' && !!r.valueQuantity && !!r.effectiveDateTime).slice(0, 2);
    expect(obs).toHaveLength(2);
    const [a, b] = obs.map((o) => d.deidentify(o, f) as Observation);
    expect(a?.subject?.reference).toBe(`Patient/${dp.id}`);
    expect(a?.valueQuantity).toEqual(obs[0]?.valueQuantity);
    expect(a?.code).toEqual(obs[0]?.code);
    const interval = (x?: string, y?: string): number => Date.parse(x ?? '') - Date.parse(y ?? '');
    expect(interval(a?.effectiveDateTime, b?.effectiveDateTime)).toBe(interval(obs[0]?.effectiveDateTime, obs[1]?.effectiveDateTime));
    expect(a?.effectiveDateTime).not.toBe(obs[0]?.effectiveDateTime);
    // The same key gives the same pseudonyms in another export (cohorts can be extended); another key does not.
    expect(new Deidentifier(key, undefined, NOW).deidentify(p, f).id).toBe(dp.id);
    expect(new Deidentifier(Buffer.from('another key of sixteen+ bytes'), undefined, NOW).deidentify(p, f).id).not.toBe(dp.id);
    const study = [...byPatient.values()].flat().find((r): r is ImagingStudy => r.resourceType === 'ImagingStudy');
    expect(study).toBeDefined();
    const ds = d.deidentify(study as ImagingStudy, f) as ImagingStudy;
    const uid = (study as ImagingStudy).series?.[0]?.uid as string;
    expect(ds.series?.[0]?.uid).toBe(d.dicomUid(uid));
    expect(ds.series?.[0]?.uid).toMatch(/^2\.25\.\d+$/);
    expect(JSON.stringify(ds)).not.toContain(uid);
  });

  it('pseudonyms are one word of 32 hex digits: no name, house number or postcode can be read inside one', () => {
    // Base64url pseudonyms with dashes spelt "…-89b-…" (a house number) about once in 300 exports.
    const d = new Deidentifier(key, undefined, NOW);
    const values = Array.from({ length: 5000 }, (_, i) => d.pseudonym('Observation', `obs-${i}`));
    for (const v of values) expect(v).toMatch(/^[0-9a-f]{32}$/);
    expect(new Set(values).size).toBe(values.length);
    expect(findDirectIdentifiers(values.join('\n'), patients.map(patientFacts))).toEqual([]);
  });

  it('caps ages over 89 and shifts dates keeping their precision', () => {
    const d = new Deidentifier(key, undefined, NOW);
    const old: Patient = { resourceType: 'Patient', id: 'old', birthDate: '1925-03-04', gender: 'female' };
    expect((d.deidentify(old, patientFacts(old)) as Patient).birthDate).toBe('1936');
    expect(shiftDate('2025-03-17', 10)).toBe('2025-03-27');
    expect(shiftDate('2025-03', 40)).toBe('2025-04');
    expect(shiftDate('2025-03-17T23:30:00+01:00', -1)).toBe('2025-03-16T23:30:00+01:00');
  });

  it('a data scientist exports a cohort de-identified (Group/{id}/$export?deidentify=true) through the async pattern; the checker finds no direct identifier', async () => {
    const scientist = { authorization: `Bearer ${await userToken(server.url, 'scientist', 'openid user/Group.cruds')}` };
    const kickOff = { prefer: 'respond-async', accept: 'application/fhir+json', ...scientist };
    // Identified data is not theirs to export…
    const plain = await fhirFetch(`${server.fhir}/Group/tumour-board-breast/$export?_type=Observation`, { headers: kickOff });
    expect(plain.status).toBe(403);
    // …the cohort de-identified is.
    const started = await fhirFetch(`${server.fhir}/Group/tumour-board-breast/$export?deidentify=true`, { headers: kickOff });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const statusUrl = started.headers.get('content-location') as string;
    let manifest: { output: { type: string; url: string; count: number }[] } | undefined;
    for (let i = 0; i < 800 && !manifest; i++) {
      const r = await fhirFetch(statusUrl, { headers: scientist });
      if (r.status === 200) manifest = r.body;
      else if (r.status === 202) await new Promise((res) => setTimeout(res, 200));
      else throw new Error(`the export failed: ${r.status} ${JSON.stringify(r.body)}`);
    }
    expect(manifest?.output.map((o) => o.type)).toEqual(expect.arrayContaining(['Patient', 'Observation', 'DiagnosticReport']));
    let text = '';
    for (const o of manifest?.output ?? []) {
      const file = await fetch(o.url, { headers: scientist });
      expect(file.status, o.url).toBe(200);
      const body = await file.text();
      expect(body.trim().split('\n'), o.type).toHaveLength(o.count);
      text += body.endsWith('\n') ? body : `${body}\n`;
    }
    // Every demo patient's identifiers are looked for, the two exported and the two not.
    const facts = patients.map(patientFacts);
    expect(text.split('\n').filter(Boolean).length).toBeGreaterThan(50);
    expect(findDirectIdentifiers(text, facts)).toEqual([]);
    const exportedPatients = text.split('\n').filter((l) => l.includes('"resourceType":"Patient"'));
    expect(exportedPatients).toHaveLength(2);
  }, 180_000);

  it('a data scientist runs a ready-made view over the cohort de-identified (ViewDefinition/{name}/$run?group=…&deidentify=true)', async () => {
    const scientist = { authorization: `Bearer ${await userToken(server.url, 'scientist', 'openid user/Group.cruds')}` };
    // Identified rows are not theirs…
    expect((await fetch(`${server.fhir}/ViewDefinition/lab-results/$run?group=Group/tumour-board-breast&_format=csv`, { headers: scientist })).status).toBe(403);
    // …de-identified ones are.
    const facts = patients.map(patientFacts);
    for (const view of ['patients', 'lab-results', 'pathology-biomarkers', 'documents']) {
      const res = await fetch(`${server.fhir}/ViewDefinition/${view}/$run?group=Group/tumour-board-breast&deidentify=true&_format=csv`, { headers: scientist });
      expect(res.status, view).toBe(200);
      const csv = await res.text();
      expect(csv.trim().split('\n').length, view).toBeGreaterThan(1);
      expect(findDirectIdentifiers(csv, facts), view).toEqual([]);
      for (const p of patients) expect(csv, view).not.toContain(p.id as string);
    }
    expect((await fetch(`${server.fhir}/ViewDefinition/patients/$run?deidentify=true`, { headers: scientist })).status).toBe(400);
  }, 120_000);
});
