import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandStartedEvent } from 'mongodb';
import { fhirFetch, startMonitoredTestServer, type TestServer } from './support/server.ts';
import { countOf, patientIdByBsn, postHl7, searchOf, type Json } from './fixtures/ingest/clients.ts';
import { CEA, CREA, HB, batchFile, labMessage, newBsn, uid } from './fixtures/ingest/messages.ts';

/**
 * A batch of messages (POST /ingest/hl7v2 with several, Pipeline.processMany) is written in groups:
 * messages about different patients together, in one transaction; each keeps its own result,
 * Provenance and inbox entry, and what one patient's messages do happens in the order sent.
 */

let server: TestServer;
beforeAll(async () => {
  server = await startMonitoredTestServer();
});
afterAll(async () => {
  await server?.close();
});

/** The database commands of `work` whose name and collection are given, e.g. "insert tx_journal". */
async function commandsDuring<T>(which: string, work: () => Promise<T>): Promise<{ result: T; count: number }> {
  let count = 0;
  const listener = (e: CommandStartedEvent): void => {
    if (`${e.commandName} ${String(e.command[e.commandName])}` === which) count++;
  };
  const client = server.services.database.client;
  client.on('commandStarted', listener);
  try {
    return { result: await work(), count };
  } finally {
    client.off('commandStarted', listener);
  }
}

const outputsOf = (r: Json, type: string): string[] => (r.outputs as string[]).filter((o) => o.startsWith(`${type}/`));

describe('a batch of messages written in groups', () => {
  it('writes messages about different patients in one transaction, each with its own Provenance and result', async () => {
    const bsns = Array.from({ length: 6 }, () => newBsn());
    const messages = bsns.map((bsn) => labMessage({ controlId: uid(), bsn, filler: `F-${uid()}`, results: [HB, CREA] }));
    const { result: r, count } = await commandsDuring('insert tx_journal', () => postHl7(server.url, batchFile(messages)));
    expect(r.status).toBe(201);
    expect(r.body.results.map((x: Json) => x.status)).toEqual(Array(6).fill('processed'));
    // One compensating journal for the six (a MongoDB replica set writes in a session instead).
    if (!server.services.database.supportsTransactions) expect(count).toBe(1);
    for (const [i, bsn] of bsns.entries()) {
      const result = r.body.results[i];
      const pid = await patientIdByBsn(server.fhir, bsn);
      expect(outputsOf(result, 'Patient')).toEqual([`Patient/${pid}/_history/1`]);
      expect(await countOf(server.fhir, `Observation?subject=Patient/${pid}`)).toBe(2);
      // The Provenance of each message names its own resources, and only those.
      const prov = await fhirFetch(`${server.fhir}/Provenance/${result.inboxId}`);
      expect(prov.status).toBe(200);
      const targets = (prov.body.target as { reference: string }[]).map((t) => t.reference).sort();
      const own = (result.outputs as string[]).filter((o) => !o.startsWith('Provenance/')).map((o) => o.split('/_history/')[0]).sort();
      expect(targets).toEqual(own);
      // Its inbox entry is processed, with the same outputs.
      const entry = await fhirFetch(`${server.url}/ingest/messages/${result.inboxId}`);
      expect(entry.body).toMatchObject({ status: 'processed', outputs: result.outputs });
    }
    // The timeline shows every patient's report.
    const pid = await patientIdByBsn(server.fhir, bsns[5] as string);
    const timeline = await fhirFetch(`${server.fhir}/Patient/${pid}/$timeline`);
    expect(timeline.status).toBe(200);
    expect(JSON.stringify(timeline.body)).toContain('DiagnosticReport/');
  });

  it('writes one patient’s messages in the order sent: a correction later in the batch versions its original', async () => {
    const bsn = newBsn();
    const filler = `F-${uid()}`;
    const original = labMessage({ controlId: uid(), bsn, filler, results: [HB] });
    const other = labMessage({ controlId: uid(), bsn: newBsn(), filler: `F-${uid()}`, results: [CEA] });
    const correction = labMessage({ controlId: uid(), bsn, filler, orderStatus: 'C', results: [{ ...HB, value: '6.9', status: 'C' }] });
    const r = await postHl7(server.url, batchFile([original, other, correction]));
    expect(r.status).toBe(201);
    expect(r.body.results.map((x: Json) => x.status)).toEqual(['processed', 'processed', 'processed']);
    const [first, , second] = r.body.results as Json[];
    const [obs1] = outputsOf(first, 'Observation');
    const [obs2] = outputsOf(second, 'Observation');
    expect(obs1?.split('/_history/')[0]).toBe(obs2?.split('/_history/')[0]);
    expect(obs1?.endsWith('/_history/1')).toBe(true);
    expect(obs2?.endsWith('/_history/2')).toBe(true);
    const history = await fhirFetch(`${server.fhir}/${obs1?.split('/_history/')[0]}/_history`);
    const values = (history.body.entry as Json[]).map((e) => e.resource.valueQuantity.value);
    expect(values).toEqual([6.9, 7.1]);
    const pid = await patientIdByBsn(server.fhir, bsn);
    expect(await searchOf(server.fhir, `Observation?subject=Patient/${pid}`)).toHaveLength(1);
  });

  it('writes messages about one patient with the same demographics together, sharing its Patient; changed demographics wait for the next transaction', async () => {
    const bsn = newBsn();
    const orders = [uid(), uid(), uid()].map((id) => labMessage({ controlId: id, bsn, filler: `F-${id}`, results: [HB] }));
    const { result: r, count } = await commandsDuring('insert tx_journal', () => postHl7(server.url, batchFile(orders)));
    expect(r.body.results.map((x: Json) => x.status)).toEqual(['processed', 'processed', 'processed']);
    if (!server.services.database.supportsTransactions) expect(count).toBe(1);
    const pid = await patientIdByBsn(server.fhir, bsn);
    for (const result of r.body.results as Json[]) {
      expect(outputsOf(result, 'Patient')).toEqual([`Patient/${pid}/_history/1`]);
      const prov = await fhirFetch(`${server.fhir}/Provenance/${result.inboxId}`);
      expect((prov.body.target as { reference: string }[]).map((t) => t.reference)).toContain(`Patient/${pid}`);
    }
    expect(await countOf(server.fhir, `DiagnosticReport?subject=Patient/${pid}`)).toBe(3);

    // A new name in the second message: written after the first, as a second version of the Patient.
    const renamed = [labMessage({ controlId: uid(), bsn, filler: `F-${uid()}`, results: [HB] }), labMessage({ controlId: uid(), bsn, family: 'Jansen', filler: `F-${uid()}`, results: [CEA] })];
    const { result: again, count: transactions } = await commandsDuring('insert tx_journal', () => postHl7(server.url, batchFile(renamed)));
    expect(again.body.results.map((x: Json) => x.status)).toEqual(['processed', 'processed']);
    if (!server.services.database.supportsTransactions) expect(transactions).toBe(2);
    expect(outputsOf(again.body.results[1], 'Patient')).toEqual([`Patient/${pid}/_history/2`]);
    const patient = await fhirFetch(`${server.fhir}/Patient/${pid}`);
    expect(patient.body.name[0].family).toBe('Jansen');
  });

  it('fails a bad message alone and answers a copy as a duplicate, while the others are written', async () => {
    const a = labMessage({ controlId: uid(), bsn: newBsn(), filler: `F-${uid()}`, results: [HB] });
    const bad = labMessage({ controlId: uid(), bsn: newBsn(), filler: `F-${uid()}`, results: [HB, { ...CREA, value: '++' }] });
    const b = labMessage({ controlId: uid(), bsn: newBsn(), filler: `F-${uid()}`, results: [CEA] });
    const r = await postHl7(server.url, batchFile([a, bad, b, a]));
    expect(r.body.results.map((x: Json) => x.status)).toEqual(['processed', 'failed', 'processed', 'duplicate']);
    expect(r.body.results[1].error.location).toBe('OBX[2]-5');
    expect(r.body.results[3].duplicateOf).toBe(r.body.results[0].inboxId);
    const failed = await fhirFetch(`${server.url}/ingest/messages/${r.body.results[1].inboxId}`);
    expect(failed.body).toMatchObject({ status: 'failed' });
    expect(await countOf(server.fhir, `Provenance?_id=${r.body.results[1].inboxId}`)).toBe(0);
  });
});
