import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authFetch, startTestServer, type TestServer } from './support/server.ts';
import { type Ack, mllpExchange, parseAck, rawOf } from './fixtures/ingest/clients.ts';
import { labMessage, mllpFrame, newBsn, uid } from './fixtures/ingest/messages.ts';

/**
 * MLLP frame size limit (IDR_MLLP_MAX_FRAME_BYTES), over a real TCP socket: an oversized frame is
 * answered AR naming the limit and not stored, other connections keep getting AA meanwhile, the
 * same connection stays usable; a 20 MB frame under a raised limit is stored byte for byte.
 */

const LIMIT = 1024 * 1024;
let small: TestServer;
let large: TestServer;
beforeAll(async () => {
  [small, large] = await Promise.all([
    startTestServer({ IDR_MLLP_MAX_FRAME_BYTES: String(LIMIT) }),
    startTestServer({ IDR_MLLP_MAX_FRAME_BYTES: String(32 * 1024 * 1024) }),
  ]);
});
afterAll(async () => {
  await Promise.all([small?.close(), large?.close()]);
});

/** A long-lived MLLP connection that hands out the replies in the order they arrive. */
class Connection {
  private readonly socket: net.Socket;
  private buffer = Buffer.alloc(0);
  private readonly replies: Ack[] = [];
  private waiting: ((ack: Ack) => void) | undefined;
  closed = false;

  constructor(port: number) {
    this.socket = net.connect({ host: '127.0.0.1', port });
    this.socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      for (;;) {
        const start = this.buffer.indexOf(0x0b);
        const end = this.buffer.indexOf(0x1c, start + 1);
        if (start < 0 || end < 0) break;
        const ack = parseAck(this.buffer.subarray(start + 1, end).toString('utf8'));
        this.buffer = this.buffer.subarray(end + 1);
        if (this.waiting) {
          const w = this.waiting;
          this.waiting = undefined;
          w(ack);
        } else this.replies.push(ack);
      }
    });
    this.socket.on('close', () => (this.closed = true));
    this.socket.on('error', () => (this.closed = true));
  }

  write(bytes: Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.socket.write(bytes, (err) => (err ? reject(err) : resolve())));
  }

  next(): Promise<Ack> {
    const ready = this.replies.shift();
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      this.waiting = resolve;
      this.socket.once('close', () => reject(new Error('connection closed before a reply')));
    });
  }

  end(): void {
    this.socket.destroy();
  }
}

/** A lab message padded with Z segments (skipped by the adapter) to about `bytes`. */
function paddedMessage(controlId: string, bytes: number): string {
  const head = labMessage({ controlId, bsn: newBsn(), filler: `F-${controlId}` });
  const line = `ZPD|${'x'.repeat(995)}`;
  const count = Math.ceil((bytes - head.length) / (line.length + 1));
  return [head, ...Array.from({ length: count }, () => line)].join('\r');
}

describe('MLLP frame size limit', () => {
  it('answers AR naming the limit for an oversized frame while another connection gets AA; the connection stays usable', async () => {
    const big = new Connection(small.mllpPort as number);
    const id = uid();
    const frame = mllpFrame(paddedMessage(id, 2 * LIMIT));
    // Send the oversized frame without its end block: the refusal must not wait for it.
    await big.write(frame.subarray(0, frame.length - 2));
    const refusal = await big.next();
    expect(refusal.segment('MSA')?.slice(1, 3)).toEqual(['AR', id]);
    expect(refusal.text).toContain(`limit of ${LIMIT} bytes (IDR_MLLP_MAX_FRAME_BYTES)`);
    expect(refusal.segment('ERR')?.[3]).toMatch(/^207\^/);

    const other = uid();
    const meanwhile = await mllpExchange(small.mllpPort as number, mllpFrame(labMessage({ controlId: other, bsn: newBsn(), filler: `F-${other}` })));
    expect(meanwhile.ack?.segment('MSA')?.slice(1, 3)).toEqual(['AA', other]);

    await big.write(frame.subarray(frame.length - 2));
    const after = uid();
    await big.write(mllpFrame(labMessage({ controlId: after, bsn: newBsn(), filler: `F-${after}` })));
    expect((await big.next()).segment('MSA')?.slice(1, 3)).toEqual(['AA', after]);
    big.end();

    const stored = await authFetch(`${small.url}/ingest/messages?kind=hl7v2&_count=500`).then((r) => r.json() as Promise<{ entries: { externalId?: string; size: number }[] }>);
    expect(stored.entries.some((e) => e.size > LIMIT)).toBe(false);
  });

  it('serves other connections while a slow sender trickles its frame, then answers the slow one too', async () => {
    const slow = new Connection(small.mllpPort as number);
    const id = uid();
    const frame = mllpFrame(labMessage({ controlId: id, bsn: newBsn(), filler: `F-${id}` }));
    const half = Math.floor(frame.length / 2);
    for (let i = 0; i < half; i += 16) await slow.write(frame.subarray(i, Math.min(i + 16, half)));
    const other = uid();
    const meanwhile = await mllpExchange(small.mllpPort as number, mllpFrame(labMessage({ controlId: other, bsn: newBsn(), filler: `F-${other}` })));
    expect(meanwhile.ack?.segment('MSA')?.slice(1, 3)).toEqual(['AA', other]);
    await slow.write(frame.subarray(half));
    expect((await slow.next()).segment('MSA')?.slice(1, 3)).toEqual(['AA', id]);
    slow.end();
  });

  it('closes the connection when an oversized frame has no MSH to answer', async () => {
    const junk = Buffer.concat([Buffer.from([0x0b]), Buffer.alloc(LIMIT + 10, 0x41)]);
    const r = await mllpExchange(small.mllpPort as number, junk);
    expect(r).toEqual({ closed: true });
    const id = uid();
    const good = await mllpExchange(small.mllpPort as number, mllpFrame(labMessage({ controlId: id, bsn: newBsn(), filler: `F-${id}` })));
    expect(good.ack?.segment('MSA')?.slice(1, 3)).toEqual(['AA', id]);
  });

  it('receives a 20 MB frame under a raised limit, stored byte for byte and acknowledged AA', async () => {
    const id = uid();
    const text = paddedMessage(id, 20 * 1024 * 1024);
    const { ack } = await mllpExchange(large.mllpPort as number, mllpFrame(text), 280_000);
    expect(ack?.segment('MSA')?.slice(1, 3)).toEqual(['AA', id]);
    // The ACK's own control id (MSH-10) is the inbox entry id.
    const inboxId = ack?.segment('MSH')?.[9] ?? '';
    const raw = await rawOf(large.url, inboxId);
    expect(raw.status).toBe(200);
    expect(raw.bytes.length).toBe(Buffer.byteLength(text));
    expect(raw.bytes.equals(Buffer.from(text, 'utf8'))).toBe(true);

    const next = uid();
    const good = await mllpExchange(large.mllpPort as number, mllpFrame(labMessage({ controlId: next, bsn: newBsn(), filler: `F-${next}` })));
    expect(good.ack?.segment('MSA')?.slice(1, 3)).toEqual(['AA', next]);
  }, 300_000);
});
