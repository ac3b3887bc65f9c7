/**
 * Authentication + access audit benchmark (run on demand: `node bench/security.bench.ts [rounds]`).
 * In one run, against the same database and data (patients with 100 Observations each):
 *  - "off": the FHIR router alone behind the plain request context, every request unrestricted
 *    (no token check, no audit record);
 *  - "on": the real app (createApp with the embedded authorisation server): bearer JWT verified
 *    in process, the access recorded in the audit buffer before the answer goes out, the
 *    background chainer turning records into AuditEvents meanwhile;
 *  - "on" again with the chainer paused (records only buffered): what a request itself waits for,
 *    without the chainer's load on the database;
 *  - "bare": the "off" app plus only the real accessAudit and authenticate middleware (chainer
 *    paused), to tell their cost from that of the real app's other middleware (helmet, access log,
 *    store gate, admission queue).
 * Sequential requests over one keep-alive connection (fetch), the modes' order rotating per round;
 * median and p95 per request. Then the audit trail alone: record() throughput (50 concurrent,
 * group commit) and the chainer's (flush() into hash-chained AuditEvents), and token verification
 * alone. Uses the embedded FerretDB unless MONGODB_URL is set.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import express from 'express';
import type { Observation } from '@medplum/fhirtypes';
import { loadConfig } from '../api/config.ts';
import { startServer } from '../api/server.ts';
import { VERSION } from '../api/app.ts';
import { fhirRouter } from '../api/fhir/routes.ts';
import { requestContext } from '../api/http/context.ts';
import { accessAudit } from '../api/http/access-audit.ts';
import { authenticate } from '../api/auth/authenticate.ts';
import { errorHandler, notFoundHandler } from '../api/http/errors.ts';
import { mergePatients } from '../ingestion/patient-merge.ts';
import { unrestrictedAccess } from '../store/access.ts';
import { systemContext, type RequestContext } from '../store/request-context.ts';
import type { AccessRecord } from '../store/audit-trail.ts';
import { benchEnv } from './bench-auth.ts';

const PATIENTS = 4;
const OBSERVATIONS = 100;
const ROUNDS = Number(process.argv[2] ?? 5);
const PER_ROUND = 40;
const WARMUP = 30;
const RECORDS = 2000;
const CONCURRENCY = 50;
const VERIFY_OPS = 2000;
const CLIENT = { id: 'idr-bench-client', secret: 'idr-bench-client-secret' };

const dataDir = await mkdtemp(path.join(tmpdir(), 'idr-bench-security-'));
const server = await startServer(loadConfig(benchEnv('security', dataDir, { IDR_DEMO_AUTH: 'true', IDR_DEMO_CLIENT_ID: CLIENT.id, IDR_DEMO_CLIENT_SECRET: CLIENT.secret })));
const extraServers: Server[] = [];
try {
  const { services } = server;
  const ctx = systemContext('bench');

  // The data: a few patients with ~100 Observations each, written through the repository.
  const patients: string[] = [];
  const observations: string[] = [];
  for (let p = 0; p < PATIENTS; p++) {
    const patient = (await services.repo.create(ctx, { resourceType: 'Patient', name: [{ family: `Bench${p}`, given: ['Sec'] }], birthDate: '1970-01-01' })).resource;
    patients.push(patient.id as string);
    for (let o = 0; o < OBSERVATIONS; o++) {
      const obs: Observation = {
        resourceType: 'Observation',
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code: o % 2 ? '718-7' : '2345-7', display: o % 2 ? 'Hemoglobin' : 'Glucose' }] },
        subject: { reference: `Patient/${patient.id}` },
        effectiveDateTime: new Date(Date.UTC(2024, 0, 1) + o * 86_400_000).toISOString(),
        valueQuantity: { value: 5 + (o % 7) * 0.3, unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' },
      };
      observations.push((await services.repo.create(ctx, obs)).resource.id as string);
    }
  }

  // "off": the same FHIR router, no token check, no audit. "bare": the same plus only the real
  // authentication and audit middleware (none of the real app's other middleware).
  const fhirBase = `${server.url}/fhir`;
  const router = fhirRouter({ repo: services.repo, baseUrl: fhirBase, version: VERSION, maxBodyBytes: services.config.IDR_MAX_BODY_BYTES, maxBundleEntries: services.config.IDR_BUNDLE_MAX_ENTRIES, timeline: services.timeline, mergePatients: (c, source, target) => mergePatients({ repo: services.repo, timeline: services.timeline }, c, source, target), asyncJobs: services.asyncJobs });
  const listen = async (...middleware: express.RequestHandler[]): Promise<string> => {
    const app = express();
    app.disable('x-powered-by');
    app.set('query parser', 'simple');
    app.set('etag', false);
    app.use(requestContext);
    app.use('/fhir', ...middleware, router);
    app.use(notFoundHandler);
    app.use(errorHandler(services.logger));
    const s = createServer(app);
    extraServers.push(s);
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
  };
  const offUrl = await listen((_req, res, next) => {
    (res.locals.ctx as RequestContext).access = unrestrictedAccess('bench');
    next();
  });
  const bareUrl = await listen(
    accessAudit(services.audit, services.logger, 'fhir'),
    authenticate({ verifier: server.security.verifier, database: services.database, roleClaim: services.config.IDR_OIDC_ROLE_CLAIM, discoveryUrl: `${fhirBase}/.well-known/smart-configuration` }),
  );

  // "on": a token from the token endpoint the SMART discovery document names (client_credentials, HTTP Basic).
  const smart = (await (await fetch(`${server.url}/fhir/.well-known/smart-configuration`)).json()) as { token_endpoint: string };
  const tokenRes = await fetch(smart.token_endpoint, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${encodeURIComponent(CLIENT.id)}:${encodeURIComponent(CLIENT.secret)}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'system/*.cruds' }),
  });
  const token = ((await tokenRes.json()) as { access_token?: string }).access_token;
  if (!tokenRes.ok || !token) throw new Error(`no token from ${smart.token_endpoint}: ${tokenRes.status}`);

  // "on" as deployed (the chainer running every second) and with the chainer paused (records only
  // buffered), to tell the cost a request waits for from the load the chainer puts on the database.
  const MODES = ['off', 'on', 'paused', 'bare'] as const;
  type Mode = (typeof MODES)[number];
  const onHeaders = { accept: 'application/fhir+json', authorization: `Bearer ${token}` };
  const targets: Record<Mode, { base: string; headers: Record<string, string> }> = {
    off: { base: offUrl, headers: { accept: 'application/fhir+json' } },
    on: { base: server.url, headers: onHeaders },
    paused: { base: server.url, headers: onHeaders },
    bare: { base: bareUrl, headers: onHeaders },
  };
  const requests = [
    { label: 'read GET /fhir/Patient/{id}', path: (i: number) => `/fhir/Patient/${patients[i % PATIENTS]}` },
    { label: 'read GET /fhir/Observation/{id}', path: (i: number) => `/fhir/Observation/${observations[(i * 37) % observations.length]}` },
    { label: 'search Observation?subject&_count=50', path: (i: number) => `/fhir/Observation?subject=Patient/${patients[i % PATIENTS]}&_count=50` },
  ];
  const get = async (mode: Mode, p: string): Promise<number> => {
    const t = performance.now();
    const res = await fetch(`${targets[mode].base}${p}`, { headers: targets[mode].headers });
    await res.arrayBuffer();
    const ms = performance.now() - t;
    if (res.status !== 200) throw new Error(`${mode} ${p}: ${res.status}`);
    return ms;
  };
  for (const r of requests) for (const mode of MODES) for (let i = 0; i < WARMUP; i++) await get(mode, r.path(i));

  const samples = requests.map(() => ({ off: [] as number[], on: [] as number[], paused: [] as number[], bare: [] as number[] }));
  let n = 0;
  for (let round = 0; round < ROUNDS; round++) {
    // The order of the modes rotates, so drift in the machine's load falls on all of them. Each
    // batch starts with an empty buffer (chained first, untimed).
    for (let m = 0; m < MODES.length; m++) {
      const mode = MODES[(m + round) % MODES.length] as Mode;
      const chainerPaused = mode === 'paused' || mode === 'bare';
      if (chainerPaused) await services.audit.stop();
      await services.audit.flush();
      for (const [k, r] of requests.entries()) {
        for (let i = 0; i < PER_ROUND; i++) (samples[k] as Record<Mode, number[]>)[mode].push(await get(mode, r.path(n + i)));
        n += PER_ROUND;
      }
      if (chainerPaused) services.audit.start();
    }
  }

  // Token verification alone (what authenticate does per request before any database work).
  for (let i = 0; i < 200; i++) await server.security.verifier.verify(token);
  let t = performance.now();
  for (let i = 0; i < VERIFY_OPS; i++) await server.security.verifier.verify(token);
  const verifyMs = performance.now() - t;

  // The audit trail alone: the background chainer stopped (what the requests left is chained first), then
  // one record at a time (what a request waits for), N concurrently (group commit), and the chainer.
  await services.audit.stop();
  const record = (i: number): AccessRecord => ({
    time: new Date(),
    requestId: `bench-${i}`,
    agent: { subject: CLIENT.id, issuer: server.security.verifier.issuer, role: 'admin', client: CLIENT.id, address: '127.0.0.1' },
    purpose: 'operations',
    interaction: i % 3 ? 'read' : 'search',
    action: 'R',
    outcome: 'success',
    status: 200,
    patients: [patients[i % PATIENTS] as string],
    resources: [`Patient/${patients[i % PATIENTS]}`],
    types: ['Patient'],
    ...(i % 3 ? {} : { query: `/fhir/Observation?subject=Patient/${patients[i % PATIENTS]}&_count=50` }),
  });
  const sequence = async (): Promise<number> => (await services.audit.chain.findOne({ _id: 'head' }))?.sequence ?? 0;
  const single: number[] = [];
  for (let i = 0; i < 200; i++) {
    const s = performance.now();
    await services.audit.record(record(i));
    single.push(performance.now() - s);
  }
  await services.audit.flush();
  const before = await sequence();
  const insertsBefore = services.audit.insertCalls;
  t = performance.now();
  for (let i = 0; i < RECORDS; i += CONCURRENCY) await Promise.all(Array.from({ length: CONCURRENCY }, (_, j) => services.audit.record(record(i + j))));
  const recordMs = performance.now() - t;
  const inserts = services.audit.insertCalls - insertsBefore;
  t = performance.now();
  await services.audit.flush();
  const chainMs = performance.now() - t;
  const chained = (await sequence()) - before;

  const quantile = (xs: number[], q: number): number => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] as number;
  };
  const ms = (x: number): string => x.toFixed(2).padStart(7);
  const pct = (on: number, offMs: number): string => `${on >= offMs ? '+' : ''}${(((on - offMs) / offMs) * 100).toFixed(0)} %`.padStart(7);
  const row = (label: string, ops: number, total: number): string => {
    const per = total / Math.max(1, ops);
    return `| ${label.padEnd(52)} | ${String(ops).padStart(5)} | ${total.toFixed(0).padStart(6)} ms | ${((ops / total) * 1000).toFixed(0).padStart(6)} /s | ${per < 1 ? `${(per * 1000).toFixed(0)} µs` : `${per.toFixed(2)} ms`} |`;
  };
  const lines = [
    `Security benchmark — ${PATIENTS} patients x ${OBSERVATIONS} Observations, ${ROUNDS} rounds x ${PER_ROUND} sequential requests per mode and request (after ${WARMUP} warm-up), Node ${process.version}, ${services.embedded ? 'embedded FerretDB 1.24 on PostgreSQL' : 'MongoDB'}`,
    '',
    '| request | off median ms | off p95 ms | on median ms | on p95 ms | added (median) | added (p95) | on, chainer paused: median ms | added (median) | auth + audit middleware only, chainer paused: median ms | added (median) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...requests.map((r, k) => {
      const s = samples[k] as Record<Mode, number[]>;
      const [om, op, nm, np, pm] = [quantile(s.off, 0.5), quantile(s.off, 0.95), quantile(s.on, 0.5), quantile(s.on, 0.95), quantile(s.paused, 0.5)];
      const bm = quantile(s.bare, 0.5);
      return `| ${r.label.padEnd(38)} | ${ms(om)} | ${ms(op)} | ${ms(nm)} | ${ms(np)} | ${pct(nm, om)} | ${pct(np, op)} | ${ms(pm)} | ${pct(pm, om)} | ${ms(bm)} | ${pct(bm, om)} |`;
    }),
    '',
    '| what | ops | time | rate | mean per op |',
    '| --- | --- | --- | --- | --- |',
    row('token verification alone (jwtVerify, local keys)', VERIFY_OPS, verifyMs),
    row(`audit record(), one at a time (p95 ${quantile(single, 0.95).toFixed(2)} ms)`, single.length, single.reduce((a, b) => a + b, 0)),
    row(`audit record(), ${CONCURRENCY} concurrent (${inserts} inserts)`, RECORDS, recordMs),
    row('chainer: flush() into AuditEvents', chained, chainMs),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  for (const s of extraServers) {
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  }
  await server.close();
  await rm(dataDir, { recursive: true, force: true });
}
