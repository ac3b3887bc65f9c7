import { z } from 'zod';
import { isValidTimezone } from '../hl7v2/dates.ts';
import { AdapterError } from '../types.ts';

/** Options of the DICOM adapters, validated with zod (they come from configuration or an HTTP request). */
export const dicomAdapterOptionsSchema = z.object({
  /** WADO-RS base URL of the PACS the instances come from; when given, an Endpoint is added and referenced. */
  wadoRsBase: z.url({ protocol: /^https?$/ }).optional(),
  /** Zone for DICOM times without TimezoneOffsetFromUTC: an IANA zone or a fixed offset. */
  defaultTimezone: z.string().refine(isValidTimezone, 'must be an IANA time zone or an offset like +01:00').default('Europe/Amsterdam'),
  /** Namespace of specimen identifiers without an issuer, as the HL7 v2 adapter writes them (`<namespace>/<id>`). */
  specimenNamespace: z.string().min(1).optional(),
});

/** Options as a caller writes them. */
export type DicomAdapterOptions = z.input<typeof dicomAdapterOptionsSchema>;
/** Options after defaults. */
export type ResolvedDicomOptions = z.output<typeof dicomAdapterOptionsSchema>;

/** Validates options; a bad option is an AdapterError naming it. */
export function resolveDicomOptions(options: DicomAdapterOptions | undefined): ResolvedDicomOptions {
  const parsed = dicomAdapterOptionsSchema.safeParse(options ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new AdapterError(`options.${issue?.path.join('.') ?? ''}`, issue?.message ?? 'invalid options');
  }
  return parsed.data;
}
