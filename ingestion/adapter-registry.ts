import type { AdapterContext, AdapterOutput } from './adapters/types.ts';
import { AdapterError } from './adapters/types.ts';
import { HL7V2_ADAPTER_VERSION, hl7v2ToBundle, type Hl7v2AdapterOptions } from './adapters/hl7v2/index.ts';
import type { InboxEntry } from './inbox.ts';
import { mdmToBundle } from './adapters/documents/index.ts';
import { imagingAdapters, type ImagingAdapterOptions } from './imaging/dicom-adapters.ts';
import { documentAdapter, type DocumentAdapterOptions } from './documents/document-adapter.ts';

/** An adapter as the pipeline runs it: raw bytes of an inbox entry in, transaction Bundle out. */
export interface RegisteredAdapter {
  version: string;
  run: (bytes: Buffer, entry: InboxEntry, ctx: AdapterContext) => Promise<AdapterOutput> | AdapterOutput;
}

/** The MSH-18 of the first message in HL7 v2 bytes ("" when none). */
function characterSet(bytes: Buffer): string {
  const head = bytes.subarray(0, 2048).toString('latin1');
  return /MSH\|[^\r\n]*/.exec(head)?.[0]?.split('|')[17] ?? '';
}

/**
 * The encoding decodeHl7Text reads HL7 v2 bytes with: 'latin1' when MSH-18 names ISO-8859, else
 * 'utf8'. Messages split from a batch are encoded back with it, so they keep the sender's bytes.
 */
export function hl7Encoding(bytes: Buffer): 'latin1' | 'utf8' {
  return /8859/.test(characterSet(bytes)) ? 'latin1' : 'utf8';
}

/** Decodes HL7 v2 bytes: UTF-8, or ISO-8859-1 when MSH-18 says so; invalid UTF-8 is refused. */
export function decodeHl7Text(bytes: Buffer): string {
  const msh18 = characterSet(bytes);
  if (/8859/.test(msh18)) return bytes.toString('latin1');
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new AdapterError('MSH-18', `the message is not valid UTF-8 and MSH-18 ("${msh18}") names no other character set; non-text bytes?`);
  }
}

/** MSH-9.1 (message type) of an HL7 v2 text, e.g. "ORU" or "MDM"; "" when there is no MSH. */
function messageType(text: string): string {
  const msh = /MSH(.)[^\r\n]*/.exec(text.slice(0, 4096));
  if (!msh) return '';
  const sep = msh[1] as string;
  const component = msh[0].slice(4, 5) || '^';
  return (msh[0].split(sep)[8] ?? '').split(component)[0]?.trim().toUpperCase() ?? '';
}

/**
 * The adapters by inbox kind. `hl7v2` dispatches on MSH-9: MDM messages (letters, radiology
 * reports) go to the MDM adapter, everything else to the ORU adapter. `dicom`, `dicomweb` and
 * `document` need the store (patient check, series merge) and are registered when `imaging` /
 * `documents` are given.
 */
export function defaultAdapters(options: { hl7v2?: Hl7v2AdapterOptions; imaging?: ImagingAdapterOptions; documents?: Omit<DocumentAdapterOptions, 'decodeHl7'> } = {}): Record<string, RegisteredAdapter> {
  return {
    hl7v2: {
      version: HL7V2_ADAPTER_VERSION,
      run: (bytes, _entry, ctx) => {
        const text = decodeHl7Text(bytes);
        if (messageType(text) === 'MDM') return mdmToBundle(text, ctx, options.hl7v2?.defaultTimezone ? { defaultTimezone: options.hl7v2.defaultTimezone } : {});
        return hl7v2ToBundle(text, ctx, options.hl7v2);
      },
    },
    ...(options.imaging ? imagingAdapters(options.imaging) : {}),
    ...(options.documents ? { document: documentAdapter({ ...options.documents, decodeHl7: decodeHl7Text }) } : {}),
  };
}
