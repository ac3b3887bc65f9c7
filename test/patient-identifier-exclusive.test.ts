import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fhirFetch, startTestServer, type TestServer } from './support/server.ts';
import { countOf, postHl7, type Json } from './fixtures/ingest/clients.ts';
import { BSN_SYSTEM, MRN_SYSTEM, labMessage, newBsn, uid } from './fixtures/ingest/messages.ts';
import { recoverPendingJournals } from '../store/journal.ts';
import type { UndoStep } from '../schema/collections.ts';
import { systemContext } from '../store/request-context.ts';

/** One patient per identifier: every way in refuses a second live Patient with an identifier another holds. */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

const patient = (identifier: { system: string; value: string }[], family = 'Visser'): Json => ({ resourceType: 'Patient', identifier, name: [{ family }] });
const bsnOf = (value: string): { system: string; value: string } => ({ system: BSN_SYSTEM, value });
const mrnOf = (value: string): { system: string; value: string } => ({ system: MRN_SYSTEM, value });

async function create(body: Json): Promise<string> {
  const r = await fhirFetch(`${server.fhir}/Patient`, { method: 'POST', json: body });
  expect(r.status).toBe(201);
  return r.body.id as string;
}

function expectNamed(outcome: Json, identifier: string, element: string): void {
  expect(outcome.resourceType).toBe('OperationOutcome');
  expect(outcome.issue[0].expression).toEqual([element]);
  expect(outcome.issue[0].details.text).toContain(identifier);
}

describe('one patient per identifier (REST)', () => {
  it('a second Patient with the same BSN is refused with 409 naming the identifier and its element; nothing is written', async () => {
    const bsn = newBsn();
    const first = await create(patient([bsnOf(bsn)]));
    const r = await fhirFetch(`${server.fhir}/Patient`, { method: 'POST', json: patient([mrnOf(`MRN${uid()}`), bsnOf(bsn)], 'Other') });
    expect(r.status).toBe(409);
    expectNamed(r.body, `${BSN_SYSTEM}|${bsn}`, 'Patient.identifier[1]');
    expect(r.body.issue[0].details.text).toContain(`Patient/${first}`);
    expect(await countOf(server.fhir, `Patient?identifier=${BSN_SYSTEM}|${bsn}`)).toBe(1);
    expect(await countOf(server.fhir, 'Patient?family=Other')).toBe(0);
  });

  it('an update giving a patient another patient\'s identifier is refused (409); the patient keeps its version', async () => {
    const bsn = newBsn();
    await create(patient([bsnOf(bsn)]));
    const other = await create(patient([mrnOf(`MRN${uid()}`)]));
    const current = (await fhirFetch(`${server.fhir}/Patient/${other}`)).body;
    const r = await fhirFetch(`${server.fhir}/Patient/${other}`, { method: 'PUT', json: { ...current, identifier: [...current.identifier, bsnOf(bsn)] } });
    expect(r.status).toBe(409);
    expectNamed(r.body, `${BSN_SYSTEM}|${bsn}`, 'Patient.identifier[1]');
    expect((await fhirFetch(`${server.fhir}/Patient/${other}`)).body.meta.versionId).toBe('1');
    expect((await fhirFetch(`${server.fhir}/Patient/${other}/_history/2`)).status).toBe(404);
  });

  it('conditional create and conditional update that would duplicate an identifier answer 412', async () => {
    const bsn = newBsn();
    await create(patient([bsnOf(bsn)]));
    const mrn = `MRN${uid()}`;
    const cc = await fhirFetch(`${server.fhir}/Patient`, { method: 'POST', headers: { 'if-none-exist': `identifier=${MRN_SYSTEM}|${mrn}` }, json: patient([mrnOf(mrn), bsnOf(bsn)]) });
    expect(cc.status).toBe(412);
    expectNamed(cc.body, `${BSN_SYSTEM}|${bsn}`, 'Patient.identifier[1]');
    const cu = await fhirFetch(`${server.fhir}/Patient?identifier=${encodeURIComponent(`${MRN_SYSTEM}|${mrn}`)}`, { method: 'PUT', json: patient([mrnOf(mrn), bsnOf(bsn)]) });
    expect(cu.status).toBe(412);
    expectNamed(cu.body, `${BSN_SYSTEM}|${bsn}`, 'Patient.identifier[1]');
    expect(await countOf(server.fhir, `Patient?identifier=${MRN_SYSTEM}|${mrn}`)).toBe(0);
  });

  it('of concurrent creates with the same BSN exactly one wins', async () => {
    const bsn = newBsn();
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => fhirFetch(`${server.fhir}/Patient`, { method: 'POST', json: patient([bsnOf(bsn)], `Race${i}`) })));
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409, 409]);
    expect(await countOf(server.fhir, `Patient?identifier=${BSN_SYSTEM}|${bsn}`)).toBe(1);
  });

  it('deleting a patient, or removing the identifier from it, frees the identifier', async () => {
    const bsn = newBsn();
    const first = await create(patient([bsnOf(bsn)]));
    expect((await fhirFetch(`${server.fhir}/Patient/${first}`, { method: 'DELETE' })).status).toBe(200);
    const second = await create(patient([bsnOf(bsn)]));
    const current = (await fhirFetch(`${server.fhir}/Patient/${second}`)).body;
    const moved = await fhirFetch(`${server.fhir}/Patient/${second}`, { method: 'PUT', json: { ...current, identifier: [mrnOf(`MRN${uid()}`)] } });
    expect(moved.status).toBe(200);
    const third = await create(patient([bsnOf(bsn)]));
    const found = await fhirFetch(`${server.fhir}/Patient?identifier=${encodeURIComponent(`${BSN_SYSTEM}|${bsn}`)}`);
    expect(found.body.entry.map((e: Json) => e.resource.id)).toEqual([third]);
  });
});

describe('one patient per identifier (Bundles)', () => {
  it('a transaction creating a duplicate is refused as a whole (409), and its other entries are rolled back', async () => {
    const bsn = newBsn();
    await create(patient([bsnOf(bsn)]));
    const mrn = `MRN${uid()}`;
    const bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { resource: patient([mrnOf(mrn)], 'FirstOfBundle'), request: { method: 'POST', url: 'Patient' } },
        { resource: patient([mrnOf(`MRN${uid()}`), bsnOf(bsn)], 'SecondOfBundle'), request: { method: 'POST', url: 'Patient' } },
      ],
    };
    const r = await fhirFetch(server.fhir, { method: 'POST', json: bundle });
    expect(r.status).toBe(409);
    expect(JSON.stringify(r.body)).toContain(`${BSN_SYSTEM}|${bsn}`);
    expect(await countOf(server.fhir, `Patient?identifier=${MRN_SYSTEM}|${mrn}`)).toBe(0);
    // the rolled-back entry's identifier is free again
    await create(patient([mrnOf(mrn)]));
  });

  it('a batch refuses only the duplicate entry (409) and writes the others', async () => {
    const bsn = newBsn();
    await create(patient([bsnOf(bsn)]));
    const mrn = `MRN${uid()}`;
    const bundle = {
      resourceType: 'Bundle',
      type: 'batch',
      entry: [
        { resource: patient([mrnOf(mrn)]), request: { method: 'POST', url: 'Patient' } },
        { resource: patient([bsnOf(bsn)]), request: { method: 'POST', url: 'Patient' } },
      ],
    };
    const r = await fhirFetch(server.fhir, { method: 'POST', json: bundle });
    expect(r.status).toBe(200);
    expect(r.body.entry[0].response.status).toMatch(/^201/);
    expect(r.body.entry[1].response.status).toMatch(/^409/);
    expectNamed(r.body.entry[1].response.outcome, `${BSN_SYSTEM}|${bsn}`, 'Patient.identifier[0]');
    expect(await countOf(server.fhir, `Patient?identifier=${BSN_SYSTEM}|${bsn}`)).toBe(1);
  });
});

describe('one patient per identifier (ingestion)', () => {
  it('a message naming one patient\'s MRN and another patient\'s BSN is failed, nothing written, raw kept', async () => {
    const bsn = newBsn();
    const mrn = `MRN${uid()}`;
    const byBsn = await create(patient([bsnOf(bsn)]));
    const byMrn = await create(patient([mrnOf(mrn)]));
    const id = uid();
    const r = await postHl7(server.url, labMessage({ controlId: id, filler: `F-${id}`, bsn, mrn }));
    expect(r.status).toBe(422);
    const [res] = r.body.results;
    expect(res.status).toBe('failed');
    expect(res.error.message).toContain(`Patient/${byBsn}`);
    expect(res.error.message).toContain(`Patient/${byMrn}`);
    expect((await fhirFetch(`${server.url}/ingest/messages/${res.inboxId}/raw`)).status).toBe(200);
    expect(await countOf(server.fhir, `Observation?subject=Patient/${byBsn}`)).toBe(0);
    expect(await countOf(server.fhir, `Observation?subject=Patient/${byMrn}`)).toBe(0);
    expect((await fhirFetch(`${server.fhir}/Patient/${byMrn}`)).body.meta.versionId).toBe('1');
  });

  it('a first message about a new patient racing a REST create of the same BSN: one patient, whichever wins', async () => {
    for (let round = 0; round < 4; round++) {
      const bsn = newBsn();
      const id = uid();
      const [ingested, created] = await Promise.all([
        postHl7(server.url, labMessage({ controlId: id, filler: `F-${id}`, bsn })),
        fhirFetch(`${server.fhir}/Patient`, { method: 'POST', json: patient([bsnOf(bsn)], `Racer${round}`) }),
      ]);
      expect([201, 409]).toContain(created.status);
      expect([201, 422]).toContain(ingested.status);
      const found = await fhirFetch(`${server.fhir}/Patient?identifier=${encodeURIComponent(`${BSN_SYSTEM}|${bsn}`)}`);
      expect(found.body.entry).toHaveLength(1);
      const [res] = ingested.body.results;
      if (res.status === 'processed') expect(await countOf(server.fhir, `Observation?subject=Patient/${found.body.entry[0].resource.id}`)).toBeGreaterThan(0);
      else expect(res.error.location).toMatch(/^Patient\.identifier/);
    }
  });

  it('a message for a patient with a BSN another REST-created patient holds matches that patient rather than duplicating it', async () => {
    const bsn = newBsn();
    const known = await create(patient([bsnOf(bsn)]));
    const id = uid();
    const r = await postHl7(server.url, labMessage({ controlId: id, filler: `F-${id}`, bsn, mrn: `MRN${uid()}` }));
    expect(r.status).toBe(201);
    expect(await countOf(server.fhir, `Patient?identifier=${BSN_SYSTEM}|${bsn}`)).toBe(1);
    expect(await countOf(server.fhir, `Observation?subject=Patient/${known}`)).toBeGreaterThan(0);
  });
});

describe('identifier claims left by interrupted writes', () => {
  it('a journal that died after writing a patient holds its identifier until recovery rolls it back, which frees it', async () => {
    const { repo, database } = server.services;
    const bsn = newBsn();
    // A journal as a process that died mid-Bundle leaves it: pending, one step recorded, the write done.
    const tx = `dead-${uid()}`;
    await database.c.journal.insertOne({ _id: tx, status: 'pending', startedAt: new Date(Date.now() - 1000) });
    const scope = { writer: tx, beforeWrite: async (step: UndoStep): Promise<void> => void (await database.c.journalSteps.insertOne({ _id: `${tx}/1`, tx, n: 1, step })) };
    const written = await repo.create(systemContext('test'), patient([bsnOf(bsn)], 'Interrupted'), { scope });
    const refused = await fhirFetch(`${server.fhir}/Patient`, { method: 'POST', json: patient([bsnOf(bsn)]) });
    expect(refused.status).toBe(409);
    expect(refused.body.issue[0].details.text).toContain(`Patient/${written.resource.id}`);
    expect(await recoverPendingJournals(database.c)).toBeGreaterThanOrEqual(1);
    expect(await database.c.identifiers.findOne({ _id: `Patient|${BSN_SYSTEM}|${bsn}` })).toBeNull();
    expect((await fhirFetch(`${server.fhir}/Patient/${written.resource.id}`)).status).toBe(404);
    await create(patient([bsnOf(bsn)]));
  });

  it('a patient stored before identifiers were exclusive keeps its identifier once the claim holder is deleted', async () => {
    const { database } = server.services;
    const bsn = newBsn();
    const holder = await create(patient([bsnOf(bsn)]));
    // a duplicate written by an older IDR: a copy of the stored document under another id, without a claim
    const original = await database.c.resources.findOne({ _id: `Patient/${holder}` });
    const legacy = `legacy-${uid().toLowerCase()}`;
    await database.c.resources.insertOne({ ...(original as NonNullable<typeof original>), _id: `Patient/${legacy}`, id: legacy, json: JSON.stringify({ ...JSON.parse(original?.json ?? '{}'), id: legacy }) });
    expect((await fhirFetch(`${server.fhir}/Patient/${holder}`, { method: 'DELETE' })).status).toBe(200);
    const r = await fhirFetch(`${server.fhir}/Patient`, { method: 'POST', json: patient([bsnOf(bsn)]) });
    expect(r.status).toBe(409);
    expect(r.body.issue[0].details.text).toContain(`Patient/${legacy}`);
    expect(await database.c.identifiers.findOne({ _id: `Patient|${BSN_SYSTEM}|${bsn}` })).toBeNull();
  });

  it('patients that already share an identifier are matched together: ingestion refuses, a conditional update answers 412', async () => {
    const { database } = server.services;
    const bsn = newBsn();
    const first = await create(patient([bsnOf(bsn)]));
    const original = await database.c.resources.findOne({ _id: `Patient/${first}` });
    const legacy = `legacy-${uid().toLowerCase()}`;
    await database.c.resources.insertOne({ ...(original as NonNullable<typeof original>), _id: `Patient/${legacy}`, id: legacy, json: JSON.stringify({ ...JSON.parse(original?.json ?? '{}'), id: legacy }) });
    const id = uid();
    const r = await postHl7(server.url, labMessage({ controlId: id, filler: `F-${id}`, bsn }));
    expect(r.status).toBe(422);
    expect(r.body.results[0].error.message).toContain(`Patient/${first}`);
    expect(r.body.results[0].error.message).toContain(`Patient/${legacy}`);
    expect(await countOf(server.fhir, `Observation?subject=Patient/${legacy}`)).toBe(0);
    const cu = await fhirFetch(`${server.fhir}/Patient?identifier=${encodeURIComponent(`${BSN_SYSTEM}|${bsn}`)}`, { method: 'PUT', json: patient([bsnOf(bsn)], 'Either') });
    expect(cu.status).toBe(412);
  });

  it('a claim whose writer died before writing (no pending version) is taken over; one with a version being written is respected', async () => {
    const { database } = server.services;
    const orphan = newBsn();
    await database.c.identifiers.insertOne({ _id: `Patient|${BSN_SYSTEM}|${orphan}`, rt: 'Patient', id: 'never-written', at: new Date() });
    const taken = await create(patient([bsnOf(orphan)]));
    expect((await database.c.identifiers.findOne({ _id: `Patient|${BSN_SYSTEM}|${orphan}` }))?.id).toBe(taken);

    const inFlight = newBsn();
    const now = new Date();
    await database.c.history.insertOne({ _id: 'Patient/being-written/1', rt: 'Patient', id: 'being-written', vid: 1, lu: now, method: 'POST', deleted: false });
    await database.c.identifiers.insertOne({ _id: `Patient|${BSN_SYSTEM}|${inFlight}`, rt: 'Patient', id: 'being-written', at: now });
    const r = await fhirFetch(`${server.fhir}/Patient`, { method: 'POST', json: patient([bsnOf(inFlight)]) });
    expect(r.status).toBe(409);
    expect(r.body.issue[0].details.text).toContain('concurrent');
  });
});
