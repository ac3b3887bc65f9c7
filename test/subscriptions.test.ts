/* eslint-disable @typescript-eslint/no-explicit-any -- assertions read FHIR JSON bodies */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Resource } from '@medplum/fhirtypes';
import { loadConfig } from '../api/config.ts';
import { startServer, type RunningServer } from '../api/server.ts';
import { TIMELINE_TASK } from '../timeline/repository.ts';
import { parseScopes } from '../store/access.ts';
import { systemContext, type RequestContext } from '../store/request-context.ts';
import { fhirFetch, startTestServer, type TestServer } from './support/server.ts';
import { userToken } from './support/auth.ts';
import { create, patient } from './support/factory.ts';
import { ingestOk } from './fixtures/ingest/clients.ts';

/**
 * R4 Subscriptions (rest-hook) for a tumour board's coordinator, over real HTTP: the coordinator's
 * endpoint is a real local HTTP server. A pathology report ingested as HL7 v2 for a patient on the
 * board notifies once, with the report and the channel's headers; one for a patient not on the
 * board notifies nobody; an ImagingStudy of a board patient pings the imaging Subscription (empty
 * body); a Subscription to an endpoint outside IDR_SUBSCRIPTION_ENDPOINTS or with unknown criteria
 * is refused naming what is wrong; an endpoint that keeps failing puts its Subscription in error
 * after the retries; a patient cannot subscribe; every notification is in the access audit.
 */

const FIXTURE = path.resolve(import.meta.dirname, 'fixtures', 'hl7v2', 'pathology-breast-biopsy.hl7');
const PATHOLOGY = 'http://terminology.hl7.org/CodeSystem/v2-0074|PAT';
const BOARD = 'tumour-board-breast';

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

let server: TestServer;
let hooks: Server;
let hookBase: string;
const received: Received[] = [];
const ids: Record<string, string> = {};
/** Bearer tokens of demo users, by user name. */
const tokens: Record<string, string> = {};
const as = (user: string): { authorization: string } => ({ authorization: `Bearer ${tokens[user]}` });

const at = (p: string): Received[] => received.filter((r) => r.path === p);

/** Polls until `check` returns something truthy (the machine may be slow: a deadline, not a timed assertion). */
async function until<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, deadlineMs = 25_000): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function subscribe(criteria: string, channel: Record<string, unknown>, token?: string): Promise<{ status: number; body: any }> {
  return fhirFetch(`${server.fhir}/Subscription`, {
    method: 'POST',
    ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}),
    json: { resourceType: 'Subscription', status: 'requested', reason: 'Tumour board coordinator', criteria, channel: { type: 'rest-hook', ...channel } },
  });
}

/** The pathology fixture about another patient (BSN, MRN, order and message ids changed). */
async function otherPatientsReport(): Promise<string> {
  return (await readFile(FIXTURE, 'utf8')).replaceAll('123456782', '999966723').replaceAll('MRN0042', 'MRN0077').replaceAll('T24-01234', 'T24-07777').replaceAll('PATH-20240320-0042', 'PATH-20240320-0077');
}

beforeAll(async () => {
  hooks = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.statusCode = req.url === '/hooks/broken' ? 500 : 200;
      res.end();
    });
  });
  await new Promise<void>((resolve) => hooks.listen(0, '127.0.0.1', resolve));
  hookBase = `http://127.0.0.1:${(hooks.address() as AddressInfo).port}`;
  server = await startTestServer({ IDR_SUBSCRIPTION_ENDPOINTS: `${hookBase}/hooks/`, IDR_SUBSCRIPTION_RETRIES: '2', IDR_SUBSCRIPTION_BACKOFF_MS: '50', IDR_SUBSCRIPTION_TIMEOUT_MS: '5000' });
  // The board's patient, known before her pathology arrives (the message matches her by BSN).
  ids.anna = (await create(server.fhir, patient('123456782'))).id;
  const board = await fhirFetch(`${server.fhir}/Group/${BOARD}`, { method: 'PUT', json: { resourceType: 'Group', id: BOARD, type: 'person', actual: true, name: 'Breast tumour board', member: [{ entity: { reference: `Patient/${ids.anna}` } }] } });
  expect(board.status, JSON.stringify(board.body)).toBeLessThan(300);
  // The coordinator is a board member (demo user "board", board tumour-board-breast); a clinician is another user.
  tokens.board = await userToken(server.url, 'board', 'openid fhirUser user/*.rs user/Subscription.cruds');
  tokens.clinician = await userToken(server.url, 'clinician', 'openid fhirUser user/*.rs user/Subscription.cruds');
});

afterAll(async () => {
  await server?.close();
  await new Promise<void>((resolve) => (hooks ? hooks.close(() => resolve()) : resolve()));
});

describe('Subscriptions for a tumour board coordinator', () => {
  it('activates a board member\'s rest-hook Subscription whose criteria parse and whose endpoint is allowed', async () => {
    const pathology = await subscribe(`DiagnosticReport?patient._in=Group/${BOARD}&category=${PATHOLOGY}`, {
      endpoint: `${hookBase}/hooks/pathology`, payload: 'application/fhir+json', header: ['Authorization: Bearer coordinator-secret', 'X-Board: breast'],
    }, tokens.board);
    expect(pathology.status, JSON.stringify(pathology.body)).toBe(201);
    expect(pathology.body.status).toBe('active');
    ids.pathologySub = pathology.body.id;
    // Header values (the endpoint's credentials) are held by IDR, not shown to readers of the Subscription…
    expect(pathology.body.channel.header).toEqual(['Authorization: ***', 'X-Board: ***']);
    // …and written back as ***, they keep the value held (the notification below carries the real one).
    const again = await fhirFetch(`${server.fhir}/Subscription/${ids.pathologySub}`, { method: 'PUT', headers: as('board'), json: { ...pathology.body, reason: 'Tumour board coordinator (breast)' } });
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(again.body.channel.header).toEqual(['Authorization: ***', 'X-Board: ***']);
    const unknownHeld = await fhirFetch(`${server.fhir}/Subscription/${ids.pathologySub}`, { method: 'PUT', headers: as('board'), json: { ...again.body, channel: { ...again.body.channel, header: ['X-Other: ***'] } } });
    expect(unknownHeld.status).toBe(400);
    expect(unknownHeld.body.issue[0].expression).toEqual(['Subscription.channel.header[0]']);
    // Another user reads it (secrets hidden) but may not change it.
    const read = await fhirFetch(`${server.fhir}/Subscription/${ids.pathologySub}`, { headers: as('clinician') });
    expect(read.body.channel.header).toEqual(['Authorization: ***', 'X-Board: ***']);
    const hijack = await fhirFetch(`${server.fhir}/Subscription/${ids.pathologySub}`, { method: 'PUT', headers: as('clinician'), json: { ...again.body, channel: { ...again.body.channel, endpoint: `${hookBase}/hooks/elsewhere` } } });
    expect(hijack.status).toBe(403);
    expect(hijack.body.issue[0].details.text).toContain('only its owner or an administrator may change it');
    const removed = await fhirFetch(`${server.fhir}/Subscription/${ids.pathologySub}`, { method: 'DELETE', headers: as('clinician') });
    expect(removed.status).toBe(403);
    expect(removed.body.issue[0].details.text).toContain('only its owner or an administrator may delete it');
    expect((await fhirFetch(`${server.fhir}/Subscription/${ids.pathologySub}`, { headers: as('clinician') })).status).toBe(200);
    // Without patient._in, the board member's access still confines what reaches the endpoint.
    const broad = await subscribe(`DiagnosticReport?category=${PATHOLOGY}`, { endpoint: `${hookBase}/hooks/all-pathology`, payload: 'application/fhir+json' }, tokens.board);
    expect(broad.status, JSON.stringify(broad.body)).toBe(201);
    ids.broadSub = broad.body.id;
    const imaging = await subscribe(`ImagingStudy?patient._in=Group/${BOARD}`, { endpoint: `${hookBase}/hooks/imaging` }, tokens.board);
    expect(imaging.status, JSON.stringify(imaging.body)).toBe(201);
    expect(imaging.body.status).toBe('active');
  });

  it('notifies once, with the report and the headers, when pathology for a board patient is ingested as HL7 v2', async () => {
    const result = await ingestOk(server.url, await readFile(FIXTURE, 'utf8'));
    expect(result.label).toBe('ORU^R01 pathology');
    const [hit] = await until('the pathology notification', () => at('/hooks/pathology').length > 0 && at('/hooks/pathology'));
    expect(hit!.headers.authorization).toBe('Bearer coordinator-secret');
    expect(hit!.headers['x-board']).toBe('breast');
    expect(hit!.headers['content-type']).toBe('application/fhir+json');
    const report = JSON.parse(hit!.body);
    expect(report.resourceType).toBe('DiagnosticReport');
    expect(report.subject.reference).toBe(`Patient/${ids.anna}`);
    expect(report.category.flatMap((c: any) => c.coding.map((x: any) => `${x.system}|${x.code}`))).toContain(PATHOLOGY);
    ids.report = report.id;
    // The imaging Subscription is not about reports: nothing went there.
    expect(at('/hooks/imaging')).toHaveLength(0);
  });

  it('does not notify for a patient who is not on the board', async () => {
    const result = await ingestOk(server.url, await otherPatientsReport());
    expect(result.label).toBe('ORU^R01 pathology');
    // Matching runs from the write's outbox entry before the message is answered: nothing was queued for it.
    expect(await server.services.outbox.pending()).toBe(0);
    const queued = await server.services.subscriptions.queue.find({ subscription: ids.pathologySub }).toArray();
    expect(queued.map((n) => n.resource)).toEqual([`DiagnosticReport/${ids.report}`]);
    // The broad Subscription matched it, but its owner may not read it: skipped, never sent.
    const other = await until('the broad Subscription\'s notifications settled', async () => {
      const all = await server.services.subscriptions.queue.find({ subscription: ids.broadSub }).toArray();
      return all.length === 2 && all.every((n) => n.state !== 'pending') && all;
    });
    expect(other.find((n) => n.resource === `DiagnosticReport/${ids.report}`)?.state).toBe('delivered');
    expect(other.find((n) => n.resource !== `DiagnosticReport/${ids.report}`)?.state).toBe('skipped');
    expect(at('/hooks/all-pathology').map((r) => JSON.parse(r.body).id)).toEqual([ids.report]);
    expect(at('/hooks/pathology')).toHaveLength(1);
  });

  it('pings the imaging Subscription (no body) when an ImagingStudy of a board patient is written', async () => {
    const study = await create(server.fhir, {
      resourceType: 'ImagingStudy', status: 'available', subject: { reference: `Patient/${ids.anna}` },
      identifier: [{ system: 'urn:dicom:uid', value: 'urn:oid:2.25.4242' }], modality: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: 'MG' }],
    } as Resource);
    const [ping] = await until('the imaging notification', () => at('/hooks/imaging').length > 0 && at('/hooks/imaging'));
    expect(ping!.body).toBe('');
    expect(ping!.headers['content-type']).toBeUndefined();
    // Marked delivered once the endpoint's answer is back, which may be just after the ping is seen here.
    const queued = await until('the imaging notification marked delivered', async () => {
      const all = await server.services.subscriptions.queue.find({ resource: `ImagingStudy/${study.id}` }).toArray();
      return all.every((n) => n.state !== 'pending') && all;
    });
    expect(queued.map((n) => n.state)).toEqual(['delivered']);
  });

  it('records each notification in the access audit, naming the patient, the resource and the endpoint', async () => {
    const events = await until('the AuditEvent of the notification', async () => {
      const r = await fhirFetch(`${server.fhir}/AuditEvent?patient=Patient/${ids.anna}&subtype=notify`);
      return r.body.entry?.length ? (r.body.entry as any[]).map((e) => e.resource) : undefined;
    });
    const names = (e: any): string[] => e.entity.map((x: any) => x.what?.reference);
    const reportEvent = events.find((e: any) => names(e).includes(`DiagnosticReport/${ids.report}`) && names(e).includes(`Subscription/${ids.pathologySub}`));
    expect(reportEvent, JSON.stringify(events)).toBeDefined();
    expect(names(reportEvent)).toContain(`Patient/${ids.anna}`);
    // On behalf of the coordinator, whose access the notification was checked against.
    expect(reportEvent.agent[0].altId).toBe('board');
    expect(reportEvent.subtype[0].code).toBe('notify');
    expect(reportEvent.entity.find((x: any) => x.role?.code === '24').description).toContain(`POST ${hookBase}/hooks/pathology`);
  });

  it('refuses an endpoint outside IDR_SUBSCRIPTION_ENDPOINTS, and criteria it cannot match, naming what is wrong', async () => {
    const elsewhere = await subscribe('DiagnosticReport?category=PAT', { endpoint: 'http://169.254.169.254/latest/meta-data' });
    expect(elsewhere.status).toBe(400);
    expect(elsewhere.body.issue[0].details.text).toContain('Subscription.channel.endpoint: "http://169.254.169.254/latest/meta-data" is not an allowed endpoint');
    expect(elsewhere.body.issue[0].expression).toEqual(['Subscription.channel.endpoint']);
    const unknown = await subscribe('DiagnosticReport?foo=bar', { endpoint: `${hookBase}/hooks/pathology` });
    expect(unknown.status).toBe(400);
    expect(unknown.body.issue[0].details.text).toBe('Subscription.criteria: unknown search parameter "foo" for DiagnosticReport');
    const websocket = await fhirFetch(`${server.fhir}/Subscription`, { method: 'POST', json: { resourceType: 'Subscription', status: 'requested', reason: 'x', criteria: 'ImagingStudy', channel: { type: 'websocket' } } });
    expect(websocket.status).toBe(400);
    expect(websocket.body.issue[0].details.text).toContain('Subscription.channel.type');
  });

  it('puts a Subscription whose endpoint keeps failing into error after the retries, without failing the write', async () => {
    const broken = await subscribe(`Observation?subject=Patient/${ids.anna}`, { endpoint: `${hookBase}/hooks/broken` });
    expect(broken.status, JSON.stringify(broken.body)).toBe(201);
    const obs = await fhirFetch(`${server.fhir}/Observation`, {
      method: 'POST',
      json: { resourceType: 'Observation', status: 'final', subject: { reference: `Patient/${ids.anna}` }, code: { coding: [{ system: 'http://loinc.org', code: '718-7' }] }, valueQuantity: { value: 7.9, unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' } },
    });
    expect(obs.status).toBe(201);
    const errored = await until('the Subscription in error', async () => {
      const r = await fhirFetch(`${server.fhir}/Subscription/${broken.body.id}`);
      return r.body.status === 'error' ? r.body : undefined;
    });
    expect(errored.error).toContain('HTTP 500');
    expect(errored.error).toContain('failed 3 times');
    expect(at('/hooks/broken')).toHaveLength(3);
    // Written again as requested, it is active again.
    const resumed = await fhirFetch(`${server.fhir}/Subscription/${broken.body.id}`, { method: 'PUT', json: { ...errored, status: 'requested' } });
    expect(resumed.status).toBe(200);
    expect(resumed.body.status).toBe('active');
    expect(resumed.body.error).toBeUndefined();
  });

  it('lets neither a patient nor a data scientist subscribe', async () => {
    await create(server.fhir, patient('999999308', { name: [{ family: 'Demo', given: ['Patient'] }] }));
    const patientToken = await userToken(server.url, 'patient', 'openid fhirUser launch/patient patient/*.rs patient/Subscription.cruds');
    const asPatient = await subscribe(`DiagnosticReport?subject=Patient/${ids.anna}`, { endpoint: `${hookBase}/hooks/pathology` }, patientToken);
    expect(asPatient.status).toBe(403);
    const scientistToken = await userToken(server.url, 'scientist', 'openid fhirUser user/Group.cruds user/Subscription.cruds');
    const asScientist = await subscribe(`DiagnosticReport?patient._in=Group/${BOARD}`, { endpoint: `${hookBase}/hooks/pathology` }, scientistToken);
    expect(asScientist.status).toBe(403);
    expect(at('/hooks/pathology')).toHaveLength(1);
  });

  it('declares Subscription and its rest-hook channel in the CapabilityStatement', async () => {
    const cap = await fhirFetch(`${server.fhir}/metadata`);
    const sub = cap.body.rest[0].resource.find((r: any) => r.type === 'Subscription');
    expect(sub.interaction.map((i: any) => i.code)).toContain('create');
    expect(sub.documentation).toContain('rest-hook');
    expect(sub.documentation).toContain('patient._in=Group/{id}');
  });
});


describe('Subscriptions across a restart', () => {
  it('a write whose follow-up a stopped process did not run is notified by the next start', async () => {
    const env = { PORT: '0', HOST: '127.0.0.1', MONGODB_URL: inject('mongoUrl'), IDR_DB_NAME: `idr_test_${randomBytes(6).toString('hex')}`, LOG_LEVEL: 'silent', NODE_ENV: 'test', IDR_MLLP_PORT: 'off', IDR_SUBSCRIPTION_ENDPOINTS: `${hookBase}/hooks/` };
    const admin: RequestContext = { actor: 'coordinator', purpose: 'tumour-board', requestId: 'restart', access: { principal: { subject: 'coordinator', issuer: '', role: 'admin' }, unrestricted: false, scopes: parseScopes('system/*.cruds'), restrictedNeedsBreakGlass: false } };
    let second: RunningServer | undefined;
    try {
      const first = await startServer(loadConfig(env));
      const { repo, outbox } = first.services;
      const pid = (await repo.create(admin, patient('999966735'))).resource.id as string;
      const sub = await repo.create(admin, { resourceType: 'Subscription', status: 'requested', reason: 'restart', criteria: `DiagnosticReport?subject=Patient/${pid}`, channel: { type: 'rest-hook', endpoint: `${hookBase}/hooks/restart`, payload: 'application/fhir+json' } } as Resource);
      expect((sub.resource as any).status).toBe('active');
      // Written the way ingestion writes (its follow-up left to the caller), recorded in the outbox,
      // then stopped before the follow-up ran: what a crash between commit and notification leaves.
      const report = (await repo.create(systemContext('ingestion'), { resourceType: 'DiagnosticReport', status: 'final', code: { text: 'Pathology report' }, subject: { reference: `Patient/${pid}` } } as Resource)).resource;
      await outbox.add({ refs: [`DiagnosticReport/${report.id}/_history/1`], tasks: [TIMELINE_TASK] });
      await first.close();
      expect(at('/hooks/restart')).toHaveLength(0);

      second = await startServer(loadConfig(env));
      await second.services.recovery;
      const [hit] = await until('the notification after the restart', () => at('/hooks/restart').length > 0 && at('/hooks/restart'));
      expect(JSON.parse(hit!.body).id).toBe(report.id);
      expect(await second.services.outbox.pending()).toBe(0);
    } finally {
      await second?.services.database.db.dropDatabase().catch(() => undefined);
      await second?.close();
    }
  });
});
