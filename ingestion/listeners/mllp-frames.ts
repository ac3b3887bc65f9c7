/** MLLP framing bytes: start block VT, end block FS (followed by CR). See: HL7 v2.5.1 Appendix C. */
export const VT = 0x0b;
export const FS = 0x1c;

/** Leading bytes of an oversized frame kept to read its MSH for the AR. */
const HEAD_BYTES = 4096;

/** What the assembler found in the bytes pushed so far. */
export type FrameEvent = { kind: 'frame'; bytes: Buffer } | { kind: 'too-large'; head: Buffer };

/**
 * MLLP frame assembly in linear time: between VT and FS the chunks are collected as they come
 * (only the new bytes are scanned for FS) and joined once; the CR after FS, and anything
 * outside a frame, is skipped. A frame passing `maxBytes` yields one `too-large` event with its
 * first bytes, and its remaining bytes are dropped up to its FS.
 */
export class FrameAssembler {
  private readonly maxBytes: number;
  private inFrame = false;
  private oversized = false;
  private chunks: Buffer[] = [];
  private size = 0;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  /** Feeds received bytes; returns the frames (and refusals) they complete, in order. */
  push(chunk: Buffer): FrameEvent[] {
    const events: FrameEvent[] = [];
    let pos = 0;
    while (pos < chunk.length) {
      if (!this.inFrame) {
        const start = chunk.indexOf(VT, pos);
        if (start < 0) break;
        this.inFrame = true;
        this.oversized = false;
        this.chunks = [];
        this.size = 0;
        pos = start + 1;
      }
      const end = chunk.indexOf(FS, pos);
      const piece = chunk.subarray(pos, end < 0 ? chunk.length : end);
      if (!this.oversized) {
        if (this.size + piece.length > this.maxBytes) {
          this.oversized = true;
          const head = Buffer.concat([...this.chunks, piece]).subarray(0, HEAD_BYTES);
          this.chunks = [];
          events.push({ kind: 'too-large', head: Buffer.from(head) });
        } else if (piece.length) {
          this.chunks.push(piece);
        }
      }
      this.size += piece.length;
      if (end < 0) break;
      if (!this.oversized) events.push({ kind: 'frame', bytes: Buffer.concat(this.chunks, this.size) });
      this.inFrame = false;
      this.chunks = [];
      pos = end + 1;
    }
    return events;
  }
}
