import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './support/server.ts';
import { countOf, mllpExchange, patientIdByBsn, searchOf } from './fixtures/ingest/clients.ts';
import { labMessage, manyObxMessage, mllpFrame, newBsn, uid } from './fixtures/ingest/messages.ts';

/** A message with 5,000 OBX over a raw MLLP socket must be processed, and the service keeps serving. */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

describe('a message with 5,000 OBX', () => {
  it('is processed: AA, 5,000 Observations searchable, one report with 5,000 results', async () => {
    const id = uid();
    const bsn = newBsn();
    const { ack } = await mllpExchange(server.mllpPort as number, mllpFrame(manyObxMessage(id, bsn, `F-${id}`, 5000)), 280_000);
    expect(ack?.segment('MSA')?.slice(1, 3)).toEqual(['AA', id]);
    const pid = await patientIdByBsn(server.fhir, bsn);
    expect(await countOf(server.fhir, `Observation?subject=Patient/${pid}`)).toBe(5000);
    const [report] = await searchOf(server.fhir, `DiagnosticReport?subject=Patient/${pid}&_elements=result`);
    expect(report.result).toHaveLength(5000);

    const next = uid();
    const good = await mllpExchange(server.mllpPort as number, mllpFrame(labMessage({ controlId: next, bsn: newBsn(), filler: `F-${next}` })));
    expect(good.ack?.segment('MSA')?.slice(1, 3)).toEqual(['AA', next]);
  }, 300_000);
});
