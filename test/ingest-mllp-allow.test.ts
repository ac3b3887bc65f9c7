import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMllpServer } from '../ingestion/listeners/mllp-server.ts';
import { authFetch, startTestServer, type TestServer } from './support/server.ts';
import { mllpExchange } from './fixtures/ingest/clients.ts';
import { HB, labMessage, mllpFrame, newBsn, uid } from './fixtures/ingest/messages.ts';

/**
 * MLLP sender allow-list (IDR_MLLP_ALLOW): a connection from an address not on it is closed at
 * once, logged with its address, and nothing it sent is stored; an allowed sender is served.
 */

let refusing: TestServer;
let allowing: TestServer;
beforeAll(async () => {
  [refusing, allowing] = await Promise.all([
    // 192.0.2.1 is a documentation address (RFC 5737): the loopback sender below is not it.
    startTestServer({ IDR_MLLP_ALLOW: '192.0.2.1' }),
    startTestServer({ IDR_MLLP_ALLOW: '192.0.2.1, 127.0.0.1' }),
  ]);
});
afterAll(async () => {
  await Promise.all([refusing?.close(), allowing?.close()]);
});

const inboxTotal = async (server: TestServer): Promise<number> =>
  ((await (await authFetch(`${server.url}/ingest/messages`)).json()) as { total: number }).total;

const lab = (): Buffer => mllpFrame(labMessage({ controlId: uid(), bsn: newBsn(), filler: `F-${uid()}`, results: [HB] }));

describe('MLLP allow-list', () => {
  it('closes a connection from an address not on the list without answering or storing anything', async () => {
    const r = await mllpExchange(refusing.mllpPort as number, lab(), 10_000);
    expect(r).toEqual({ closed: true });
    expect(await inboxTotal(refusing)).toBe(0);
  });

  it('serves a sender on the list', async () => {
    const r = await mllpExchange(allowing.mllpPort as number, lab());
    expect(r.closed).toBe(false);
    expect(r.ack?.segment('MSA')?.[1]).toBe('AA');
    expect(await inboxTotal(allowing)).toBe(1);
  });

  it('logs the refused address', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(chunk.toString('utf8')), done()) }));
    const mllp = await startMllpServer({ pipeline: refusing.services.pipeline, port: 0, host: '127.0.0.1', logger, allow: ['192.0.2.1'] });
    try {
      expect(await mllpExchange(mllp.port, lab(), 10_000)).toEqual({ closed: true });
      const refused = lines.map((l) => JSON.parse(l) as { peer?: string; msg?: string }).find((l) => /IDR_MLLP_ALLOW/.test(l.msg ?? ''));
      expect(refused?.peer).toMatch(/127\.0\.0\.1$/);
      expect(await inboxTotal(refusing)).toBe(0);
    } finally {
      await mllp.close();
    }
  });
});
