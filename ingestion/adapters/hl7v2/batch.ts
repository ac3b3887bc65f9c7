const BATCH_SEGMENTS = new Set(['FHS', 'BHS', 'BTS', 'FTS']);
const MLLP_START = '\u000b';
const MLLP_END = '\u001c';

/**
 * Splits a file or request body into single messages, each with \r segment separators: MLLP-framed
 * blocks (0x0B ... 0x1C 0x0D), FHS/BHS/BTS/FTS batches, or messages back to back (each starting
 * with MSH). Strips a UTF-8 BOM; accepts \r, \n or \r\n. Lines before the first MSH of a block
 * are returned as a message of their own, so nothing is dropped unseen (the adapter refuses it).
 * See: HL7 v2.5 section 2.10.3 (batch protocol) and the MLLP transport specification.
 */
export function splitHl7Batch(text: string): string[] {
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const blocks = body.includes(MLLP_START)
    ? body.split(MLLP_START).map((b) => (b.includes(MLLP_END) ? b.slice(0, b.indexOf(MLLP_END)) : b))
    : [body];
  const messages: string[][] = [];
  for (const block of blocks) {
    let current: string[] | undefined;
    const lines = (block.startsWith('\uFEFF') ? block.slice(1) : block).split(/\r\n|\r|\n/);
    for (const line of lines) {
      if (line.trim() === '') continue;
      const name = line.slice(0, 3);
      if (BATCH_SEGMENTS.has(name)) {
        current = undefined;
        continue;
      }
      if (name === 'MSH' || !current) {
        current = [];
        messages.push(current);
      }
      current.push(line);
    }
  }
  return messages.map((m) => m.join('\r'));
}
