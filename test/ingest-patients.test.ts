import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fhirFetch, startTestServer, type TestServer } from './support/server.ts';
import { countOf, entryOf, ingestOk, type Json, patientIdByBsn, postHl7, searchOf } from './fixtures/ingest/clients.ts';
import { BSN_SYSTEM, MRN_SYSTEM, labMessage, newBsn, uid } from './fixtures/ingest/messages.ts';

/** Patient matching by identifier only, never by name. */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

const lab = (m: { bsn?: string; mrn?: string; family?: string; given?: string }): string => {
  const id = uid();
  return labMessage({ controlId: id, filler: `F-${id}`, ...m });
};
const patientOf = (outputs: string[]): { id: string; vid: string } => {
  const [, id, , vid] = (outputs.find((o) => o.startsWith('Patient/')) as string).split('/');
  return { id: id as string, vid: vid as string };
};

describe('patient matching', () => {
  it('the same BSN with a different name updates the same Patient (new version, new name)', async () => {
    const bsn = newBsn();
    const first = patientOf((await ingestOk(server.url, lab({ bsn, family: 'de Vries', given: 'Anna' }))).outputs);
    const second = patientOf((await ingestOk(server.url, lab({ bsn, family: 'Jansen', given: 'Anna' }))).outputs);
    expect(second.id).toBe(first.id);
    expect(second.vid).toBe('2');
    const p = await fhirFetch(`${server.fhir}/Patient/${first.id}`);
    expect(p.body.name[0].family).toBe('Jansen');
    expect(p.body.meta.versionId).toBe('2');
    const v1 = await fhirFetch(`${server.fhir}/Patient/${first.id}/_history/1`);
    expect(v1.body.name[0].family).toBe('de Vries');
    expect(await countOf(server.fhir, `Patient?identifier=${BSN_SYSTEM}|${bsn}`)).toBe(1);
    expect(await countOf(server.fhir, `Observation?subject=Patient/${first.id}`)).toBe(4);
  });

  it('a message carrying only the MRN of a known patient matches that patient and keeps the BSN', async () => {
    const bsn = newBsn();
    const mrn = `MRN${uid()}`;
    const known = patientOf((await ingestOk(server.url, lab({ bsn, mrn }))).outputs);
    const mrnOnly = patientOf((await ingestOk(server.url, lab({ mrn }))).outputs);
    expect(mrnOnly.id).toBe(known.id);
    const p = await fhirFetch(`${server.fhir}/Patient/${known.id}`);
    const ids = p.body.identifier.map((i: Json) => `${i.system}|${i.value}`);
    expect(ids).toEqual(expect.arrayContaining([`${BSN_SYSTEM}|${bsn}`, `${MRN_SYSTEM}|${mrn}`]));
    expect(await countOf(server.fhir, `Patient?identifier=${MRN_SYSTEM}|${mrn}`)).toBe(1);
    expect(await countOf(server.fhir, `Observation?subject=Patient/${known.id}`)).toBe(4);
  });

  it('two patients with the same name but different identifiers stay two patients', async () => {
    const family = `Bakker${uid()}`;
    const a = newBsn();
    let b = newBsn();
    while (b === a) b = newBsn();
    await ingestOk(server.url, lab({ bsn: a, family, given: 'Els' }));
    await ingestOk(server.url, lab({ bsn: b, family, given: 'Els' }));
    const found = await searchOf(server.fhir, `Patient?family=${family}`);
    expect(found).toHaveLength(2);
    expect(new Set(found.map((p) => p.identifier[0].value))).toEqual(new Set([a, b]));
    const pa = await patientIdByBsn(server.fhir, a);
    expect(await countOf(server.fhir, `Observation?subject=Patient/${pa}`)).toBe(2);
  });

  it('identifiers that point at two different patients: failed with a clear reason, nothing merged', async () => {
    const bsn = newBsn();
    const mrn = `MRN${uid()}`;
    const byBsn = patientOf((await ingestOk(server.url, lab({ bsn, family: 'Smit' }))).outputs);
    const byMrn = patientOf((await ingestOk(server.url, lab({ mrn, family: 'Smit' }))).outputs);
    expect(byMrn.id).not.toBe(byBsn.id);

    const r = await postHl7(server.url, lab({ bsn, mrn, family: 'Smit' }));
    expect(r.status).toBe(422);
    const [res] = r.body.results;
    expect(res.status).toBe('failed');
    expect(res.error.location).toBe('Patient.identifier');
    expect(res.error.message).toContain(`Patient/${byBsn.id}`);
    expect(res.error.message).toContain(`Patient/${byMrn.id}`);
    expect(res.error.message).toMatch(/2 different patients.*refusing to guess/);
    expect((await entryOf(server.url, res.inboxId)).status).toBe('failed');
    expect((await fhirFetch(`${server.fhir}/Patient/${byBsn.id}`)).body.meta.versionId).toBe('1');
    expect((await fhirFetch(`${server.fhir}/Patient/${byMrn.id}`)).body.meta.versionId).toBe('1');
    expect(await countOf(server.fhir, `Observation?subject=Patient/${byBsn.id}`)).toBe(2);
  });
});
