import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SignJWT, importJWK, type JWK } from 'jose';
import type { AuditEvent, Bundle, DocumentReference, Observation } from '@medplum/fhirtypes';
import { clientCredentialsToken, fhirFetch, startTestServer, type TestServer } from './support/server.ts';
import { userToken } from './support/auth.ts';
import { DEMO_PATIENT_BSN } from '../api/auth/provider-accounts.ts';
import { labObservation, patient } from './support/factory.ts';
import { HB, labMessage, newBsn } from './fixtures/ingest/messages.ts';

/**
 * Who may see what, through the running server with real tokens from its own provider: every
 * route refuses anonymous and bad tokens; each role is allowed exactly its share (the role ×
 * endpoint matrix); scopes apply to search results and _include; restricted records need
 * break-the-glass; every access and every refusal leaves an AuditEvent naming patient and actor.
 */

let server: TestServer;
let dir: string;
const ids = { onBoard: '', offBoard: '', restricted: '', obsOnBoard: '', obsOffBoard: '', disposable: '' };
const tokens: Record<string, string> = {};
const INGEST_CLIENT = { id: 'interface-engine', secret: 'interface-engine-secret-1' };

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'idr-security-'));
  const clientsFile = path.join(dir, 'clients.json');
  await writeFile(clientsFile, JSON.stringify([{ client_id: INGEST_CLIENT.id, client_secret: INGEST_CLIENT.secret, role: 'ingestion', scope: 'idr/ingest', name: 'Interface engine' }]));
  server = await startTestServer({ IDR_AUTH_CLIENTS_FILE: clientsFile });
  const put = async (r: { resourceType: string; id?: string }) => {
    const res = await fhirFetch(`${server.fhir}/${r.resourceType}${r.id ? `/${r.id}` : ''}`, { method: r.id ? 'PUT' : 'POST', json: r });
    expect(res.status, JSON.stringify(res.body)).toBeLessThan(300);
    return res.body.id as string;
  };
  // The demo patient user is the patient with this BSN: the patient token's context is this patient.
  ids.onBoard = await put(patient(DEMO_PATIENT_BSN));
  ids.offBoard = await put(patient('999922230'));
  ids.restricted = await put(patient('999933340', { meta: { security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'R', display: 'restricted' }] } }));
  ids.obsOnBoard = await put(labObservation(ids.onBoard, 'Hb on board'));
  ids.obsOffBoard = await put(labObservation(ids.offBoard, 'Hb off board'));
  await put(labObservation(ids.restricted, 'Hb restricted'));
  await put({ resourceType: 'Group', id: 'tumour-board-breast', type: 'person', actual: true, name: 'Breast MDT', member: [{ entity: { reference: `Patient/${ids.onBoard}` } }] } as { resourceType: string; id: string });
  const scope = 'openid fhirUser user/*.cruds system/*.cruds patient/*.rs launch/patient idr/ingest idr/audit';
  for (const user of ['clinician', 'board', 'scientist', 'admin', 'patient']) tokens[user] = await userToken(server.url, user, scope);
  tokens.ingestion = await clientCredentialsToken(server.url, INGEST_CLIENT, 'idr/ingest');
  tokens.system = server.token;
}, 120_000);
afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

const bearer = (who: string): Record<string, string> => ({ authorization: `Bearer ${tokens[who]}` });

/** One call of the matrix. */
interface Call {
  name: string;
  method?: string;
  path: () => string;
  body?: () => unknown;
  contentType?: string;
}

const GRAPHQL_PATIENT = (id: string): unknown => ({ query: `{ patient(id: "${id}") { id } }` });

const CALLS: Record<string, Call> = {
  readOwnPatient: { name: 'GET Patient (on the board, the patient user)', path: () => `/fhir/Patient/${ids.onBoard}` },
  readOtherPatient: { name: 'GET Patient (not on the board)', path: () => `/fhir/Patient/${ids.offBoard}` },
  readRestricted: { name: 'GET Patient (restricted record)', path: () => `/fhir/Patient/${ids.restricted}` },
  searchObs: { name: 'GET Observation?subject=…', path: () => `/fhir/Observation?subject=Patient/${ids.onBoard}` },
  createObs: { name: 'POST Observation', method: 'POST', path: () => '/fhir/Observation', body: () => labObservation(ids.onBoard, 'new'), contentType: 'application/fhir+json' },
  deleteObs: { name: 'DELETE Observation', method: 'DELETE', path: () => `/fhir/Observation/${ids.disposable}` },
  graphql: { name: 'POST /graphql patient', method: 'POST', path: () => '/graphql', body: () => GRAPHQL_PATIENT(ids.onBoard), contentType: 'application/json' },
  auditSearch: { name: 'GET AuditEvent?patient=…', path: () => `/fhir/AuditEvent?patient=Patient/${ids.onBoard}` },
  inbox: { name: 'GET /ingest/messages', path: () => '/ingest/messages' },
  ingest: { name: 'POST /ingest/hl7v2', method: 'POST', path: () => '/ingest/hl7v2', body: () => labMessage({ controlId: `SEC${Date.now()}${Math.random().toString(36).slice(2, 6)}`, bsn: newBsn(), filler: `F${Date.now()}`, results: [HB] }), contentType: 'x-application/hl7-v2+er7' },
  groupRead: { name: 'GET Group (cohort)', path: () => '/fhir/Group/tumour-board-breast' },
};

async function call(who: string | undefined, c: Call, extra: Record<string, string> = {}): ReturnType<typeof fhirFetch> {
  const body = c.body?.();
  return fhirFetch(`${server.url}${c.path()}`, {
    method: c.method ?? 'GET',
    headers: { ...(who ? bearer(who) : {}), ...(c.contentType ? { 'content-type': c.contentType } : {}), ...extra },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
}

describe('every route refuses anonymous access', () => {
  it.each(Object.entries(CALLS))('%s without a token → 401 with a Bearer challenge and an OperationOutcome', async (_k, c) => {
    const res = await fetch(`${server.url}${c.path()}`, { method: c.method ?? 'GET', ...(c.body ? { body: JSON.stringify(c.body()), headers: { 'content-type': c.contentType ?? 'application/json' } } : {}) });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="IDR"/);
    const outcome = (await res.json()) as { resourceType: string; issue: { details?: { text?: string } }[] };
    expect(outcome.resourceType).toBe('OperationOutcome');
    expect(outcome.issue[0]?.details?.text).toContain('bearer token');
  });

  it('leaves the health checks, the CapabilityStatement and the discovery documents open', async () => {
    for (const p of ['/healthz', '/readyz', '/fhir/metadata', '/fhir/.well-known/smart-configuration', '/oauth/.well-known/openid-configuration']) {
      expect((await fetch(`${server.url}${p}`)).status, p).toBe(200);
    }
  });

  it('the CapabilityStatement names SMART-on-FHIR and the token endpoint; SMART discovery names the same', async () => {
    const cs = (await (await fetch(`${server.fhir}/metadata`)).json()) as { rest: { security?: { service?: { coding?: { code?: string }[] }[]; extension?: { extension?: { url: string; valueUri?: string }[] }[] } }[] };
    const security = cs.rest[0]?.security;
    expect(security?.service?.[0]?.coding?.[0]?.code).toBe('SMART-on-FHIR');
    const token = security?.extension?.[0]?.extension?.find((e) => e.url === 'token')?.valueUri;
    const smart = (await (await fetch(`${server.fhir}/.well-known/smart-configuration`)).json()) as { token_endpoint: string; capabilities: string[]; grant_types_supported?: string[] };
    expect(token).toBe(smart.token_endpoint);
    expect(smart.capabilities).toEqual(expect.arrayContaining(['permission-v2', 'client-confidential-symmetric']));
  });

  it('ignores a forged actor header: the audit names the token subject', async () => {
    const res = await fetch(`${server.fhir}/Patient/${ids.onBoard}`, { headers: { 'x-idr-actor': 'someone-else', ...bearer('clinician') } });
    expect(res.status).toBe(200);
    await server.services.audit.flush();
    const events = await auditEvents(`patient=Patient/${ids.onBoard}&_count=200`);
    expect(JSON.stringify(events)).not.toContain('someone-else');
  });
});

describe('bad tokens', () => {
  async function forged(claims: Record<string, unknown>, expSeconds: number, key?: { jwk: JWK; kid: string }): Promise<string> {
    const signing = key ?? (await providerKey());
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ scope: 'system/*.cruds', idr_role: 'admin', client_id: 'x', ...claims })
      .setProtectedHeader({ alg: 'RS256', kid: signing.kid, typ: 'at+jwt' })
      .setIssuer(String(claims.iss ?? server.security.verifier.issuer))
      .setAudience(String(claims.aud ?? server.security.verifier.audience))
      .setSubject('forger')
      .setIssuedAt(now - 7200)
      .setExpirationTime(now + expSeconds)
      .sign(await importJWK(signing.jwk, 'RS256'));
  }
  /** The provider's own signing key, read from its database document: tokens a thief of that key could mint. */
  async function providerKey(): Promise<{ jwk: JWK; kid: string }> {
    const docs = await server.services.database.db.collection('oauth').find({}).toArray();
    const text = JSON.stringify(docs);
    const jwk = (JSON.parse(text) as unknown[]).flatMap(function walk(v: unknown): JWK[] {
      if (Array.isArray(v)) return v.flatMap(walk);
      if (v && typeof v === 'object') {
        const o = v as Record<string, unknown>;
        if (o.kty === 'RSA' && typeof o.d === 'string') return [o as JWK];
        return Object.values(o).flatMap(walk);
      }
      return [];
    })[0];
    if (!jwk?.kid) throw new Error('no RSA signing key found in the provider collection');
    return { jwk, kid: jwk.kid };
  }

  it.each([
    ['expired', async () => forged({}, -60), /expired/],
    ['for another audience', async () => forged({ aud: 'https://other.example/fhir' }, 600), /audience/],
    ['from another issuer', async () => forged({ iss: 'https://evil.example' }, 600), /issued by/],
    ['signed with another key', async () => {
      const { generateKeyPair, exportJWK } = await import('jose');
      const pair = await generateKeyPair('RS256', { extractable: true });
      const kid = (await providerKey()).kid;
      return forged({}, 600, { jwk: { ...(await exportJWK(pair.privateKey)), kid }, kid });
    }, /signature/],
    ['not a JWT', async () => 'abc.def.ghi', /not a valid signed JWT/],
  ])('a token %s → 401 naming the problem', async (_what, make, text) => {
    const res = await fetch(`${server.fhir}/Patient/${ids.onBoard}`, { headers: { authorization: `Bearer ${await make()}` } });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    expect(JSON.stringify(await res.json())).toMatch(text);
  });

  it('a valid token without an IDR role → 403', async () => {
    const key = await providerKey();
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ scope: 'user/*.rs' })
      .setProtectedHeader({ alg: 'RS256', kid: key.kid })
      .setIssuer(server.security.verifier.issuer)
      .setAudience(server.security.verifier.audience)
      .setSubject('nobody')
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .sign(await importJWK(key.jwk, 'RS256'));
    const res = await fetch(`${server.fhir}/Patient/${ids.onBoard}`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(403);
    expect(JSON.stringify(await res.json())).toContain('no IDR role');
  });
});

describe('the role × endpoint matrix', () => {
  // Expected status per call for each role (2xx written as 200 / 201).
  const MATRIX: Record<string, Record<string, number>> = {
    clinician: { readOwnPatient: 200, readOtherPatient: 200, readRestricted: 403, searchObs: 200, createObs: 403, deleteObs: 403, graphql: 200, auditSearch: 403, inbox: 403, ingest: 403, groupRead: 200 },
    board: { readOwnPatient: 200, readOtherPatient: 403, readRestricted: 403, searchObs: 200, createObs: 403, deleteObs: 403, graphql: 200, auditSearch: 403, inbox: 403, ingest: 403, groupRead: 200 },
    scientist: { readOwnPatient: 403, readOtherPatient: 403, readRestricted: 403, searchObs: 403, createObs: 403, deleteObs: 403, graphql: 200, auditSearch: 403, inbox: 403, ingest: 403, groupRead: 200 },
    ingestion: { readOwnPatient: 403, readOtherPatient: 403, readRestricted: 403, searchObs: 403, createObs: 403, deleteObs: 403, graphql: 200, auditSearch: 403, inbox: 200, ingest: 201, groupRead: 403 },
    patient: { readOwnPatient: 200, readOtherPatient: 403, readRestricted: 403, searchObs: 200, createObs: 403, deleteObs: 403, graphql: 200, auditSearch: 403, inbox: 403, ingest: 403, groupRead: 403 },
    admin: { readOwnPatient: 200, readOtherPatient: 200, readRestricted: 200, searchObs: 200, createObs: 201, deleteObs: 200, graphql: 200, auditSearch: 200, inbox: 200, ingest: 201, groupRead: 200 },
  };

  for (const [role, expected] of Object.entries(MATRIX)) {
    it(`${role}: each call is allowed or refused as its role says`, async () => {
      const got: Record<string, number> = {};
      const made = await fhirFetch(`${server.fhir}/Observation`, { method: 'POST', json: labObservation(ids.offBoard, `to delete by ${role}`), headers: bearer('system') });
      ids.disposable = made.body.id as string;
      for (const key of Object.keys(expected)) {
        const res = await call(role, CALLS[key] as Call);
        got[key] = res.status === 204 ? 200 : res.status;
        if (res.status === 403) expect(res.body.resourceType, `${role} ${key}`).toBe('OperationOutcome');
      }
      expect(got).toEqual(expected);
    });
  }

  it('GraphQL answers a refused patient as an error naming the reason, not data', async () => {
    const res = await call('scientist', CALLS.graphql as Call);
    expect(res.body.data?.patient ?? null).toBeNull();
    expect(JSON.stringify(res.body.errors)).toMatch(/does not allow read on Patient/);
  });

  it('a patient sees only their own compartment in searches', async () => {
    const res = await fhirFetch(`${server.fhir}/Observation?_count=100`, { headers: bearer('patient') });
    expect(res.status).toBe(200);
    const subjects = new Set((res.body as Bundle<Observation>).entry?.map((e) => e.resource?.subject?.reference));
    expect([...subjects]).toEqual([`Patient/${ids.onBoard}`]);
  });

  it('a board member sees only the board’s patients in searches (others withheld)', async () => {
    const res = await fhirFetch(`${server.fhir}/Observation?_count=100`, { headers: bearer('board') });
    const subjects = new Set((res.body as Bundle<Observation>).entry?.map((e) => e.resource?.subject?.reference));
    expect([...subjects]).toEqual([`Patient/${ids.onBoard}`]);
  });
});

describe('scopes on search results and _include', () => {
  it('a token limited to Observation reads gets Observations but not their included Patients', async () => {
    const token = await clientCredentialsToken(server.url, undefined, 'system/Observation.rs');
    const res = await fhirFetch(`${server.fhir}/Observation?subject=Patient/${ids.onBoard}&_include=Observation:subject`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    const types = (res.body as Bundle).entry?.map((e) => e.resource?.resourceType);
    expect(types).toContain('Observation');
    expect(types).not.toContain('Patient');
    const patientRead = await fhirFetch(`${server.fhir}/Patient/${ids.onBoard}`, { headers: { authorization: `Bearer ${token}` } });
    expect(patientRead.status).toBe(403);
    expect(JSON.stringify(patientRead.body)).toContain('does not allow read on Patient');
  });

  it('a clinician’s search leaves out the restricted patient’s data', async () => {
    const res = await fhirFetch(`${server.fhir}/Observation?_count=100`, { headers: bearer('clinician') });
    const subjects = (res.body as Bundle<Observation>).entry?.map((e) => e.resource?.subject?.reference) ?? [];
    expect(subjects).toContain(`Patient/${ids.offBoard}`);
    expect(subjects).not.toContain(`Patient/${ids.restricted}`);
  });
});

describe('the original of a letter', () => {
  it('is readable by whoever may read its DocumentReference, not by others', async () => {
    const posted = await fhirFetch(`${server.url}/ingest/documents?patient=http://fhir.nl/fhir/NamingSystem/bsn|${DEMO_PATIENT_BSN}&title=MDT%20letter`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'Dear colleague, the MDT advised surgery.' });
    expect(posted.status, JSON.stringify(posted.body)).toBe(201);
    const docs = await fhirFetch(`${server.fhir}/DocumentReference?subject=Patient/${ids.onBoard}`, { headers: bearer('clinician') });
    const url = (docs.body as Bundle<DocumentReference>).entry?.[0]?.resource?.content[0]?.attachment.url ?? '';
    expect(url).toMatch(/\/raw$/);
    const asClinician = await fetch(new URL(url, server.url), { headers: bearer('clinician') });
    expect(asClinician.status).toBe(200);
    expect(await asClinician.text()).toContain('the MDT advised surgery');
    expect((await fetch(new URL(url, server.url), { headers: bearer('scientist') })).status).toBe(403);
    expect((await fetch(new URL(url, server.url))).status).toBe(401);
  });
});

describe('break-the-glass', () => {
  it('a clinician reads a restricted record by stating a reason; the access is flagged BTG and listable', async () => {
    const refused = await call('clinician', CALLS.readRestricted as Call);
    expect(refused.status).toBe(403);
    expect(JSON.stringify(refused.body)).toContain('break the glass');
    const allowed = await call('clinician', CALLS.readRestricted as Call, { 'x-idr-break-glass': 'Emergency: patient on the ward, record needed now' });
    expect(allowed.status).toBe(200);
    await server.services.audit.flush();
    const events = await auditEvents(`patient=Patient/${ids.restricted}&_count=200`);
    const btg = events.filter((e) => e.purposeOfEvent?.some((p) => p.coding?.some((c) => c.code === 'BTG')));
    expect(btg).toHaveLength(1);
    expect(JSON.stringify(btg[0])).toContain('Emergency: patient on the ward');
    // Listable for review in one search, whatever the patient.
    const review = await auditEvents('_security=http://terminology.hl7.org/CodeSystem/v3-ActReason|BTG');
    expect(review.map((e) => e.id)).toEqual([btg[0]?.id]);
  });

  it('is not for other roles', async () => {
    const res = await call('scientist', CALLS.readRestricted as Call, { 'x-idr-break-glass': 'curious about this one' });
    expect(res.status).toBe(403);
    expect(JSON.stringify(res.body)).toContain('Break-the-glass is for clinicians');
  });
});

describe('the audit trail through the API', () => {
  it('cannot be created, changed or deleted, not even by an administrator', async () => {
    await server.services.audit.flush();
    const [first] = await auditEvents('_count=1');
    expect(first?.id).toBeDefined();
    const put = await fhirFetch(`${server.fhir}/AuditEvent/${first?.id}`, { method: 'PUT', json: { ...first, outcome: '0', outcomeDesc: 'tampered' }, headers: bearer('admin') });
    expect(put.status).toBe(403);
    const del = await fhirFetch(`${server.fhir}/AuditEvent/${first?.id}`, { method: 'DELETE', headers: bearer('system') });
    expect(del.status).toBe(403);
    const post = await fhirFetch(`${server.fhir}/AuditEvent`, { method: 'POST', json: { ...first, id: undefined }, headers: bearer('system') });
    expect(post.status).toBe(403);
    expect(await server.services.audit.verify()).toMatchObject({ ok: true });
  });
});

describe('the patient’s own view of who accessed their record', () => {
  it('a patient user finds the accesses to their record, with the clinician named; the patient is their own Patient, not a new one', async () => {
    expect((await call('clinician', CALLS.readOwnPatient as Call)).status).toBe(200);
    expect((await call('patient', CALLS.readOwnPatient as Call)).status).toBe(200);
    await server.services.audit.flush();
    const res = await fhirFetch(`${server.fhir}/Patient/${ids.onBoard}/$access-log?_count=200`, { headers: bearer('patient') });
    expect(res.status).toBe(200);
    const events = ((res.body as Bundle<AuditEvent>).entry ?? []).map((e) => e.resource as AuditEvent);
    expect(events.some((e) => e.agent?.some((a) => a.name === 'Dr. A. Jansen'))).toBe(true);
    const own = events.filter((e) => e.agent?.some((a) => a.requestor && a.who?.reference === `Patient/${ids.onBoard}`));
    expect(own.length).toBeGreaterThan(0);
    const patients = await fhirFetch(`${server.fhir}/Patient?_count=100`, { headers: bearer('system') });
    const loginPatients = (patients.body as Bundle).entry?.filter((e) => JSON.stringify(e.resource).includes(server.security.verifier.issuer)) ?? [];
    expect(loginPatients).toHaveLength(0);
    // No other patient appears in the patient's view, and the raw audit trail is not theirs to search.
    for (const e of events) for (const x of e.entity ?? []) expect(x.what?.reference).toBe(`Patient/${ids.onBoard}`);
    expect(JSON.stringify(events)).not.toContain(ids.offBoard);
    expect((await fhirFetch(`${server.fhir}/Patient/${ids.offBoard}/$access-log`, { headers: bearer('patient') })).status).toBe(403);
    expect((await fhirFetch(`${server.fhir}/AuditEvent?patient=Patient/${ids.onBoard}`, { headers: bearer('patient') })).status).toBe(403);
    expect((await fhirFetch(`${server.fhir}/Patient/${ids.onBoard}/$access-log`, { headers: bearer('clinician') })).status).toBe(403);
  });
});

describe('every read type leaves an AuditEvent with the right patient and actor', () => {
  it('read, search, $everything, history, GraphQL and refusals', async () => {
    const before = new Date(Date.now() - 1000).toISOString();
    const reads: [string, string][] = [
      ['read', `/fhir/Patient/${ids.offBoard}`],
      ['search', `/fhir/Observation?subject=Patient/${ids.offBoard}`],
      ['operation', `/fhir/Patient/${ids.offBoard}/$everything`],
      ['history', `/fhir/Patient/${ids.offBoard}/_history`],
      ['vread', `/fhir/Patient/${ids.offBoard}/_history/1`],
    ];
    for (const [, p] of reads) expect((await fhirFetch(`${server.url}${p}`, { headers: bearer('clinician') })).status, p).toBe(200);
    expect((await call('clinician', { name: 'graphql', method: 'POST', path: () => '/graphql', body: () => GRAPHQL_PATIENT(ids.offBoard), contentType: 'application/json' })).status).toBe(200);
    expect((await call('board', CALLS.readOtherPatient as Call)).status).toBe(403);
    await server.services.audit.flush();
    const events = await auditEvents(`patient=Patient/${ids.offBoard}&date=ge${before}&_count=200`);
    const byClinician = events.filter((e) => e.agent?.some((a) => a.requestor && a.name === 'Dr. A. Jansen'));
    const subtypes = byClinician.map((e) => e.subtype?.[0]?.code);
    for (const s of ['read', 'search', 'operation', 'history', 'vread', 'graphql']) expect(subtypes, s).toContain(s);
    for (const e of byClinician) expect(e.outcome).toBe('0');
    const denied = events.filter((e) => e.outcome === '4');
    expect(denied.length).toBeGreaterThanOrEqual(1);
    expect(JSON.stringify(denied[0]?.agent)).toContain('Dr. B. Bakker');
  });
});

async function auditEvents(query: string): Promise<AuditEvent[]> {
  const res = await fhirFetch(`${server.fhir}/AuditEvent?${query}`, { headers: bearer('system') });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return ((res.body as Bundle<AuditEvent>).entry ?? []).map((e) => e.resource as AuditEvent);
}
