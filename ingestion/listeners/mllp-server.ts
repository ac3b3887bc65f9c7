import net from 'node:net';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Pipeline } from '../pipeline.ts';
import { ackFor, ACK_CODE, buildAck } from './hl7-ack.ts';
import { peekMessageHeader } from '../adapters/hl7v2/index.ts';
import { FrameAssembler, FS, VT } from './mllp-frames.ts';

const CR = 0x0d;

export interface MllpServer {
  port: number;
  close: () => Promise<void>;
}

/**
 * What the listener asks before storing a frame (backpressure, a store that is down): `storeDown`
 * names why nothing can be stored now (undefined when the store is up); `admit` waits for an
 * ingestion slot (shared with HTTP ingestion) or says how long the sender should wait. Refused
 * frames are answered AR and not stored, so the sender resends them.
 */
export interface MllpGate {
  storeDown: () => string | undefined;
  admit: () => Promise<{ admitted: true; release: () => void } | { admitted: false; retryAfterSeconds: number }>;
}

/** Frames waiting on one connection before it stops reading (back pressure on a fast sender). */
const MAX_PENDING = 8;
/** The default largest frame (IDR_MLLP_MAX_FRAME_BYTES). */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;

/**
 * The MLLP listener for HL7 v2 (framing: VT message FS CR). Each frame is stored in the inbox
 * byte for byte before anything else; only then is it processed and acknowledged: AA when
 * processed (or a duplicate of an already processed message), AE/AR with an ERR segment when
 * not, AR when it could not even be stored. Messages on one connection are handled in order.
 * Frames are assembled in linear time (chunks are collected, only new bytes are scanned for the
 * end block, one concat per frame). A frame over `maxFrameBytes` is not stored: it is answered
 * AR naming the limit as soon as the limit is passed (its remaining bytes are read and dropped),
 * or the connection is closed when its first bytes hold no MSH to answer. With a `gate`, a frame
 * that arrives while the store is down or ingestion is saturated is answered AR ("not stored;
 * resend" / "busy; resend") at once, not stored. With a non-empty `allow` (IDR_MLLP_ALLOW), a
 * connection from any other address is closed at once, before a byte is read (and logged with its
 * address). MLLP has no authentication of its own: production puts it behind TLS or a VPN.
 * See: HL7 v2.5.1 Appendix C (MLLP) and section 2.9 (original acknowledgment mode).
 */
export async function startMllpServer(options: { pipeline: Pipeline; port: number; host?: string; logger?: Logger; maxFrameBytes?: number; gate?: MllpGate; allow?: readonly string[] }): Promise<MllpServer> {
  const maxFrame = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  const allowed = new Set((options.allow ?? []).map(plainAddress));
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    socket.on('error', (err) => options.logger?.warn({ err: err.message, peer: socket.remoteAddress }, 'MLLP connection error'));
    if (allowed.size && !allowed.has(plainAddress(socket.remoteAddress ?? ''))) {
      options.logger?.warn({ peer: socket.remoteAddress }, 'MLLP connection from an address not in IDR_MLLP_ALLOW: closed, nothing read');
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let queue = Promise.resolve();
    let pending = 0;
    const enqueue = (work: () => Promise<void>): void => {
      pending++;
      if (pending >= MAX_PENDING) socket.pause();
      queue = queue.then(work).catch((err: unknown) => options.logger?.error({ err }, 'MLLP reply failed')).finally(() => {
        pending--;
        if (pending < MAX_PENDING && !socket.destroyed) socket.resume();
      });
    };
    const frames = new FrameAssembler(maxFrame);
    socket.on('data', (chunk: Buffer) => {
      for (const event of frames.push(chunk)) {
        if (event.kind === 'frame') {
          enqueue(() => handle(event.bytes, socket));
          continue;
        }
        const head = event.head.toString('latin1');
        if (!hasHeader(head)) {
          options.logger?.warn({ peer: socket.remoteAddress, limit: maxFrame }, 'MLLP frame over the size limit without a readable MSH; closing connection');
          socket.destroy();
          return;
        }
        options.logger?.warn({ peer: socket.remoteAddress, limit: maxFrame }, 'MLLP frame over the size limit; answered AR, not stored');
        enqueue(async () => tooLarge(head, socket));
      }
    });
  });

  const send = (socket: net.Socket, reply: string): void => {
    if (!socket.destroyed) socket.write(Buffer.concat([Buffer.from([VT]), Buffer.from(reply, 'utf8'), Buffer.from([FS, CR])]));
  };

  const tooLarge = (head: string, socket: net.Socket): void => {
    const message = `the frame is larger than the limit of ${maxFrame} bytes (IDR_MLLP_MAX_FRAME_BYTES); not stored: split the message or ask for a higher limit`;
    send(socket, buildAck(head, ACK_CODE.reject, { controlId: randomUUID(), now: new Date(), text: 'rejected: frame too large', error: { location: '', message, code: '207' } }));
  };

  const handle = async (frame: Buffer, socket: net.Socket): Promise<void> => {
    const raw = frame.toString('latin1');
    const refusal = options.gate?.storeDown();
    if (refusal) {
      send(socket, buildAck(raw, ACK_CODE.reject, { controlId: randomUUID(), now: new Date(), text: 'not stored; resend', error: { location: '', message: `${refusal}; the message was not stored: resend it`, code: '207' } }));
      return;
    }
    const slot = options.gate ? await options.gate.admit() : { admitted: true as const, release: () => undefined };
    if (!slot.admitted) {
      options.logger?.warn({ peer: socket.remoteAddress, retryAfter: slot.retryAfterSeconds }, 'MLLP message refused: ingestion busy');
      send(socket, buildAck(raw, ACK_CODE.reject, { controlId: randomUUID(), now: new Date(), text: 'busy; resend', error: { location: '', message: `IDR is busy (ingestion queue full); the message was not stored: resend it in ${slot.retryAfterSeconds} s`, code: '207' } }));
      return;
    }
    try {
      await receiveAndProcess(frame, raw, socket);
    } finally {
      slot.release();
    }
  };

  const receiveAndProcess = async (frame: Buffer, raw: string, socket: net.Socket): Promise<void> => {
    const now = new Date();
    let reply: string;
    let storedAs: string | undefined;
    try {
      const entry = await options.pipeline.receive({ bytes: frame, kind: 'hl7v2', source: 'mllp', origin: `${socket.remoteAddress}:${socket.remotePort}` });
      storedAs = entry._id;
      const result = await options.pipeline.process(entry);
      const ack = ackFor(result);
      reply = buildAck(raw, ack.code, { controlId: entry._id, now, text: ack.text, ...(ack.error ? { error: ack.error } : {}) });
    } catch (err) {
      if (storedAs) {
        // Kept as received (processed later); a resend is recognised as the same input.
        options.logger?.error({ err, inboxId: storedAs }, 'MLLP message stored but not processed');
        reply = buildAck(raw, ACK_CODE.reject, { controlId: storedAs, now, text: 'not processed; resend', error: { location: '', message: `the message was stored as ${storedAs} but could not be processed now; resend it later`, code: '207' } });
      } else {
        options.logger?.error({ err }, 'MLLP message could not be stored');
        reply = buildAck(raw, ACK_CODE.reject, { controlId: randomUUID(), now, text: 'not stored; resend', error: { location: '', message: 'the message could not be stored; resend later', code: '207' } });
      }
    }
    send(socket, reply);
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** An address as compared with the allow-list: IPv4-mapped IPv6 ("::ffff:10.0.0.1") as IPv4, lower case. */
function plainAddress(address: string): string {
  const a = address.trim().toLowerCase();
  return a.startsWith('::ffff:') && net.isIPv4(a.slice(7)) ? a.slice(7) : a;
}

/** True when the text starts with an MSH segment whose header can be read (to address an ACK). */
function hasHeader(head: string): boolean {
  if (!/^\s*MSH/.test(head)) return false;
  try {
    peekMessageHeader(head);
    return true;
  } catch {
    return false;
  }
}
