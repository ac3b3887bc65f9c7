/**
 * HL7 v2 ORU^R01 adapter (lab results and anatomic pathology reports, v2.3 to 2.5.1): raw
 * message text in, FHIR R4 transaction Bundle out. Pure: no I/O, time and ids come from the context.
 */
import type { AdapterContext, AdapterOutput } from '../types.ts';
import { oruToBundle } from './oru-to-bundle.ts';
import type { Hl7v2AdapterOptions } from './options.ts';

export { HL7V2_ADAPTER_VERSION, IDR_SYSTEMS, EXTENSIONS } from './constants.ts';
export { splitHl7Batch } from './batch.ts';
export { peekMessageHeader, type MessageHeader } from './header.ts';
export { hl7v2AdapterOptionsSchema, type Hl7v2AdapterOptions } from './options.ts';

/** Maps one HL7 v2 ORU^R01 message to a FHIR transaction Bundle; throws AdapterError for refused input. */
export function hl7v2ToBundle(raw: string, ctx: AdapterContext, options?: Hl7v2AdapterOptions): AdapterOutput {
  return oruToBundle(raw, ctx, options);
}
