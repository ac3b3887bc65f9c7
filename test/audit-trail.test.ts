import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { CommandStartedEvent } from 'mongodb';
import type { AuditEvent, ImagingStudy, Observation, Patient, Practitioner, Resource } from '@medplum/fhirtypes';
import { connectDatabase, type Database } from '../store/db.ts';
import { Repository } from '../store/repository.ts';
import { systemContext } from '../store/request-context.ts';
import { parseFhirSearch } from '../store/search-to-mongo.ts';
import { assertValidResource } from '../schema/validate.ts';
import { AuditTrail, SimulatedCrash, type AccessRecord, type ChainStep } from '../store/audit-trail.ts';
import { AUDIT_EXTENSIONS, chainFields } from '../store/audit-event.ts';
import { IDR_EXTENSION_DEFINITIONS } from '../ingestion/extension-definitions.ts';

/**
 * The access audit trail on the real (embedded) database: records buffered durably in batches,
 * chained into AuditEvents that the normal search finds, a hash chain that names the first
 * altered record, and crash recovery that chains a buffered record exactly once.
 */

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
const ISSUER = 'https://login.hospital.example/realms/idr';

function access(overrides: Partial<AccessRecord> = {}): AccessRecord {
  return {
    time: new Date('2026-11-20T10:15:00Z'),
    requestId: `req-${randomBytes(4).toString('hex')}`,
    agent: { subject: 'u-1001', issuer: ISSUER, name: 'Dr. A. de Vries', role: 'clinician', client: 'idr-viewer', address: '10.1.2.3' },
    purpose: 'treatment',
    interaction: 'read',
    action: 'R',
    outcome: 'success',
    status: 200,
    patients: [],
    resources: [],
    types: [],
    ...overrides,
  };
}

describe('the access audit trail', () => {
  const dbName = `idr_test_audit_${randomBytes(6).toString('hex')}`;
  let database: Database;
  let repo: Repository;
  let trail: AuditTrail;
  const ctx = systemContext('test');

  const search = async (query: string): Promise<AuditEvent[]> => {
    const request = parseFhirSearch('AuditEvent', query);
    request.count = 1000;
    return (await repo.search(ctx, request)).resources as AuditEvent[];
  };
  const auditEventCount = (): Promise<number> => database.c.resources.countDocuments({ rt: 'AuditEvent' });

  beforeAll(async () => {
    database = await connectDatabase(inject('mongoUrl'), dbName);
    repo = new Repository(database);
    const patient: Patient = { resourceType: 'Patient', identifier: [{ system: 'http://fhir.nl/fhir/NamingSystem/bsn', value: '999911120' }], name: [{ family: 'Jansen', given: ['Anna'] }] };
    await repo.create(ctx, patient, { id: 'p1' });
    await repo.create(ctx, { ...patient, identifier: [{ system: 'http://fhir.nl/fhir/NamingSystem/bsn', value: '999911132' }], name: [{ family: 'Bakker' }] }, { id: 'p2' });
    const study: ImagingStudy = { resourceType: 'ImagingStudy', status: 'available', subject: { reference: 'Patient/p1' }, started: '2026-11-01T09:00:00Z' };
    await repo.create(ctx, study, { id: 'img1' });
    const obs: Observation = { resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '1742-6' }] }, subject: { reference: 'Patient/p1' }, valueQuantity: { value: 13, unit: 'U/L', system: 'http://unitsofmeasure.org', code: 'U/L' } };
    await repo.create(ctx, obs, { id: 'obs1' });
    trail = new AuditTrail({ database, logger: silent });
  });
  afterAll(async () => {
    await trail?.stop();
    await database?.db.dropDatabase().catch(() => undefined);
    await database?.close();
  });

  it('turns records into BALP-style AuditEvents with patient, agents, entities and purpose', async () => {
    await trail.record(access({ patients: ['p1'], resources: ['ImagingStudy/img1'], types: ['ImagingStudy'], query: '/fhir/ImagingStudy/img1' }));
    await trail.record(access({ interaction: 'search', resources: ['Observation/obs1', 'Patient/p1'], patients: ['p1'], types: ['Observation', 'Patient'], query: '/fhir/Observation?patient=p1&code=1742-6' }));
    await trail.record(access({ purpose: 'break-the-glass', breakGlass: 'acute admission, patient unconscious', patients: ['p2'], resources: ['Patient/p2'], types: ['Patient'], agent: { subject: 'u-2002', issuer: ISSUER, name: 'Dr. B. Smit', role: 'clinician' } }));
    await trail.record(access({ outcome: 'denied', status: 403, reason: 'no treatment relation', resources: ['Patient/unknown-1'], patients: ['unknown-1'], types: ['Patient'] }));
    await trail.flush();
    expect(await auditEventCount()).toBe(4);
    expect(await trail.buffer.countDocuments({})).toBe(0);

    const first = (await repo.read(ctx, 'AuditEvent', 'audit-000000000001')) as AuditEvent;
    expect(first.type).toMatchObject({ system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' });
    expect(first.subtype?.[0]).toMatchObject({ system: 'http://hl7.org/fhir/restful-interaction', code: 'read' });
    expect(first.action).toBe('R');
    expect(first.outcome).toBe('0');
    expect(first.recorded).toBe('2026-11-20T10:15:00.000Z');
    expect(first.purposeOfEvent?.[0]?.coding?.[0]).toMatchObject({ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'TREAT' });
    expect(first.source.observer.display).toBe('IDR');
    expect(first.meta?.tag).toEqual([{ system: 'http://hl7.org/fhir/resource-types', code: 'ImagingStudy' }]);
    const [user, client] = first.agent;
    expect(user?.requestor).toBe(true);
    expect(user?.who?.reference).toMatch(/^Practitioner\//);
    const practitioner = (await repo.read(ctx, 'Practitioner', (user?.who?.reference as string).split('/')[1] as string)) as Practitioner;
    expect(practitioner.identifier).toEqual([{ system: ISSUER, value: 'u-1001' }]);
    expect(client?.type?.coding?.[0]).toMatchObject({ system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110150' });
    expect(client?.who?.reference).toMatch(/^Device\//);
    expect(client?.network).toEqual({ address: '10.1.2.3', type: '2' });
    const patientEntity = first.entity?.find((e) => e.role?.code === '1');
    expect(patientEntity).toMatchObject({ what: { reference: 'Patient/p1' }, type: { code: '1' } });
    expect(first.entity?.find((e) => e.what?.reference === 'ImagingStudy/img1')?.type?.code).toBe('2');

    const second = (await repo.read(ctx, 'AuditEvent', 'audit-000000000002')) as AuditEvent;
    const query = second.entity?.find((e) => e.role?.code === '24');
    expect(Buffer.from(query?.query as string, 'base64').toString('utf8')).toBe('/fhir/Observation?patient=p1&code=1742-6');
    // The same user is one Practitioner, created once.
    expect(second.agent[0]?.who?.reference).toBe(user?.who?.reference);
    expect(await database.c.resources.countDocuments({ rt: 'Practitioner' })).toBe(2);

    const btg = (await repo.read(ctx, 'AuditEvent', 'audit-000000000003')) as AuditEvent;
    expect(btg.purposeOfEvent?.[0]?.coding?.map((c) => c.code)).toContain('BTG');
    expect(btg.purposeOfEvent?.[0]?.text).toContain('acute admission, patient unconscious');

    // A denied read of an unknown id: no dangling reference, the id named by identifier.
    const denied = (await repo.read(ctx, 'AuditEvent', 'audit-000000000004')) as AuditEvent;
    expect(denied.outcome).toBe('4');
    expect(denied.outcomeDesc).toContain('no treatment relation');
    expect(JSON.stringify(denied)).not.toContain('"reference":"Patient/unknown-1"');
    expect(denied.entity?.some((e) => e.what?.identifier?.value === 'Patient/unknown-1')).toBe(true);

    // Every stored AuditEvent is a valid resource and carries its chain extensions.
    for (const e of [first, second, btg, denied]) {
      expect(() => assertValidResource(e)).not.toThrow();
      expect(Object.keys(chainFields(e)).sort()).toEqual(['hash', 'previousHash', 'sequence']);
    }
  });

  it('finds AuditEvents by patient, agent, date and resource-type tag through the normal search', async () => {
    const first = (await repo.read(ctx, 'AuditEvent', 'audit-000000000001')) as AuditEvent;
    const practitioner = first.agent[0]?.who?.reference as string;
    expect((await search('patient=Patient/p1')).map((e) => e.id).sort()).toEqual(['audit-000000000001', 'audit-000000000002']);
    expect((await search(`agent=${practitioner}`)).map((e) => e.id).sort()).toEqual(['audit-000000000001', 'audit-000000000002', 'audit-000000000004']);
    expect(await search('date=ge2026-11-20')).toHaveLength(4);
    expect(await search('date=lt2026-11-20')).toHaveLength(0);
    const images = await search('patient=Patient/p1&_tag=http://hl7.org/fhir/resource-types|ImagingStudy&date=ge2026-10-29');
    expect(images.map((e) => e.id)).toEqual(['audit-000000000001']);
    expect((await search('patient=Patient/p2')).map((e) => e.id)).toEqual(['audit-000000000003']);
  });

  it('verify() passes, then names the record whose stored content was altered', async () => {
    expect(await trail.verify()).toEqual({ ok: true, checked: 4 });
    const key = 'AuditEvent/audit-000000000002';
    const doc = await database.c.resources.findOne({ _id: key });
    const original = doc?.json as string;
    const altered = JSON.parse(original) as AuditEvent;
    altered.recorded = '2026-11-19T10:15:00.000Z';
    await database.c.resources.updateOne({ _id: key }, { $set: { json: JSON.stringify(altered) } });
    expect(await trail.verify()).toEqual({ ok: false, checked: 1, firstBroken: { sequence: 2, id: 'audit-000000000002', reason: 'content altered' } });

    // Re-sealing the altered record with a fresh hash breaks the next link instead.
    const { sealAuditEvent } = await import('../store/audit-event.ts');
    sealAuditEvent(altered, chainFields(altered).previousHash as string);
    await database.c.resources.updateOne({ _id: key }, { $set: { json: JSON.stringify(altered) } });
    expect((await trail.verify()).firstBroken).toEqual({ sequence: 3, id: 'audit-000000000003', reason: 'previous-hash mismatch' });

    // A deleted record is missing.
    await database.c.resources.updateOne({ _id: key }, { $set: { json: original } });
    const third = await database.c.resources.findOne({ _id: 'AuditEvent/audit-000000000003' });
    await database.c.resources.deleteOne({ _id: 'AuditEvent/audit-000000000003' });
    expect((await trail.verify()).firstBroken).toEqual({ sequence: 3, id: 'audit-000000000003', reason: 'missing' });
    await database.c.resources.insertOne(third as NonNullable<typeof third>);
    expect(await trail.verify()).toEqual({ ok: true, checked: 4 });
  });

  it.each(['claim', 'event', 'buffer', 'head'] as ChainStep[])('records buffered before a crash after step "%s" are chained exactly once after a restart', async (step) => {
    const before = await auditEventCount();
    const requestIds = [1, 2, 3].map((n) => `crash-${step}-${n}`);
    await Promise.all(requestIds.map((requestId) => trail.record(access({ requestId, patients: ['p1'], resources: ['Observation/obs1'], types: ['Observation'] }))));
    trail.crashAfter = step;
    await expect(trail.flush()).rejects.toBeInstanceOf(SimulatedCrash);
    // The "restarted" process: a new AuditTrail on the same database.
    const restarted = new AuditTrail({ database, logger: silent });
    await restarted.flush();
    await restarted.flush();
    expect(await auditEventCount()).toBe(before + 3);
    expect(await restarted.buffer.countDocuments({})).toBe(0);
    expect(await restarted.claims.countDocuments({ _id: { $ne: 'head' } })).toBe(0);
    const events = await search('patient=Patient/p1');
    for (const requestId of requestIds) expect(events.filter((e) => e.entity?.some((x) => x.what?.identifier?.value === requestId))).toHaveLength(1);
    expect(await restarted.verify()).toEqual({ ok: true, checked: before + 3 });
    trail = restarted;
  });

  it('chains records with empty or odd fields instead of getting stuck on them', async () => {
    const before = await auditEventCount();
    const odd = access({
      requestId: '  ',
      agent: { subject: '', issuer: '', name: ' ', role: '', client: '', address: '' },
      purpose: '',
      breakGlass: '',
      action: 'X' as AccessRecord['action'],
      reason: '',
      query: '',
      patients: ['', 'p1'],
      resources: ['', 'Observation/obs1'],
      types: ['', 'Observation'],
      time: new Date('not a date'),
    });
    await trail.record(odd);
    await trail.record(access({ requestId: 'after-odd', patients: ['p2'], resources: ['Patient/p2'], types: ['Patient'] }));
    await trail.flush();
    expect(await auditEventCount()).toBe(before + 2);
    expect(await trail.buffer.countDocuments({})).toBe(0);
    const stored = (await repo.read(ctx, 'AuditEvent', `audit-${String(before + 1).padStart(12, '0')}`)) as AuditEvent;
    expect(stored.action).toBe('E');
    expect(stored.purposeOfEvent?.[0]?.coding?.map((c) => c.code)).toContain('BTG');
    expect(stored.entity?.some((e) => e.what?.reference === 'Patient/p1')).toBe(true);
    expect(await trail.verify()).toEqual({ ok: true, checked: before + 2 });
  });

  it('batches 500 concurrent records into a few inserts, loses none and keeps the chain intact', async () => {
    const before = await auditEventCount();
    const batched = new AuditTrail({ database, logger: silent, flushIntervalMs: 50 });
    await Promise.all(Array.from({ length: 500 }, (_, i) => batched.record(access({ requestId: `bulk-${i}`, agent: { subject: `u-${i % 7}`, issuer: ISSUER, role: 'clinician' }, patients: ['p2'], resources: ['Patient/p2'], types: ['Patient'] }))));
    expect(batched.insertCalls).toBeLessThan(10);
    expect(await batched.buffer.countDocuments({})).toBe(500);
    batched.start();
    await batched.flush();
    await batched.stop();
    expect(await batched.buffer.countDocuments({})).toBe(0);
    expect(await auditEventCount()).toBe(before + 500);
    const ids = new Set((await search('patient=Patient/p2')).flatMap((e) => e.entity?.flatMap((x) => (x.what?.identifier?.system === 'urn:idr:request-id' ? [x.what.identifier.value] : [])) ?? []));
    for (let i = 0; i < 500; i++) expect(ids.has(`bulk-${i}`)).toBe(true);
    expect(await batched.verify()).toEqual({ ok: true, checked: before + 500 });
  }, 120_000);

  it('two trails of one process on one database take turns: the chain is neither forked nor a record chained twice', async () => {
    const before = await auditEventCount();
    const one = new AuditTrail({ database, logger: silent });
    const two = new AuditTrail({ database, logger: silent });
    await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 ? one : two).record(access({ requestId: `twin-${i}`, patients: ['p1'], resources: ['Patient/p1'], types: ['Patient'] }))));
    // Their passes run one after the other (across processes the sequence claims keep the chain whole).
    await Promise.allSettled([one.flush(), two.flush(), one.flush(), two.flush()]);
    await one.flush();
    expect(await auditEventCount()).toBe(before + 60);
    expect(await one.claims.countDocuments({ _id: { $ne: 'head' } })).toBe(0);
    const seen = (await search('patient=Patient/p1')).flatMap((e) => e.entity?.flatMap((x) => (x.what?.identifier?.value?.startsWith('twin-') ? [x.what.identifier.value] : [])) ?? []);
    expect(seen.sort()).toEqual(Array.from({ length: 60 }, (_, i) => `twin-${i}`).sort());
    expect(await one.verify()).toEqual({ ok: true, checked: before + 60 });
  }, 120_000);

  it('`node api/audit-verify.ts` prints the chain state and exits 1 when it is broken', async () => {
    const run = (): Promise<{ code: number; stdout: string; stderr: string }> =>
      new Promise((resolve) => {
        const env = { ...process.env, MONGODB_URL: inject('mongoUrl'), IDR_DB_NAME: dbName, LOG_LEVEL: 'silent', NODE_ENV: 'test', IDR_MLLP_PORT: '0' };
        execFile(process.execPath, ['api/audit-verify.ts'], { env, timeout: 60_000 }, (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
      });
    const total = await auditEventCount();
    const intact = await run();
    // (log lines, JSON, may come before the answer)
    expect(intact.stdout.trim().split('\n').at(-1)).toBe(`audit chain intact: ${total} records`);
    expect(intact.code).toBe(0);
    const key = 'AuditEvent/audit-000000000005';
    const doc = await database.c.resources.findOne({ _id: key });
    const altered = JSON.parse(doc?.json as string) as AuditEvent;
    altered.outcome = '8';
    await database.c.resources.updateOne({ _id: key }, { $set: { json: JSON.stringify(altered) } });
    const broken = await run();
    expect(broken.code).toBe(1);
    expect(broken.stdout).toContain('audit-000000000005');
    expect(broken.stdout).toContain('content altered');
    await database.c.resources.updateOne({ _id: key }, { $set: { json: doc?.json as string } });
  }, 120_000);

  it('registers a StructureDefinition for each chain extension', () => {
    const urls = IDR_EXTENSION_DEFINITIONS.map((d) => d.url);
    for (const url of Object.values(AUDIT_EXTENSIONS)) expect(urls).toContain(url);
    for (const d of IDR_EXTENSION_DEFINITIONS) expect(() => assertValidResource(d as Resource)).not.toThrow();
  });
});

describe('the resources an audit record names', () => {
  const dbName = `idr_test_audit_refs_${randomBytes(6).toString('hex')}`;
  let database: Database;
  let trail: AuditTrail;
  const ctx = systemContext('test');

  beforeAll(async () => {
    const url = new URL(inject('mongoUrl'));
    url.searchParams.set('monitorCommands', 'true');
    database = await connectDatabase(url.toString(), dbName);
    const repo = new Repository(database);
    await repo.create(ctx, { resourceType: 'Patient', identifier: [{ system: 'http://fhir.nl/fhir/NamingSystem/bsn', value: '999911120' }] }, { id: 'p1' });
    for (let i = 0; i < 30; i++) {
      await repo.create(ctx, { resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '718-7' }] }, subject: { reference: 'Patient/p1' } }, { id: `hb${i}` });
    }
    trail = new AuditTrail({ database, logger: silent });
  });
  afterAll(async () => {
    await trail?.stop();
    await database?.db.dropDatabase().catch(() => undefined);
    await database?.close();
  });

  it('are looked up once for a batch of records, not again for each AuditEvent', async () => {
    const read = Array.from({ length: 30 }, (_, i) => `Observation/hb${i}`);
    const lookups: string[][] = [];
    const listener = (e: CommandStartedEvent): void => {
      const id = (e.command.filter as { _id?: unknown } | undefined)?._id;
      const ids = typeof id === 'string' ? [id] : ((id as { $in?: string[] } | undefined)?.$in ?? []);
      if (e.commandName === 'find' && e.command.find === 'resources' && ids.some((x) => x.startsWith('Observation/'))) lookups.push(ids);
    };
    database.client.on('commandStarted', listener);
    await trail.record(access({ interaction: 'search', patients: ['p1'], resources: read.slice(0, 20), types: ['Observation'] }));
    await trail.record(access({ interaction: 'search', patients: ['p1'], resources: read.slice(10), types: ['Observation'] }));
    await trail.flush();
    database.client.off('commandStarted', listener);
    const events = (await database.c.resources.find({ rt: 'AuditEvent' }).toArray()).map((d) => JSON.parse(d.json as string) as AuditEvent);
    expect(events.map((e) => e.entity?.filter((x) => x.what?.reference?.startsWith('Observation/')).length)).toEqual([20, 20]);
    // Each Observation is read once however many records name it: one lookup for the batch.
    expect(lookups.flat().filter((x) => x.startsWith('Observation/')).sort()).toEqual([...read].sort());
  });
});
