import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fhirFetch, startTestServer, type TestServer } from './support/server.ts';
import { countOf, entryOf, ingestOk, type Json, patientIdByBsn, postHl7, rawOf, searchOf } from './fixtures/ingest/clients.ts';
import { CREA, HB, labMessage, newBsn, uid } from './fixtures/ingest/messages.ts';

/** Every written resource traces back to its raw message; failures are listed and reprocessed over HTTP. */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

const lab = (m: { bsn?: string; mrn?: string }): string => {
  const id = uid();
  return labMessage({ controlId: id, filler: `F-${id}`, ...m });
};

describe('provenance', () => {
  it('an ingested Observation leads through its Provenance to the exact raw bytes and the adapter version', async () => {
    // A UTF-8 BOM, \n separators and a non-ASCII name: the raw download must give back these bytes exactly.
    const id = uid();
    const text = `\uFEFF${labMessage({ controlId: id, bsn: newBsn(), filler: `F-${id}`, family: 'Müller-Ødegård' }).replaceAll('\r', '\n')}\n`;
    const bytes = Buffer.from(text, 'utf8');
    const result = await ingestOk(server.url, text);
    const obsId = (result.outputs.find((o: string) => o.startsWith('Observation/')) as string).split('/')[1];

    const provs = await searchOf(server.fhir, `Provenance?target=Observation/${obsId}`);
    expect(provs).toHaveLength(1);
    const [prov] = provs;
    const targets = prov.target.map((t: Json) => t.reference.split('/')[0]).sort();
    expect(targets).toEqual(['DiagnosticReport', 'Observation', 'Observation', 'Patient']);
    expect(prov.target.map((t: Json) => t.reference)).toContain(`Observation/${obsId}`);
    const source = prov.entity.find((e: Json) => e.role === 'source');
    expect(source.what.identifier.system).toBe('urn:idr:inbox');
    const inboxId = source.what.identifier.value;
    expect(inboxId).toBe(result.inboxId);

    const entry = await entryOf(server.url, inboxId);
    expect(entry.adapterVersion).toMatch(/^hl7v2-oru\/\d+\.\d+\.\d+$/);
    expect(prov.agent[0].who.display).toContain(entry.adapterVersion);
    expect(entry.outputs).toEqual(result.outputs);

    const raw = await rawOf(server.url, inboxId);
    expect(raw.status).toBe(200);
    expect(raw.bytes.equals(bytes)).toBe(true);
  });
});

describe('failed messages over HTTP', () => {
  it('lists failed messages with their reasons, without the bytes', async () => {
    const id = uid();
    const bad = await postHl7(server.url, labMessage({ controlId: id, bsn: newBsn(), filler: `F-${id}`, results: [{ ...HB, type: 'XX' }] }));
    expect(bad.status).toBe(422);
    const inboxId = bad.body.results[0].inboxId;
    await ingestOk(server.url, lab({ bsn: newBsn() }));

    const list = await fhirFetch(`${server.url}/ingest/messages?status=failed`);
    expect(list.status).toBe(200);
    expect(list.body.entries.every((e: Json) => e.status === 'failed')).toBe(true);
    expect(list.body.total).toBe(list.body.entries.length);
    const mine = list.body.entries.find((e: Json) => e._id === inboxId);
    expect(mine.error).toEqual({ location: 'OBX[1]-2', message: expect.stringMatching(/unknown value type "XX"/) });
    expect(mine.bytes).toBeUndefined();
    expect((await fhirFetch(`${server.url}/ingest/messages?status=bogus`)).status).toBe(400);
    expect((await fhirFetch(`${server.url}/ingest/messages/no-such-id`)).status).toBe(404);
  });

  it('reprocessing a message that still fails keeps the reason and counts the attempt', async () => {
    const id = uid();
    const bad = await postHl7(server.url, labMessage({ controlId: id, bsn: newBsn(), filler: `F-${id}`, results: [{ ...CREA, value: 'abc' }] }));
    const inboxId = bad.body.results[0].inboxId;
    const again = await fhirFetch(`${server.url}/ingest/messages/${inboxId}/reprocess`, { method: 'POST' });
    expect(again.status).toBe(422);
    expect(again.body).toMatchObject({ inboxId, status: 'failed', error: { location: 'OBX[1]-5' } });
    const entry = await entryOf(server.url, inboxId);
    expect(entry).toMatchObject({ status: 'failed', attempts: 2, error: { location: 'OBX[1]-5' } });
    expect((await fhirFetch(`${server.url}/ingest/messages/nope/reprocess`, { method: 'POST' })).status).toBe(404);
  });

  it('a message refused for an identifier conflict is processed on reprocess once the records are corrected', async () => {
    const bsn = newBsn();
    const mrn = `MRN${uid()}`;
    await ingestOk(server.url, lab({ bsn }));
    const wrong = await ingestOk(server.url, lab({ mrn }));
    const wrongId = (wrong.outputs.find((o: string) => o.startsWith('Patient/')) as string).split('/')[1];
    const refused = await postHl7(server.url, lab({ bsn, mrn }));
    expect(refused.status).toBe(422);
    const inboxId = refused.body.results[0].inboxId;

    // The operator resolves the conflict (here: removes the wrongly created record), then reprocesses.
    expect((await fhirFetch(`${server.fhir}/Patient/${wrongId}`, { method: 'DELETE' })).status).toBeLessThan(300);
    const all = await fhirFetch(`${server.url}/ingest/messages/_reprocess-failed`, { method: 'POST' });
    expect(all.status).toBe(200);
    const mine = all.body.results.find((r: Json) => r.inboxId === inboxId);
    expect(mine.status).toBe('processed');
    const entry = await entryOf(server.url, inboxId);
    expect(entry).toMatchObject({ status: 'processed', attempts: 2 });
    expect(entry.error).toBeUndefined();
    const pid = await patientIdByBsn(server.fhir, bsn);
    const p = await fhirFetch(`${server.fhir}/Patient/${pid}`);
    expect(p.body.identifier.map((i: Json) => i.value)).toEqual(expect.arrayContaining([bsn, mrn]));
    expect(await countOf(server.fhir, `Observation?subject=Patient/${pid}`)).toBe(4);
  });

  it('reprocessing a processed message writes no new clinical versions and no second Provenance', async () => {
    const bsn = newBsn();
    const first = await ingestOk(server.url, lab({ bsn }));
    const again = await fhirFetch(`${server.url}/ingest/messages/${first.inboxId}/reprocess`, { method: 'POST' });
    expect(again.status).toBe(200);
    expect(['processed', 'duplicate']).toContain(again.body.status);
    const clinical = (o: string[]): string[] => o.filter((x) => !x.startsWith('Provenance/'));
    expect(clinical(again.body.outputs)).toEqual(clinical(first.outputs));
    const pid = await patientIdByBsn(server.fhir, bsn);
    expect(await countOf(server.fhir, `Observation?subject=Patient/${pid}`)).toBe(2);
    const obsId = (first.outputs.find((o: string) => o.startsWith('Observation/')) as string).split('/')[1];
    const provs = await searchOf(server.fhir, `Provenance?target=Observation/${obsId}`);
    expect(provs).toHaveLength(1);
    expect(provs[0].id).toBe(first.inboxId);
    const obs = await fhirFetch(`${server.fhir}/Observation/${obsId}`);
    expect(obs.body.meta.versionId).toBe('1');
  });
});
