import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AuditEvent, Resource } from '@medplum/fhirtypes';
import { authFetch, clientCredentialsToken, fhirFetch, startTestServer, type TestServer } from './support/server.ts';
import { userToken } from './support/auth.ts';
import { resourceOf } from '../schema/collections.ts';
import { Repository } from '../store/repository.ts';
import { systemContext, type RequestContext } from '../store/request-context.ts';
import { parseScopes } from '../store/access.ts';
import { EXPORT_LEVEL, parseExportRequest, planExport, runExport, type ExportLevel } from '../fhir/bulk-export.ts';
import { ExportFiles } from '../fhir/export-files.ts';

/**
 * FHIR Bulk Data export through the running server: kick-off, status polling, manifest, NDJSON
 * downloads, parameters, the three levels, cancel, and access (scopes, owner, token).
 */

let server: TestServer;
let dataDir: string;
const KICK_OFF = { accept: 'application/fhir+json', prefer: 'respond-async' };

interface Manifest {
  transactionTime: string;
  request: string;
  requiresAccessToken: boolean;
  output: { type: string; url: string; count: number }[];
  error: { type: string; url: string; count: number }[];
}

const observation = (id: string, patient: string, category: string, code: string): Resource =>
  ({
    resourceType: 'Observation',
    id,
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: category }] }],
    code: { coding: [{ system: 'http://loinc.org', code }] },
    subject: { reference: `Patient/${patient}` },
    valueQuantity: { value: 1, unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' },
  }) as Resource;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'idr-export-test-'));
  server = await startTestServer({ IDR_DATA_DIR: dataDir });
  const resources: Resource[] = [
    ...['ep1', 'ep2', 'ep3'].map((id) => ({ resourceType: 'Patient', id, name: [{ family: `Export-${id}` }] }) as Resource),
    { resourceType: 'Practitioner', id: 'epr1', name: [{ family: 'Exporter' }] } as Resource,
    ...['ep1', 'ep2', 'ep3'].flatMap((p) => [observation(`${p}-lab1`, p, 'laboratory', '2345-7'), observation(`${p}-lab2`, p, 'laboratory', '718-7'), observation(`${p}-vs`, p, 'vital-signs', '8867-4')]),
    { resourceType: 'Condition', id: 'ep1-c', subject: { reference: 'Patient/ep1' }, code: { text: 'Carcinoma' } } as Resource,
    { resourceType: 'Group', id: 'eg1', type: 'person', actual: true, member: [{ entity: { reference: 'Patient/ep1' } }, { entity: { reference: 'Patient/ep2' } }] } as Resource,
  ];
  const bundle = { resourceType: 'Bundle', type: 'transaction', entry: resources.map((r) => ({ resource: r, request: { method: 'PUT', url: `${r.resourceType}/${r.id}` } })) };
  const r = await fhirFetch(server.fhir, { method: 'POST', json: bundle });
  expect(r.status).toBe(200);
}, 120_000);

afterAll(async () => {
  await server?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** Kick-off: 202 with the status URL. */
async function kickOff(pathAndQuery: string, headers: Record<string, string> = {}): Promise<string> {
  const r = await fhirFetch(`${server.fhir}/${pathAndQuery}`, { headers: { ...KICK_OFF, ...headers } });
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  const location = r.headers.get('content-location');
  expect(location).toMatch(/\/fhir\/_export\/[0-9a-f-]+$/);
  return location as string;
}

/** Polls the status URL until it is no longer 202; returns the final answer. */
async function poll(statusUrl: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Manifest }> {
  for (let i = 0; i < 600; i++) {
    const r = await fhirFetch(statusUrl, { headers });
    if (r.status !== 202) return r;
    expect(r.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(r.headers.get('x-progress')).toBeTruthy();
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`export at ${statusUrl} did not finish`);
}

/** Downloads every output file, parses every line and checks the counts against the manifest. */
async function download(manifest: Manifest, headers: Record<string, string> = {}): Promise<Map<string, Resource[]>> {
  const out = new Map<string, Resource[]>();
  for (const f of manifest.output) {
    const res = await authFetch(f.url, { headers });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/fhir\+ndjson/);
    const text = await res.text();
    expect(text.endsWith('\n')).toBe(true);
    const lines = text.split('\n').filter((l) => l !== '');
    const parsed = lines.map((l) => JSON.parse(l) as Resource);
    expect(parsed.length).toBe(f.count);
    for (const r of parsed) expect(r.resourceType).toBe(f.type);
    out.set(f.type, parsed);
  }
  return out;
}

const ids = (rs: Resource[] | undefined): string[] => (rs ?? []).map((r) => r.id ?? '').sort();

describe('system-level $export', () => {
  it('runs the asynchronous pattern: kick-off, progress, manifest, NDJSON files that need the token', async () => {
    const statusUrl = await kickOff('$export');
    const done = await poll(statusUrl);
    expect(done.status).toBe(200);
    const m = done.body;
    expect(Date.parse(m.transactionTime)).not.toBeNaN();
    expect(m.request).toBe(`${server.fhir}/$export`);
    expect(m.requiresAccessToken).toBe(true);
    expect(m.error).toEqual([]);
    const files = await download(m);
    expect(ids(files.get('Patient'))).toEqual(['ep1', 'ep2', 'ep3']);
    expect(files.get('Observation')).toHaveLength(9);
    expect(ids(files.get('Practitioner'))).toContain('epr1');
    expect(ids(files.get('Group'))).toEqual(['eg1']);
    expect(files.has('AuditEvent')).toBe(false);
    // Every resource once: no id repeats within a file.
    for (const [, rs] of files) expect(new Set(rs.map((r) => r.id)).size).toBe(rs.length);
    // The files need the bearer token.
    const first = m.output[0]?.url as string;
    expect((await fetch(first)).status).toBe(401);
    // Another user cannot see the job or its files.
    const other = await userToken(server.url, 'clinician', 'openid user/*.rs');
    expect((await fhirFetch(statusUrl, { headers: { authorization: `Bearer ${other}` } })).status).toBe(404);
    expect((await fhirFetch(first, { headers: { authorization: `Bearer ${other}` } })).status).toBe(404);
    // The file system keeps the files private to IDR's account.
    const jobDir = path.join(dataDir, 'exports', statusUrl.split('/').at(-1) as string);
    expect((await stat(jobDir)).mode & 0o777).toBe(0o700);
    expect((await stat(path.join(jobDir, 'Patient.ndjson'))).mode & 0o777).toBe(0o600);
    // One access record for the export, naming the exported patients.
    await server.services.audit.flush();
    const events = (await server.services.database.c.resources.find({ rt: 'AuditEvent' }, { projection: { json: 1 } }).toArray()).map((d) => resourceOf<AuditEvent>(d) as AuditEvent);
    const exportEvents = events.filter((e) => e.action === 'E' && e.entity?.some((x) => x.description?.startsWith(m.request)));
    expect(exportEvents).toHaveLength(1);
    const named = (exportEvents[0]?.entity ?? []).flatMap((x) => [x.what?.reference ?? x.what?.identifier?.value ?? '']);
    for (const p of ['ep1', 'ep2', 'ep3']) expect(named).toContain(`Patient/${p}`);
  }, 120_000);

  it('takes _type, _since and _typeFilter', async () => {
    let m = (await poll(await kickOff('$export?_type=Observation,Patient&_typeFilter=' + encodeURIComponent('Observation?category=laboratory')))).body;
    let files = await download(m);
    expect([...files.keys()].sort()).toEqual(['Observation', 'Patient']);
    expect(ids(files.get('Observation'))).toEqual(['ep1-lab1', 'ep1-lab2', 'ep2-lab1', 'ep2-lab2', 'ep3-lab1', 'ep3-lab2']);
    // Two filters of one type: their union, each resource once.
    m = (await poll(await kickOff('$export?_type=Observation&_typeFilter=' + encodeURIComponent('Observation?code=2345-7,Observation?category=laboratory')))).body;
    files = await download(m);
    expect(ids(files.get('Observation'))).toEqual(['ep1-lab1', 'ep1-lab2', 'ep2-lab1', 'ep2-lab2', 'ep3-lab1', 'ep3-lab2']);
    // _since: only what changed after it.
    const since = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 20));
    const changed = await fhirFetch(`${server.fhir}/Observation/ep2-vs`, { method: 'PUT', json: { ...observation('ep2-vs', 'ep2', 'vital-signs', '8867-4'), valueQuantity: { value: 72, unit: '/min' } } });
    expect(changed.status).toBe(200);
    m = (await poll(await kickOff(`$export?_type=Observation,Patient&_since=${encodeURIComponent(since)}`))).body;
    files = await download(m);
    expect([...files.keys()]).toEqual(['Observation']);
    expect(ids(files.get('Observation'))).toEqual(['ep2-vs']);
  }, 120_000);

  it('gives a token with limited scopes only the types it may read', async () => {
    const scoped = await clientCredentialsToken(server.url, undefined, 'system/Observation.rs system/Patient.rs');
    const auth = { authorization: `Bearer ${scoped}` };
    let m = (await poll(await kickOff('$export', auth), auth)).body;
    let files = await download(m, auth);
    expect([...files.keys()].sort()).toEqual(['Observation', 'Patient']);
    // Asking for a type it may not read: left out, and said so in the error file.
    m = (await poll(await kickOff('$export?_type=Observation,Condition', auth), auth)).body;
    files = await download(m, auth);
    expect([...files.keys()]).toEqual(['Observation']);
    expect(m.error).toHaveLength(1);
    const errors = await (await authFetch(m.error[0]?.url as string, { headers: auth })).text();
    expect(errors).toContain('Condition');
    // Nothing it may read: refused at kick-off.
    const refused = await fhirFetch(`${server.fhir}/$export?_type=Condition`, { headers: { ...KICK_OFF, ...auth } });
    expect(refused.status).toBe(403);
  }, 120_000);
});

describe('Patient- and Group-level $export', () => {
  it('Patient/$export holds the compartments of every patient and nothing outside them', async () => {
    const m = (await poll(await kickOff('Patient/$export'))).body;
    const files = await download(m);
    expect(ids(files.get('Patient'))).toEqual(['ep1', 'ep2', 'ep3']);
    expect(files.get('Observation')).toHaveLength(9);
    expect(ids(files.get('Condition'))).toEqual(['ep1-c']);
    expect(files.has('Practitioner')).toBe(false);
    expect(m.request).toBe(`${server.fhir}/Patient/$export`);
  }, 120_000);

  it("Group/{id}/$export holds only the members' compartments", async () => {
    const m = (await poll(await kickOff('Group/eg1/$export?_type=Patient,Observation,Condition'))).body;
    const files = await download(m);
    expect(ids(files.get('Patient'))).toEqual(['ep1', 'ep2']);
    expect(ids(files.get('Observation'))).toEqual(['ep1-lab1', 'ep1-lab2', 'ep1-vs', 'ep2-lab1', 'ep2-lab2', 'ep2-vs']);
    expect(ids(files.get('Condition'))).toEqual(['ep1-c']);
    const missing = await fhirFetch(`${server.fhir}/Group/nope/$export`, { headers: KICK_OFF });
    expect(missing.status).toBe(404);
  }, 120_000);
});

describe('cancel and parameters', () => {
  it('DELETE on the status URL cancels the export and removes its files', async () => {
    const statusUrl = await kickOff('$export');
    const id = statusUrl.split('/').at(-1) as string;
    const del = await fhirFetch(statusUrl, { method: 'DELETE' });
    expect(del.status).toBe(202);
    expect((await fhirFetch(statusUrl)).status).toBe(404);
    await expect(stat(path.join(dataDir, 'exports', id))).rejects.toThrow();
    // A finished one too.
    const finished = await kickOff('$export?_type=Patient');
    const m = (await poll(finished)).body;
    expect((await fhirFetch(finished, { method: 'DELETE' })).status).toBe(202);
    expect((await authFetch(m.output[0]?.url as string)).status).toBe(404);
    expect((await fhirFetch(finished)).status).toBe(404);
  }, 120_000);

  it.each([
    ['$export?_outputFormat=text/csv', '_outputFormat'],
    ['$export?_type=Observation,Nonsense', '_type'],
    ['$export?_since=yesterday', '_since'],
    ['$export?_typeFilter=' + encodeURIComponent('Observation?nonsense=1'), '_typeFilter'],
    ['$export?_type=Patient&_typeFilter=' + encodeURIComponent('Observation?category=laboratory'), '_typeFilter'],
    ['$export?_typeFilter=' + encodeURIComponent('Observation?_sort=date'), '_typeFilter'],
    ['$export?_typeFilter=category=laboratory', '_typeFilter'],
    ['$export?patient=Patient/ep1', 'patient'],
  ])('%s → 400 naming %s', async (pathAndQuery, param) => {
    const r = await fhirFetch(`${server.fhir}/${pathAndQuery}`, { headers: KICK_OFF });
    expect(r.status).toBe(400);
    expect(r.body.resourceType).toBe('OperationOutcome');
    expect(r.body.issue[0].expression).toEqual([param]);
  });

  it('needs Prefer: respond-async and Accept: application/fhir+json; accepts the ndjson output formats', async () => {
    const noPrefer = await fhirFetch(`${server.fhir}/$export`, { headers: { accept: 'application/fhir+json' } });
    expect(noPrefer.status).toBe(400);
    expect(noPrefer.body.issue[0].expression).toEqual(['Prefer']);
    const noAccept = await fhirFetch(`${server.fhir}/$export`, { headers: { prefer: 'respond-async', accept: 'text/html' } });
    expect(noAccept.status).toBe(400);
    for (const format of ['application/fhir+ndjson', 'application/ndjson', 'ndjson']) {
      const m = (await poll(await kickOff(`$export?_type=Group&_outputFormat=${encodeURIComponent(format)}`))).body;
      expect(m.output.map((o) => o.type)).toEqual(['Group']);
    }
  }, 120_000);

  it('is listed in the CapabilityStatement', async () => {
    const cs = (await fhirFetch(`${server.fhir}/metadata`)).body;
    const rest = cs.rest[0];
    expect(rest.operation.map((o: { definition: string }) => o.definition)).toContain('http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export');
    const ops = (type: string): string[] => rest.resource.find((r: { type: string }) => r.type === type).operation.map((o: { definition: string }) => o.definition);
    expect(ops('Patient')).toContain('http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export');
    expect(ops('Group')).toContain('http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export');
  });
});

describe('batches', () => {
  it('reads in small batches: every resource once, those of one instant too, withheld ones left out', async () => {
    const database = server.services.database;
    const system = systemContext('export-test');
    const at = (iso: string): Repository => new Repository(database, () => new Date(iso));
    const restricted = { security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'R' }] };
    await at('2020-01-01T00:00:00.000Z').create(system, { resourceType: 'Patient', meta: restricted, name: [{ family: 'Hidden' }] } as Resource, { id: 'tp2' });
    await at('2020-01-01T00:00:00.000Z').create(system, { resourceType: 'Patient', name: [{ family: 'Shown' }] } as Resource, { id: 'tp1' });
    const same = at('2021-06-01T12:00:00.000Z');
    for (let i = 0; i < 5; i++) await same.create(system, observation(`tie-a${i}`, 'tp1', 'laboratory', 'tie-test'), { id: `tie-a${i}` });
    for (let i = 0; i < 4; i++) await same.create(system, observation(`tie-b${i}`, 'tp2', 'laboratory', 'tie-test'), { id: `tie-b${i}` });
    for (let i = 0; i < 3; i++) await at(`2022-0${i + 1}-01T00:00:00.000Z`).create(system, observation(`tie-c${i}`, 'tp1', 'laboratory', 'tie-test'), { id: `tie-c${i}` });
    const clinician: RequestContext = { actor: 'test-clinician', purpose: 'treatment', requestId: 'paging', access: { principal: { subject: 'test-clinician', issuer: '', role: 'clinician' }, unrestricted: false, scopes: parseScopes('user/*.rs'), restrictedNeedsBreakGlass: true } };
    const files = new ExportFiles(path.join(dataDir, 'paging'), 1);
    const run = async (ctx: RequestContext, jobId: string, level: ExportLevel = EXPORT_LEVEL.system): Promise<string[]> => {
      const plan = await planExport(server.services.repo, ctx, parseExportRequest(level, new URLSearchParams({ _type: 'Observation', _typeFilter: 'Observation?code=tie-test' })));
      await files.create(jobId);
      const result = await runExport({ repo: server.services.repo, files, jobId, fileUrl: (n) => n, signal: new AbortController().signal, progress: () => undefined, transactionTime: new Date(), pageSize: 2 }, ctx, plan);
      const file = files.filePath(jobId, 'Observation.ndjson') as string;
      const lines = (await readFile(file, 'utf8')).split('\n').filter(Boolean);
      expect(result.output).toEqual([{ type: 'Observation', url: 'Observation.ndjson', count: lines.length }]);
      return lines.map((l) => (JSON.parse(l) as Resource).id ?? '');
    };
    const all = ['tie-a0', 'tie-a1', 'tie-a2', 'tie-a3', 'tie-a4', 'tie-b0', 'tie-b1', 'tie-b2', 'tie-b3', 'tie-c0', 'tie-c1', 'tie-c2'];
    const everything = await run(system, 'paging-system');
    expect(everything).toHaveLength(all.length);
    expect([...everything].sort()).toEqual(all);
    const shown = await run(clinician, 'paging-clinician');
    expect([...shown].sort()).toEqual(all.filter((id) => !id.startsWith('tie-b')));
    const perPatient = await run(clinician, 'paging-patients', EXPORT_LEVEL.patient);
    expect([...perPatient].sort()).toEqual(all.filter((id) => !id.startsWith('tie-b')));
  }, 120_000);
});

describe('expiry', () => {
  it('an expired export answers 404 at its status URL and files; cleanup removes expired and unfinished exports', async () => {
    const statusUrl = await kickOff('$export?_type=Patient');
    const m = (await poll(statusUrl)).body;
    const id = statusUrl.split('/').at(-1) as string;
    const jobFile = path.join(dataDir, 'exports', id, 'job.json');
    const times = JSON.parse(await readFile(jobFile, 'utf8')) as { expiresAt: string };
    expect(Date.parse(times.expiresAt) - Date.now()).toBeGreaterThan(23 * 3_600_000);
    await writeFile(jobFile, JSON.stringify({ ...times, expiresAt: new Date(Date.now() - 1000).toISOString() }));
    expect((await fhirFetch(statusUrl)).status).toBe(404);
    expect((await authFetch(m.output[0]?.url as string)).status).toBe(404);
    const files = new ExportFiles(path.join(dataDir, 'exports'), 24);
    await files.create('unfinished-job');
    expect(await files.cleanup()).toBe(1);
    await expect(stat(path.join(dataDir, 'exports', id))).rejects.toThrow();
    await stat(path.join(dataDir, 'exports', 'unfinished-job'));
    expect(await files.cleanup({ unfinished: true })).toBe(1);
    await expect(stat(path.join(dataDir, 'exports', 'unfinished-job'))).rejects.toThrow();
  }, 120_000);
});
