import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './support/server.ts';
import { postHl7 } from './fixtures/ingest/clients.ts';
import { corpusDir } from './support/corpus.ts';

/** Every message of the shared HL7 v2 corpus over HTTP: processed, or failed with a location and a reason; never a 500. */

const CORPUS = corpusDir('hl7v2');
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

describe('the shared HL7 v2 corpus', () => {
  it('every message is processed or refused with a location and a reason', async () => {
    const files = (await readdir(CORPUS)).filter((f) => !f.startsWith('.')).sort();
    expect(files.length).toBeGreaterThan(10);
    const outcomes: Record<string, string[]> = {};
    for (const file of files) {
      const bytes = await readFile(path.join(CORPUS, file));
      const r = await postHl7(server.url, bytes);
      expect(r.status, `${file}: HTTP ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`).not.toBe(500);
      expect([200, 201, 207, 422], `${file}: HTTP ${r.status}`).toContain(r.status);
      for (const res of r.body.results) {
        if (res.status === 'failed') {
          expect(res.error.location, `${file}: failure without a location: ${res.error.message}`).not.toBe('');
          expect(res.error.message.length, `${file}: failure without a reason`).toBeGreaterThan(10);
          expect(res.error.message, `${file}: internal error: ${res.error.message}`).not.toMatch(/internal error/);
          expect(res.outcome.issue[0].expression).toEqual([res.error.location]);
        } else {
          expect(res.outputs.length, `${file}: processed but nothing written`).toBeGreaterThan(0);
        }
        (outcomes[file] ??= []).push(res.status === 'failed' ? `failed ${res.error.location}: ${res.error.message}` : `${res.status} ${res.label}`);
      }
    }
    // Every ORU^R01 is filed (the kitchen-sink ORU-R01-01 too, patient-level OBX included); OUL
    // (a different message structure) is refused at MSH-9.
    for (const f of ['LAB-ORU-1.hl7', 'LAB-ORU-2.hl7', 'ORU-R01-RMGEAD.hl7', 'ORU-R01-01.hl7']) expect(outcomes[f]?.every((o) => o.startsWith('processed')), `${f}: ${outcomes[f]}`).toBe(true);
    for (const f of files.filter((x) => x.startsWith('OUL'))) expect(outcomes[f]?.[0], f).toMatch(/^failed MSH-9: OUL\^R2\d is not supported/);
  }, 120_000);
});
