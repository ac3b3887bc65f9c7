import net from 'node:net';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Pipeline } from '../pipeline.ts';
import { ackFor, ACK_CODE, buildAck } from './hl7-ack.ts';

const VT = 0x0b;
const FS = 0x1c;
const CR = 0x0d;

export interface MllpServer {
  port: number;
  close: () => Promise<void>;
}

/**
 * The MLLP listener for HL7 v2 (framing: VT message FS CR). Each frame is stored in the inbox
 * byte for byte before anything else; only then is it processed and acknowledged: AA when
 * processed (or a duplicate of an already processed message), AE/AR with an ERR segment when
 * not, AR when it could not even be stored. Messages on one connection are handled in order.
 * See: HL7 v2.5.1 Appendix C (MLLP) and section 2.9 (original acknowledgment mode).
 */
export async function startMllpServer(options: { pipeline: Pipeline; port: number; host?: string; logger?: Logger; maxFrameBytes?: number }): Promise<MllpServer> {
  const maxFrame = options.maxFrameBytes ?? 64 * 1024 * 1024;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', (err) => options.logger?.warn({ err: err.message, peer: socket.remoteAddress }, 'MLLP connection error'));
    let buffer: Buffer = Buffer.alloc(0);
    let queue = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
      for (;;) {
        const start = buffer.indexOf(VT);
        if (start < 0) {
          buffer = Buffer.alloc(0);
          break;
        }
        const end = buffer.indexOf(FS, start + 1);
        if (end < 0 || end + 1 >= buffer.length) {
          if (buffer.length - start > maxFrame) {
            options.logger?.warn({ peer: socket.remoteAddress, bytes: buffer.length }, 'MLLP frame too large; closing connection');
            socket.destroy();
          }
          if (start > 0) buffer = buffer.subarray(start);
          break;
        }
        const frame = Buffer.from(buffer.subarray(start + 1, end));
        buffer = buffer.subarray(buffer[end + 1] === CR ? end + 2 : end + 1);
        queue = queue.then(() => handle(frame, socket));
      }
    });
  });

  const handle = async (frame: Buffer, socket: net.Socket): Promise<void> => {
    const raw = frame.toString('latin1');
    const now = new Date();
    let reply: string;
    try {
      const entry = await options.pipeline.receive({ bytes: frame, kind: 'hl7v2', source: 'mllp', origin: `${socket.remoteAddress}:${socket.remotePort}` });
      const result = await options.pipeline.process(entry);
      const ack = ackFor(result);
      reply = buildAck(raw, ack.code, { controlId: entry._id, now, text: ack.text, ...(ack.error ? { error: ack.error } : {}) });
    } catch (err) {
      options.logger?.error({ err }, 'MLLP message could not be stored');
      reply = buildAck(raw, ACK_CODE.reject, { controlId: randomUUID(), now, text: 'not stored; resend', error: { location: '', message: 'the message could not be stored; resend later', code: '207' } });
    }
    if (!socket.destroyed) socket.write(Buffer.concat([Buffer.from([VT]), Buffer.from(reply, 'utf8'), Buffer.from([FS, CR])]));
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
