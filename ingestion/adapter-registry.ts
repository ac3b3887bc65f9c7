import type { AdapterContext, AdapterOutput } from './adapters/types.ts';
import { AdapterError } from './adapters/types.ts';
import { HL7V2_ADAPTER_VERSION, hl7v2ToBundle, type Hl7v2AdapterOptions } from './adapters/hl7v2/index.ts';
import type { InboxEntry } from '../schema/inbox.ts';

/** An adapter as the pipeline runs it: raw bytes of an inbox entry in, transaction Bundle out. */
export interface RegisteredAdapter {
  version: string;
  run: (bytes: Buffer, entry: InboxEntry, ctx: AdapterContext) => Promise<AdapterOutput> | AdapterOutput;
}

/** Decodes HL7 v2 bytes: UTF-8, or ISO-8859-1 when MSH-18 says so; invalid UTF-8 is refused. */
export function decodeHl7Text(bytes: Buffer): string {
  const head = bytes.subarray(0, 2048).toString('latin1');
  const msh18 = /MSH\|[^\r\n]*/.exec(head)?.[0]?.split('|')[17] ?? '';
  if (/8859/.test(msh18)) return bytes.toString('latin1');
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new AdapterError('MSH-18', `the message is not valid UTF-8 and MSH-18 ("${msh18}") names no other character set; non-text bytes?`);
  }
}

/** The adapters by inbox kind. */
export function defaultAdapters(options: { hl7v2?: Hl7v2AdapterOptions } = {}): Record<string, RegisteredAdapter> {
  return {
    hl7v2: {
      version: HL7V2_ADAPTER_VERSION,
      run: (bytes, _entry, ctx) => hl7v2ToBundle(decodeHl7Text(bytes), ctx, options.hl7v2),
    },
  };
}
