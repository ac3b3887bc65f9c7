import { createHash, randomBytes } from 'node:crypto';
import { Browser } from './support/auth.ts';
import { DEMO_PATIENT_BSN } from '../api/auth/provider-accounts.ts';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import express from 'express';
import { createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { createEmbeddedProvider, DEMO_USERS, type EmbeddedProvider } from '../api/auth/provider.ts';
import { loadConfig } from '../api/config.ts';
import { createLogger } from '../api/logger.ts';

const PATIENT_ID = 'pat-demo-1';
const BSN = `http://fhir.nl/fhir/NamingSystem/bsn|${DEMO_PATIENT_BSN}`;

interface Running {
  provider: EmbeddedProvider;
  baseUrl: string;
  audience: string;
  close(): Promise<void>;
}

const mongo = new MongoClient(inject('mongoUrl'));
const dbName = `idr_test_auth_${randomBytes(6).toString('hex')}`;
const tmp = await mkdtemp(path.join(tmpdir(), 'idr-auth-'));
const warn = vi.spyOn(console, 'warn');
const info = vi.spyOn(console, 'info');

/** Starts an express app on a free loopback port with the provider mounted at /oauth, as IDR's app does. */
async function start(env: Record<string, string>, db = dbName): Promise<Running> {
  const app = express();
  // The issuer names the port, so the provider is built once the server listens.
  const mounted: { provider?: EmbeddedProvider } = {};
  app.use('/oauth', (req, res) => mounted.provider!.handler(req, res));
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const audience = `${baseUrl}/fhir`;
  const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', ...env });
  const provider = await createEmbeddedProvider({
    baseUrl,
    audience,
    db: mongo.db(db),
    config,
    logger: createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'),
    findPatient: async (identifier) => (identifier === BSN ? PATIENT_ID : undefined),
  });
  mounted.provider = provider;
  return {
    provider,
    baseUrl,
    audience,
    close: async () => {
      await provider.close();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

async function verify(run: Running, token: string): Promise<JWTPayload> {
  const { payload } = await jwtVerify(token, createLocalJWKSet(run.provider.publicJwks), { issuer: run.provider.issuer, audience: run.audience, algorithms: ['RS256', 'ES256'] });
  return payload;
}

function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

async function tokenRequest(run: Running, form: Record<string, string>, headers: Record<string, string> = {}) {
  const res = await fetch(run.provider.tokenEndpoint, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(form) });
  return { status: res.status, body: (await res.json()) as Record<string, string> };
}

/** Signs in as `username` with the demo app (authorisation code + PKCE) and exchanges the code. */
async function signIn(run: Running, username: string, scope: string, password = 'idr-demo') {
  const browser = new Browser();
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const redirectUri = `${run.baseUrl}/oauth/demo-callback`;
  const authorize = new URL(run.provider.authorizationEndpoint);
  authorize.search = new URLSearchParams({ client_id: 'idr-demo-app', response_type: 'code', redirect_uri: redirectUri, scope, state: 'st4te', code_challenge: challenge, code_challenge_method: 'S256' }).toString();
  const login = await browser.follow(authorize.href, redirectUri);
  expect(login.res.status).toBe(200);
  const html = await login.res.text();
  expect(html).toContain('<label for="username">Username</label>');
  expect(html).toContain('<label for="password">Password</label>');
  expect(html).not.toMatch(/https?:\/\/(?!127\.0\.0\.1)/); // no external assets
  const action = new URL(/<form method="post" action="([^"]+)"/.exec(html)![1]!, login.url).href;
  const submitted = await browser.follow(action, redirectUri, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ username, password }) });
  if (submitted.res.status !== 303 && submitted.res.status !== 302) return { page: submitted, token: undefined };
  const callback = new URL(submitted.location ?? submitted.url);
  expect(callback.searchParams.get('state')).toBe('st4te');
  const code = callback.searchParams.get('code');
  expect(code).toBeTruthy();
  const shown = await fetch(callback);
  expect(await shown.text()).toContain(code!);
  const token = await tokenRequest(run, { grant_type: 'authorization_code', code: code!, redirect_uri: redirectUri, client_id: 'idr-demo-app', code_verifier: verifier });
  return { page: submitted, token };
}

describe('embedded OpenID Connect provider', () => {
  let run: Running;
  let keyFileRun: Running;
  let ingestKey: CryptoKey;

  beforeAll(async () => {
    run = await start({ IDR_DEMO_AUTH: 'true', IDR_TOKEN_TTL_SECONDS: '600' });
    const pair = await generateKeyPair('ES384');
    ingestKey = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'pipeline-1', alg: 'ES384' };
    const file = path.join(tmp, 'clients.json');
    await writeFile(file, JSON.stringify([{ client_id: 'ml-pipeline', name: 'ML pipeline', role: 'ingestion', scope: 'idr/ingest system/*.cruds', jwks: { keys: [jwk] } }]));
    keyFileRun = await start({ IDR_AUTH_CLIENTS_FILE: file }, `${dbName}_clients`);
  });

  afterAll(async () => {
    await run?.close();
    await keyFileRun?.close();
    await mongo.db(dbName).dropDatabase();
    await mongo.db(`${dbName}_clients`).dropDatabase();
    await mongo.close();
    await rm(tmp, { recursive: true, force: true });
  });

  it('publishes its discovery document and keys', async () => {
    const res = await fetch(`${run.provider.issuer}/.well-known/openid-configuration`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as Record<string, unknown>;
    expect(doc.issuer).toBe(`${run.baseUrl}/oauth`);
    expect(doc.token_endpoint).toBe(run.provider.tokenEndpoint);
    expect(doc.authorization_endpoint).toBe(run.provider.authorizationEndpoint);
    expect(doc.code_challenge_methods_supported).toEqual(['S256']);
    expect(doc.grant_types_supported).toEqual(expect.arrayContaining(['authorization_code', 'client_credentials']));
    expect(doc.token_endpoint_auth_methods_supported).toEqual(expect.arrayContaining(['client_secret_basic', 'private_key_jwt']));
    const jwks = (await (await fetch(String(doc.jwks_uri))).json()) as { keys: { kid: string; d?: string }[] };
    expect(jwks.keys.map((k) => k.kid)).toEqual(run.provider.publicJwks.keys.map((k) => k.kid));
    expect(jwks.keys.every((k) => k.d === undefined) && run.provider.publicJwks.keys.every((k) => !('d' in k))).toBe(true);
    const smart = run.provider.smartConfiguration();
    expect(smart.token_endpoint).toBe(run.provider.tokenEndpoint);
    expect(smart.capabilities).toContain('client-confidential-asymmetric');
  });

  it('gives the demo system client a JWT with its role and system scopes (client credentials, HTTP Basic)', async () => {
    const { status, body } = await tokenRequest(run, { grant_type: 'client_credentials', scope: 'system/*.cruds idr/ingest idr/audit' }, { authorization: basic('idr-demo-client', 'idr-demo-client-secret') });
    expect(status).toBe(200);
    expect(body.token_type).toBe('Bearer');
    expect(Number(body.expires_in)).toBeLessThanOrEqual(600);
    const claims = await verify(run, body.access_token!);
    expect(claims).toMatchObject({ iss: run.provider.issuer, aud: run.audience, sub: 'idr-demo-client', client_id: 'idr-demo-client', idr_role: 'admin' });
    expect(String(claims.scope).split(' ').sort()).toEqual(['idr/audit', 'idr/ingest', 'system/*.cruds']);
    expect(claims.jti).toBeTruthy();
    expect(claims.exp! - claims.iat!).toBe(600);
  });

  it('narrows a system client’s wider or finer request to what it registered', async () => {
    const { status, body } = await tokenRequest(run, { grant_type: 'client_credentials', scope: 'system/Patient.rs idr/audit user/*.rs' }, { authorization: basic('idr-demo-client', 'idr-demo-client-secret') });
    expect(status).toBe(200);
    expect((await verify(run, body.access_token!)).scope).toBe('system/Patient.rs idr/audit');
  });

  it('gives a system client every scope it registered when it names none', async () => {
    const { status, body } = await tokenRequest(run, { grant_type: 'client_credentials' }, { authorization: basic('idr-demo-client', 'idr-demo-client-secret') });
    expect(status).toBe(200);
    expect(String((await verify(run, body.access_token!)).scope).split(' ').sort()).toEqual(['idr/audit', 'idr/ingest', 'system/*.cruds']);
  });

  it('refuses a wrong client secret', async () => {
    const { status, body } = await tokenRequest(run, { grant_type: 'client_credentials', scope: 'system/*.cruds' }, { authorization: basic('idr-demo-client', 'not-the-secret-at-all') });
    expect(status).toBe(401);
    expect(body.error).toBe('invalid_client');
  });

  it('authenticates a registered client by its signed assertion (private_key_jwt) and grants only what its role allows', async () => {
    const assertion = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES384', kid: 'pipeline-1', typ: 'JWT' })
      .setIssuer('ml-pipeline')
      .setSubject('ml-pipeline')
      .setAudience(keyFileRun.provider.tokenEndpoint)
      .setJti(randomBytes(16).toString('hex'))
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(ingestKey);
    const form = { grant_type: 'client_credentials', scope: 'idr/ingest system/*.cruds', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion };
    const { status, body } = await tokenRequest(keyFileRun, form);
    expect(status).toBe(200);
    const claims = await verify(keyFileRun, body.access_token!);
    expect(claims).toMatchObject({ sub: 'ml-pipeline', client_id: 'ml-pipeline', idr_role: 'ingestion', scope: 'idr/ingest' });
    // The same assertion twice is a replay.
    expect((await tokenRequest(keyFileRun, form)).status).toBe(401);
  });

  it('has no demo client without IDR_DEMO_AUTH', async () => {
    const { status, body } = await tokenRequest(keyFileRun, { grant_type: 'client_credentials', scope: 'system/*.cruds' }, { authorization: basic('idr-demo-client', 'idr-demo-client-secret') });
    expect(status).toBe(401);
    expect(body.error).toBe('invalid_client');
  });

  it('signs a clinician in with the authorisation code flow and PKCE, granting only what the role allows', async () => {
    const { token } = await signIn(run, 'clinician', 'openid fhirUser user/*.rs user/*.cruds');
    expect(token?.status).toBe(200);
    expect(token!.body.id_token).toBeTruthy();
    const claims = await verify(run, token!.body.access_token!);
    expect(claims).toMatchObject({ sub: 'clinician', client_id: 'idr-demo-app', idr_role: 'clinician', name: 'Dr. A. Jansen' });
    // user/*.cruds is narrowed to what the role allows (read and search, its own Subscriptions, cases put on a board's agenda), never granted as asked.
    expect(claims.scope).toBe('user/*.rs user/Subscription.cruds user/Task.c');
    expect(claims.patient).toBeUndefined();
    expect(token!.body.scope).toBe('user/*.rs user/Subscription.cruds user/Task.c');
  });

  it('narrows a data scientist’s request for all patient data to cohorts', async () => {
    const { token } = await signIn(run, 'scientist', 'openid user/*.cruds patient/*.rs');
    const claims = await verify(run, token!.body.access_token!);
    expect(claims).toMatchObject({ idr_role: 'data-scientist', name: 'C. de Vries', scope: 'user/Group.cruds' });
  });

  it('gives a board member the boards they sit on', async () => {
    const { token } = await signIn(run, 'board', 'openid user/Observation.rs');
    const claims = await verify(run, token!.body.access_token!);
    expect(claims).toMatchObject({ idr_role: 'board-member', idr_boards: ['tumour-board-breast'], scope: 'user/Observation.rs' });
  });

  it('shows the form again with an error after a wrong password', async () => {
    const { page, token } = await signIn(run, 'clinician', 'openid user/*.rs', 'wrong-password');
    expect(token).toBeUndefined();
    expect(page.res.status).toBe(400);
    const html = await page.res.text();
    expect(html).toContain('role="alert"');
    expect(html).toContain('Wrong username or password.');
    expect(html).toContain('<form method="post"');
  });

  it('puts the patient in a patient user’s token and token response', async () => {
    const { token } = await signIn(run, 'patient', 'openid fhirUser launch/patient patient/*.rs user/*.rs');
    expect(token?.status).toBe(200);
    expect(token!.body.patient).toBe(PATIENT_ID);
    const claims = await verify(run, token!.body.access_token!);
    expect(claims).toMatchObject({ idr_role: 'patient', patient: PATIENT_ID });
    expect(String(claims.scope).split(' ').sort()).toEqual(['launch/patient', 'patient/*.rs']);
  });

  it('keeps its signing key across restarts and exports the demo accounts', async () => {
    const again = await start({ IDR_DEMO_AUTH: 'true' });
    try {
      expect(again.provider.publicJwks).toEqual(run.provider.publicJwks);
    } finally {
      await again.close();
    }
    expect(DEMO_USERS.map((u) => [u.username, u.role])).toEqual([
      ['clinician', 'clinician'],
      ['board', 'board-member'],
      ['scientist', 'data-scientist'],
      ['admin', 'admin'],
      ['patient', 'patient'],
    ]);
  });

  it('answers a bad authorisation request with its own page: the error, no stack trace', async () => {
    const res = await fetch(`${run.provider.authorizationEndpoint}?client_id=no-such-client&response_type=code&scope=openid`);
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toContain('invalid_client');
    expect(html).not.toMatch(/\bat .+\.(js|ts):\d+/);
    expect(html).not.toContain('googleapis');
  });

  it('prints no oidc-provider development warnings', () => {
    const printed = [...warn.mock.calls, ...info.mock.calls].flat().map(String);
    expect(printed.filter((line) => line.includes('oidc-provider'))).toEqual([]);
  });
});
