import { z } from 'zod';
import { isValidTimezone } from './dates.ts';

/** Adapter options, validated once with zod (they come from configuration). */
export const hl7v2AdapterOptionsSchema = z.object({
  /** Zone for HL7 times without an offset: an IANA zone or a fixed offset (`+01:00`, `Z`). */
  defaultTimezone: z.string().refine(isValidTimezone, 'must be an IANA time zone or an offset like +01:00').default('Europe/Amsterdam'),
  /** OBR-24 diagnostic service sections that mark an anatomic pathology report (HL7 table 0074). */
  pathologySections: z.array(z.string().min(1)).default(['SP', 'PAT', 'CP']),
  /** OBR-4 universal service ids (identifier, any coding system) that mark a pathology report. */
  pathologyServiceIds: z.array(z.string().min(1)).default([]),
  /** OBR-24 sections mapped to category RAD. */
  radiologySections: z.array(z.string().min(1)).default(['RAD', 'RX', 'CT', 'NMR', 'NMS', 'RUS', 'VUS', 'OUS', 'CUS', 'XRC']),
  /** Accept MSH-12 versions 2.6 to 2.9 (mapped as 2.5.1, with a warning); when false they are refused. */
  acceptNewerVersions: z.boolean().default(true),
});

/** Options as a caller writes them (everything optional). */
export type Hl7v2AdapterOptions = z.input<typeof hl7v2AdapterOptionsSchema>;
/** Options after defaults are applied. */
export type ResolvedHl7v2Options = z.output<typeof hl7v2AdapterOptionsSchema>;

const resolved = new WeakMap<object, ResolvedHl7v2Options>();
let defaults: ResolvedHl7v2Options | undefined;

/** Validates options (cached per options object, so a caller reusing one object pays once). */
export function resolveOptions(options?: Hl7v2AdapterOptions): ResolvedHl7v2Options {
  if (!options) return (defaults ??= hl7v2AdapterOptionsSchema.parse({}));
  const hit = resolved.get(options);
  if (hit) return hit;
  const out = hl7v2AdapterOptionsSchema.parse(options);
  resolved.set(options, out);
  return out;
}
