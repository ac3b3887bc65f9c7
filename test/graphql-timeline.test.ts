/* eslint-disable @typescript-eslint/no-explicit-any -- assertions read GraphQL and FHIR JSON bodies */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authFetch, fhirFetch, startTestServer, type TestServer } from './support/server.ts';

/** The timeline over GraphQL (plain fetch POSTs of GraphQL documents) with data ingested through the real pipeline. */

let server: TestServer;
let patientId: string;
const fixture = (name: string): Buffer => readFileSync(path.join(import.meta.dirname, 'fixtures', 'hl7v2', name));

async function gql<T = any>(query: string, variables: Record<string, unknown> = {}): Promise<{ data: T; errors?: { message: string; extensions?: { code?: string } }[]; status: number }> {
  const res = await authFetch(`${server.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify({ query, variables }) });
  return { ...((await res.json()) as { data: T; errors?: [] }), status: res.status };
}

const TIMELINE = /* GraphQL */ `
  query ($id: ID!, $first: Int, $after: String, $lanes: [Lane!], $codes: [String!], $text: String, $from: DateTime, $to: DateTime) {
    patient(id: $id) {
      timeline(first: $first, after: $after, lanes: $lanes, codes: $codes, text: $text, from: $from, to: $to) {
        totalCount
        pageInfo { hasNextPage endCursor }
        edges { cursor node { id time lane title summary abnormal status references source { activity inboxId } resource } }
      }
    }
  }`;

type Edge = { cursor: string; node: { id: string; time: string; lane: string; title: string; summary: string; abnormal: boolean; status: string; references: string[]; source: { activity: string; inboxId: string } | null; resource: any } };
async function timeline(vars: Record<string, unknown> = {}): Promise<{ totalCount: number; pageInfo: { hasNextPage: boolean; endCursor: string }; edges: Edge[] }> {
  const r = await gql(TIMELINE, { id: patientId, first: 50, ...vars });
  expect(r.errors).toBeUndefined();
  return r.data.patient.timeline;
}

async function ingest(text: string): Promise<void> {
  const r = await server.services.pipeline.ingest({ bytes: Buffer.from(text.replace(/\n/g, '\r'), 'utf8'), kind: 'hl7v2', source: 'test' });
  expect(r.status, JSON.stringify(r.error)).toBe('processed');
}

const MSH = (id: string, at: string): string => `MSH|^~\\&|GLIMS|AMC-LAB|IDR|AMC|${at}||ORU^R01^ORU_R01|${id}|P|2.5.1\nPID|1||MRN0042^^^AMC&&L^MR||de Vries^Anna||19680412|F`;

beforeAll(async () => {
  server = await startTestServer();
  for (const f of ['lab-breast-fbc-tumour-markers.hl7', 'pathology-breast-biopsy.hl7']) {
    const r = await server.services.pipeline.ingest({ bytes: fixture(f), kind: 'hl7v2', source: 'test' });
    expect(r.status, JSON.stringify(r.error)).toBe('processed');
  }
  const found = await fhirFetch(`${server.fhir}/Patient?identifier=MRN0042`);
  patientId = found.body.entry[0].resource.id;
});
afterAll(async () => {
  await server?.close();
});

describe('timeline from HL7 v2 lab and pathology', () => {
  it('has one event per report, newest first, with summaries, flags and the source', async () => {
    const t = await timeline();
    expect(t.totalCount).toBe(4);
    const times = t.edges.map((e) => Date.parse(e.node.time));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    const [path0, ...labs] = t.edges.map((e) => e.node);
    expect(path0?.lane).toBe('pathology');
    expect(path0?.summary).toContain('Infiltrating duct carcinoma, NOS');
    expect(path0?.summary).toContain('ER Positive (90 %)');
    expect(path0?.summary).toContain('HER2 Negative (1+)');
    expect(path0?.summary).toContain('Ki-67 20 %');
    expect(path0?.summary).toContain('pT1c pNX cM0');
    expect(path0?.abnormal).toBe(true);
    expect(path0?.references.length).toBeGreaterThan(10);
    expect(path0?.resource.resourceType).toBe('DiagnosticReport');
    const cbc = labs.find((e) => e.title.startsWith('CBC'));
    expect(cbc?.summary).toContain('Hb 7.1 mmol/L (L)');
    expect(cbc?.summary).toContain('WBC 3.2 10*9/L (L)');
    expect(cbc?.summary).toContain('PLT 245 10*9/L');
    expect(cbc?.summary).not.toContain('PLT 245 10*9/L (');
    expect(cbc?.abnormal).toBe(true);
    expect(cbc?.status).toBe('final');
    expect(cbc?.source?.activity).toBeTruthy();
    expect(cbc?.source?.inboxId).toBeTruthy();
    // Observations that are results of a report are not events of their own.
    expect(t.edges.every((e) => e.node.id.startsWith('DiagnosticReport/'))).toBe(true);
  });

  it('filters by lane, code, text and date range', async () => {
    expect((await timeline({ lanes: ['pathology'] })).edges.map((e) => e.node.lane)).toEqual(['pathology']);
    const byCode = await timeline({ codes: ['6875-9'] });
    expect(byCode.edges.map((e) => e.node.title)).toEqual(['Tumour markers']);
    const byText = await timeline({ text: 'CARCINOMA' });
    expect(byText.edges.map((e) => e.node.lane)).toEqual(['pathology']);
    const range = await timeline({ from: '2024-03-15T00:00:00Z', to: '2024-03-16T00:00:00Z' });
    expect(range.totalCount).toBe(3);
    expect(range.edges.every((e) => e.node.lane === 'lab')).toBe(true);
  });

  it('reflects a corrected result in the event, and leaves out an entered-in-error one', async () => {
    await ingest(`${MSH('T-1', '20240401090000+0200')}\nOBR|1||FL-T-1^GLIMS|TM^Tumour markers^L|||20240401080000+0200|||||||||||||||20240401090000+0200||CH|F\nOBX|1|NM|6875-9^CA 15-3^LN||52|kU/L|<=30|H|||F\nOBX|2|NM|2039-6^CEA^LN||3.1|ug/L|<5.0|N|||F`);
    let ev = (await timeline({ from: '2024-04-01', to: '2024-04-02' })).edges[0]?.node;
    expect(ev?.summary).toBe('CA 15-3 52 kU/L (H), CEA 3.1 ug/L');
    await ingest(`${MSH('T-2', '20240402090000+0200')}\nOBR|1||FL-T-1^GLIMS|TM^Tumour markers^L|||20240401080000+0200|||||||||||||||20240402090000+0200||CH|C\nOBX|1|NM|6875-9^CA 15-3^LN||25|kU/L|<=30|N|||C\nOBX|2|NM|2039-6^CEA^LN||3.1|ug/L|<5.0|N|||W`);
    const t = await timeline({ from: '2024-04-01', to: '2024-04-02' });
    expect(t.totalCount).toBe(1);
    ev = t.edges[0]?.node;
    expect(ev?.status).toBe('corrected');
    expect(ev?.summary).toBe('CA 15-3 25 kU/L');
    expect(ev?.abnormal).toBe(false);
  });
});

describe('imaging and letters written through the FHIR REST API', () => {
  let studyId: string;
  let letterId: string;
  beforeAll(async () => {
    const subject = { reference: `Patient/${patientId}` };
    const study = await fhirFetch(`${server.fhir}/ImagingStudy`, {
      method: 'POST',
      json: { resourceType: 'ImagingStudy', status: 'available', subject, started: '2024-03-10T11:00:00+01:00', modality: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: 'MG' }], description: 'Mammography bilateral', numberOfSeries: 2, numberOfInstances: 4, series: [{ uid: '1.2.826.0.1.3680043.8.498.1', modality: { system: 'http://dicom.nema.org/resources/ontology/DCM', code: 'MG' } }] },
    });
    studyId = study.body.id;
    await fhirFetch(`${server.fhir}/DiagnosticReport`, {
      method: 'POST',
      json: { resourceType: 'DiagnosticReport', status: 'final', subject, category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'RAD' }] }], code: { text: 'Mammography report' }, effectiveDateTime: '2024-03-10T11:00:00+01:00', issued: '2024-03-10T15:00:00+01:00', imagingStudy: [{ reference: `ImagingStudy/${studyId}` }], conclusion: 'Mass left breast, BI-RADS 5.' },
    });
    const letter = await fhirFetch(`${server.fhir}/DocumentReference`, {
      method: 'POST',
      json: { resourceType: 'DocumentReference', status: 'current', subject, date: '2024-03-22T10:00:00+01:00', type: { text: 'MDT letter' }, description: 'Breast MDT outcome: neoadjuvant chemotherapy', content: [{ attachment: { contentType: 'text/plain', data: Buffer.from('MDT').toString('base64'), title: 'MDT letter' } }] },
    });
    letterId = letter.body.id;
  });

  it('shows the study with its linked radiology report as one imaging event, and the letter', async () => {
    const imaging = await timeline({ lanes: ['imaging'] });
    expect(imaging.edges).toHaveLength(1);
    expect(imaging.edges[0]?.node.id).toBe(`ImagingStudy/${studyId}`);
    expect(imaging.edges[0]?.node.title).toBe('MG Mammography bilateral');
    expect(imaging.edges[0]?.node.summary).toBe('2 series, 4 images; report: Mass left breast, BI-RADS 5.');
    const docs = await timeline({ lanes: ['document'] });
    expect(docs.edges.map((e) => e.node.title)).toEqual(['MDT letter']);
    const r = await gql(`query ($id: ID!) { patient(id: $id) { imagingStudies(modality: "MG") { modalities report { conclusion } } documents { title date } } }`, { id: patientId });
    expect(r.data.patient.imagingStudies[0].report.conclusion).toBe('Mass left breast, BI-RADS 5.');
    expect(r.data.patient.documents[0].title).toBe('MDT letter');
  });

  it('serves the same events through FHIR Patient/$timeline with next links', async () => {
    const b = await fhirFetch(`${server.fhir}/Patient/${patientId}/$timeline?_count=2`);
    expect(b.status).toBe(200);
    expect(b.body.type).toBe('searchset');
    const matches = b.body.entry.filter((e: any) => e.search.mode === 'match').map((e: any) => `${e.resource.resourceType}/${e.resource.id}`);
    const gqlFirst = (await timeline({ first: 2 })).edges.map((e) => e.node.id);
    expect(matches).toEqual(gqlFirst);
    const next = b.body.link.find((l: any) => l.relation === 'next').url as string;
    const b2 = await fhirFetch(next);
    const matches2 = b2.body.entry.filter((e: any) => e.search.mode === 'match').map((e: any) => `${e.resource.resourceType}/${e.resource.id}`);
    expect(matches2.some((m: string) => matches.includes(m))).toBe(false);
    const lab = await fhirFetch(`${server.fhir}/Patient/${patientId}/$timeline?lane=pathology`);
    expect(lab.body.total).toBe(1);
    expect(lab.body.entry.filter((e: any) => e.search.mode === 'include').length).toBeGreaterThan(10);
    expect((await fhirFetch(`${server.fhir}/Patient/${patientId}/$timeline?lane=xray`)).status).toBe(400);
    const cap = await fhirFetch(`${server.fhir}/metadata`);
    const patient = cap.body.rest[0].resource.find((r: any) => r.type === 'Patient');
    expect(patient.operation.map((o: any) => o.name)).toContain('timeline');
  });

  it('keeps paging stable when events arrive between page fetches', async () => {
    const all = (await timeline({ first: 100 })).edges.map((e) => e.node.id);
    const first = await timeline({ first: 3 });
    // A newer event and one in the middle of the pages still to come arrive now.
    for (const when of ['2025-01-01T00:00:00Z', '2024-03-15T08:00:00Z']) {
      await fhirFetch(`${server.fhir}/Observation`, { method: 'POST', json: { resourceType: 'Observation', status: 'final', subject: { reference: `Patient/${patientId}` }, category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }], code: { coding: [{ system: 'http://loinc.org', code: '2857-1' }], text: 'PSA' }, valueQuantity: { value: 1, unit: 'ug/L' }, effectiveDateTime: when } });
    }
    const seen = first.edges.map((e) => e.node.id);
    let after = first.pageInfo.endCursor;
    for (;;) {
      const page = await timeline({ first: 3, after });
      seen.push(...page.edges.map((e) => e.node.id));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(new Set(seen).size).toBe(seen.length);
    for (const id of all) expect(seen).toContain(id);
  });

  it('removes a deleted resource from the timeline', async () => {
    expect((await fhirFetch(`${server.fhir}/DocumentReference/${letterId}`, { method: 'DELETE' })).status).toBeLessThan(300);
    expect((await timeline({ lanes: ['document'] })).edges).toHaveLength(0);
  });
});
