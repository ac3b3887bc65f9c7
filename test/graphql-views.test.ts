/* eslint-disable @typescript-eslint/no-explicit-any -- assertions read GraphQL and FHIR JSON bodies */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import type { CommandStartedEvent } from 'mongodb';
import { authFetch, fhirFetch, startTestServer, type TestServer } from './support/server.ts';
import { loadDemoData } from '../seed/load-demo.ts';
import { systemContext } from '../store/request-context.ts';
import { COLLECTION_NAMES } from '../schema/collections.ts';

const BACKGROUND = new Set<string>([COLLECTION_NAMES.deriveOutbox, COLLECTION_NAMES.journal, COLLECTION_NAMES.waitingPatients, COLLECTION_NAMES.inbox]);

/** Lab trends, case summary, DataLoader batching and input errors over GraphQL, on demo data loaded through the pipeline. */

let server: TestServer;
let patientId: string;

async function gql<T = any>(query: string, variables: Record<string, unknown> = {}): Promise<{ data: T; errors?: { message: string; extensions?: { code?: string } }[]; status: number }> {
  const res = await authFetch(`${server.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify({ query, variables }) });
  return { ...((await res.json()) as { data: T }), status: res.status };
}
const subject = (): { reference: string } => ({ reference: `Patient/${patientId}` });

beforeAll(async () => {
  const url = new URL(inject('mongoUrl'));
  url.searchParams.set('monitorCommands', 'true');
  server = await startTestServer({ MONGODB_URL: url.toString() });
  const summary = await loadDemoData(server.services, { patients: 1 });
  expect(summary.failures).toEqual([]);
  patientId = (await fhirFetch(`${server.fhir}/Patient`)).body.entry[0].resource.id;
}, 180_000);
afterAll(async () => {
  await server?.close();
});

describe('lab trend', () => {
  it('converts every result to one UCUM unit, with reference ranges and flags', async () => {
    await fhirFetch(`${server.fhir}/Observation`, {
      method: 'POST',
      json: { resourceType: 'Observation', status: 'final', subject: subject(), category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }], code: { coding: [{ system: 'http://loinc.org', code: '14682-9' }] }, effectiveDateTime: '2030-01-01T09:00:00Z', valueQuantity: { value: 0.095, unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' }, referenceRange: [{ low: { value: 0.049, unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' }, high: { value: 0.09, unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' } }] },
    });
    const q = `query ($id: ID!, $unit: String) { patient(id: $id) { labTrend(code: "14682-9", unit: $unit) { name unit points { time value unit originalValue originalUnit referenceLow referenceHigh flag abnormal } } } }`;
    const r = await gql(q, { id: patientId, unit: 'umol/L' });
    expect(r.errors).toBeUndefined();
    const trend = r.data.patient.labTrend;
    expect(trend.name).toBe('Creat');
    expect(trend.unit).toBe('umol/L');
    expect(trend.points.length).toBeGreaterThan(1);
    const last = trend.points.at(-1);
    expect(last).toMatchObject({ value: 95, unit: 'umol/L', originalValue: 0.095, originalUnit: 'mmol/L', referenceLow: 49, referenceHigh: 90, flag: 'H', abnormal: true });
    const times = trend.points.map((p: { time: string }) => Date.parse(p.time));
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    // Default unit: the latest result's; the umol/L results are converted to mmol/L.
    const dflt = (await gql(q, { id: patientId })).data.patient.labTrend;
    expect(dflt.unit).toBe('mmol/L');
    for (const p of dflt.points) expect(p.value).toBeCloseTo(p.originalUnit === 'umol/L' ? p.originalValue / 1000 : p.originalValue, 9);
  });
});

describe('case summary', () => {
  it('has the diagnosis, latest pathology, imaging per modality, key lab trends, letters and what is new', async () => {
    await fhirFetch(`${server.fhir}/Condition`, { method: 'POST', json: { resourceType: 'Condition', subject: subject(), code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10', code: 'C50.4', display: 'Malignant neoplasm of upper-outer quadrant of breast' }] }, onsetDateTime: '2019-05-01', verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'confirmed' }] } } });
    for (const [modality, started, conclusion] of [['CT', '2031-01-05', 'No distant metastases.'], ['CT', '2030-06-01', 'Older CT.'], ['MR', '2030-07-01', undefined]] as const) {
      const s = await fhirFetch(`${server.fhir}/ImagingStudy`, { method: 'POST', json: { resourceType: 'ImagingStudy', status: 'available', subject: subject(), started, series: [{ uid: `1.2.3.${started.replace(/-/g, '')}`, modality: { system: 'http://dicom.nema.org/resources/ontology/DCM', code: modality } }] } });
      if (conclusion) await fhirFetch(`${server.fhir}/DiagnosticReport`, { method: 'POST', json: { resourceType: 'DiagnosticReport', status: 'final', subject: subject(), code: { text: `${modality} report` }, imagingStudy: [{ reference: `ImagingStudy/${s.body.id}` }], conclusion } });
    }
    await fhirFetch(`${server.fhir}/DocumentReference`, { method: 'POST', json: { resourceType: 'DocumentReference', status: 'current', subject: subject(), date: '2031-01-06T10:00:00Z', type: { text: 'Discharge letter' }, content: [{ attachment: { contentType: 'text/plain', data: 'eA==' } }] } });
    const r = await gql(`query ($id: ID!) { patient(id: $id) { caseSummary(since: "2020-01-01") {
      primaryDiagnosis { display code date basis }
      latestPathology { histology grade er pr her2 ki67 tnm date report { kind } }
      imaging { modality conclusion study { started } }
      labTrends { name unit points { value } }
      recentLetters { type }
      newSince { id lane }
    } } }`, { id: patientId });
    expect(r.errors).toBeUndefined();
    const s = r.data.patient.caseSummary;
    expect(s.primaryDiagnosis).toMatchObject({ code: 'C50.4', basis: 'condition' });
    expect(s.latestPathology.report.kind).toBe('pathology');
    expect(s.latestPathology.histology).toBeTruthy();
    expect(s.latestPathology.tnm).toMatch(/T/);
    // Demo data may hold imaging of its own (older): the latest per modality comes first.
    expect(s.imaging.slice(0, 2)).toEqual([
      // answered in the hospital's time zone (Europe/Amsterdam by default), with the offset
      { modality: 'CT', conclusion: 'No distant metastases.', study: { started: '2031-01-05T01:00:00.000+01:00' } },
      { modality: 'MR', conclusion: null, study: { started: '2030-07-01T02:00:00.000+02:00' } },
    ]);
    expect(s.labTrends.map((t: { name: string }) => t.name)).toEqual(expect.arrayContaining(['Hb', 'WBC', 'PLT']));
    expect(s.recentLetters[0].type).toBe('Discharge letter');
    expect(s.newSince.length).toBeGreaterThan(5);
  });
});

describe('case summary pathology findings', () => {
  it('takes ER, PR, HER2 and Ki-67 from the biopsy when the latest report (the resection) does not state them', async () => {
    const r = await gql(`query ($id: ID!) { patient(id: $id) { caseSummary {
      latestPathology { er date report { id } }
      pathologyFindings { item value date report { id } otherValues { value report { id } } }
    } } }`, { id: patientId });
    expect(r.errors).toBeUndefined();
    const s = r.data.patient.caseSummary;
    const byItem = new Map(s.pathologyFindings.map((f: { item: string }) => [f.item, f]));
    for (const item of ['histology', 'ER', 'PR', 'HER2', 'Ki-67', 'TNM']) expect(byItem.get(item), item).toBeDefined();
    const er = byItem.get('ER') as { value: string; date: string; report: { id: string } };
    expect(er.value).toMatch(/positive|negative/i);
    // the demo's resection repeats no receptors: ER comes from the earlier biopsy report
    expect(s.latestPathology.er).toBeNull();
    expect(er.report.id).not.toBe(s.latestPathology.report.id);
    expect(Date.parse(er.date)).toBeLessThan(Date.parse(s.latestPathology.date));
  });
});

describe('DataLoader batching', () => {
  it('runs the same number of database commands for a 50-event page as for a 10-event page', async () => {
    const ctx = systemContext('test');
    const have = (await gql(`query ($id: ID!) { patient(id: $id) { timeline { totalCount } } }`, { id: patientId })).data.patient.timeline.totalCount;
    for (let i = 0; i < 55 - have; i++) {
      await server.services.repo.create(ctx, { resourceType: 'Observation', status: 'final', subject: subject(), code: { text: 'Pain score' }, valueInteger: i % 10, effectiveDateTime: new Date(Date.UTC(2032, 0, 1 + i)).toISOString() } as never);
    }
    const q = `query ($id: ID!, $first: Int) { patient(id: $id) { timeline(first: $first) { totalCount edges { node { id summary source { inboxId } resource resources } } } } }`;
    // A "query" is any command but a lookup by id (one `_id`, or a list of them); both counts must stay constant.
    const commandsFor = async (first: number): Promise<{ all: number; queries: number }> => {
      let all = 0;
      let queries = 0;
      const listener = (e: CommandStartedEvent): void => {
        // A getMore continues a query (a lookup of many ids returns them in several batches).
        if (e.commandName === 'getMore') return;
        // The service's own passes every few seconds (derived data, pending journals, inputs
        // waiting for a patient, health pings) are not the request's; on a loaded machine one
        // can fall inside the slower page's window.
        if (e.commandName === 'ping' || BACKGROUND.has(String(e.command[e.commandName]))) return;
        all++;
        const filter = e.command.filter as Record<string, unknown> | undefined;
        const pointLookup = e.commandName === 'find' && !!filter && Object.keys(filter).filter((k) => k !== 'deleted').length === 1 && (typeof filter._id === 'string' || Array.isArray((filter._id as { $in?: unknown } | undefined)?.$in));
        if (!pointLookup) queries++;
      };
      server.services.database.client.on('commandStarted', listener);
      const r = await gql(q, { id: patientId, first });
      server.services.database.client.off('commandStarted', listener);
      expect(r.errors).toBeUndefined();
      expect(r.data.patient.timeline.edges).toHaveLength(first);
      return { all, queries };
    };
    // The audit chainer and the subscription notifier work in the background on their own
    // schedules: paused while counting (each request's own audit record is one buffered insert,
    // the same for both pages).
    await server.services.audit.stop();
    await server.services.subscriptions.stop();
    const ten = await commandsFor(10);
    const fifty = await commandsFor(50);
    server.services.audit.start();
    server.services.subscriptions.start();
    expect(ten.queries).toBeGreaterThan(0);
    expect(fifty.queries).toBe(ten.queries);
    expect(fifty.queries).toBeLessThanOrEqual(5);
    expect(fifty.all).toBe(ten.all);
  }, 120_000);
});

describe('input errors', () => {
  const TL = `query ($id: ID!, $after: String, $lanes: [Lane!], $from: DateTime, $to: DateTime, $first: Int) { patient(id: $id) { timeline(after: $after, lanes: $lanes, from: $from, to: $to, first: $first) { totalCount } } }`;
  it.each([
    ['a bad cursor', { after: 'not-a-cursor' }],
    ['an unknown lane', { lanes: ['xray'] }],
    ['an inverted date range', { from: '2024-02-01', to: '2024-01-01' }],
    ['a bad date', { from: 'yesterday' }],
    ['a page too large', { first: 5000 }],
  ])('%s is a BAD_USER_INPUT error, not a 500', async (_name, vars) => {
    const r = await gql(TL, { id: patientId, ...vars });
    expect(r.status).toBeLessThan(500);
    expect(r.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('refuses a query whose estimated cost is too high', async () => {
    const r = await gql(`{ patients(first: 200) { edges { node { timeline(first: 200) { edges { node { id title summary } } } } } } }`);
    expect(r.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_COMPLEX');
    expect(r.data ?? null).toBeNull();
  });

  it('returns null for an unknown patient and finds patients by identifier', async () => {
    expect((await gql(`{ patient(id: "nope") { id } }`)).data.patient).toBeNull();
    const p = (await fhirFetch(`${server.fhir}/Patient/${patientId}`)).body;
    const ident = p.identifier[0];
    const r = await gql(`query ($i: String) { patients(identifier: $i) { totalCount edges { node { id name identifiers { value } } } } }`, { i: `${ident.system}|${ident.value}` });
    expect(r.data.patients.totalCount).toBe(1);
    expect(r.data.patients.edges[0].node.id).toBe(patientId);
  });
});

describe('case summary parts', () => {
  it('runs only the queries of the parts a query selects', async () => {
    const commands: string[] = [];
    const listener = (e: CommandStartedEvent): void => {
      if (e.commandName === 'find' && !BACKGROUND.has(String(e.command.find))) commands.push(`${String(e.command.find)} ${JSON.stringify(e.command.filter)}`);
    };
    server.services.database.client.on('commandStarted', listener);
    const r = await gql('query ($id: ID!) { patient(id: $id) { caseSummary { primaryDiagnosis { display } latestPathology { histology er } } } }', { id: patientId });
    server.services.database.client.off('commandStarted', listener);
    expect(r.errors).toBeUndefined();
    expect(r.data.patient.caseSummary.primaryDiagnosis.display).toBeTruthy();
    expect(r.data.patient.caseSummary.latestPathology.histology).toBeTruthy();
    expect(commands.some((c) => c.includes('"rt":"Condition"'))).toBe(true);
    expect(commands.some((c) => c.includes('"rt":"DiagnosticReport"'))).toBe(true);
    // Lab trends, imaging, letters, procedures, staging Observations and recent changes are not asked for.
    expect(commands.filter((c) => /^timeline |"rt":"(Observation|ImagingStudy|DocumentReference|Procedure)"/.test(c))).toEqual([]);
  });

  it('finds a pathology report that only its code marks as one', async () => {
    const dr = await fhirFetch(`${server.fhir}/DiagnosticReport`, { method: 'POST', json: { resourceType: 'DiagnosticReport', status: 'final', subject: subject(), code: { coding: [{ system: 'http://loinc.org', code: '11526-1', display: 'Pathology study' }] }, effectiveDateTime: '2032-02-01T10:00:00Z', conclusion: 'Re-excision: no residual carcinoma.' } });
    expect(dr.status).toBe(201);
    const r = await gql('query ($id: ID!) { patient(id: $id) { caseSummary { latestPathology { report { id kind } } } } }', { id: patientId });
    expect(r.errors).toBeUndefined();
    expect(r.data.patient.caseSummary.latestPathology.report).toEqual({ id: dr.body.id, kind: 'pathology' });
  });

  it('reads only the event fields a timeline page selects', async () => {
    const projections: unknown[] = [];
    const listener = (e: CommandStartedEvent): void => {
      if (e.commandName === 'find' && e.command.find === COLLECTION_NAMES.timeline) projections.push(e.command.projection);
    };
    server.services.database.client.on('commandStarted', listener);
    const r = await gql(`query ($id: ID!) { patient(id: $id) { timeline(first: 5) { edges { node { ...Row } } } } }
      fragment Row on TimelineEvent { time title ... on TimelineEvent { lane } }`, { id: patientId });
    server.services.database.client.off('commandStarted', listener);
    expect(r.errors).toBeUndefined();
    const nodes = r.data.patient.timeline.edges.map((e: { node: unknown }) => e.node);
    expect(nodes).toHaveLength(5);
    for (const n of nodes) expect(Object.keys(n).sort()).toEqual(['lane', 'time', 'title']);
    expect(nodes.every((n: { title: string; lane: string }) => n.title && n.lane)).toBe(true);
    expect(projections).toEqual([{ _id: 1, anchor: 1, time: 1, patient: 1, title: 1, lane: 1 }]);
    // A page that asks for every field reads them all, as before.
    const all = await gql('query ($id: ID!) { patient(id: $id) { timeline(first: 2) { edges { node { id summary abnormal status references codes source { agent } lastUpdated } } } } }', { id: patientId });
    expect(all.errors).toBeUndefined();
    expect(all.data.patient.timeline.edges[0].node.codes.length).toBeGreaterThan(0);
    expect(all.data.patient.timeline.edges[0].node.references[0]).toBe(all.data.patient.timeline.edges[0].node.id);
  });

  it('reads only the event fields caseSummary.newSince selects', async () => {
    const projections: unknown[] = [];
    const listener = (e: CommandStartedEvent): void => {
      if (e.commandName === 'find' && e.command.find === COLLECTION_NAMES.timeline) projections.push(e.command.projection);
    };
    server.services.database.client.on('commandStarted', listener);
    const r = await gql('query ($id: ID!) { patient(id: $id) { caseSummary(since: "2000-01-01") { newSince { id lane } } } }', { id: patientId });
    server.services.database.client.off('commandStarted', listener);
    expect(r.errors).toBeUndefined();
    expect(r.data.patient.caseSummary.newSince.length).toBeGreaterThan(5);
    expect(r.data.patient.caseSummary.newSince.every((e: { id: string; lane: string }) => e.id.includes('/') && e.lane)).toBe(true);
    expect(projections).toEqual([{ _id: 1, anchor: 1, time: 1, patient: 1, lane: 1 }]);
  });
});
