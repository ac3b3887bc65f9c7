import { z } from 'zod';
import { AdapterError } from '../types.ts';

/**
 * The DICOM JSON model (PS3.18 F.2) for the QIDO-RS attributes the ImagingStudy mapping reads,
 * validated with zod. Unknown attributes pass through untouched.
 * See: https://dicom.nema.org/medical/dicom/current/output/chtml/part18/sect_F.2.html
 */
const text = (vr: string) => z.object({ vr: z.literal(vr), Value: z.array(z.string().nullable()).optional() });
const uid = z.object({ vr: z.literal('UI'), Value: z.tuple([z.string().regex(/^[0-9.]{1,64}$/, 'expected a UID')]).rest(z.string()) });
const requiredText = (vr: string) => z.object({ vr: z.literal(vr), Value: z.tuple([z.string().min(1)]).rest(z.string()) });
const integer = z.object({ vr: z.literal('IS'), Value: z.array(z.union([z.number().int(), z.string().regex(/^\s*[+-]?\d+\s*$/)]).nullable()).optional() });
const pn = z.object({ vr: z.literal('PN'), Value: z.array(z.object({ Alphabetic: z.string().optional() }).nullable()).optional() });

/** A QIDO-RS study result. */
export const qidoStudySchema = z.looseObject({
  '0020000D': uid,
  '00100020': requiredText('LO'),
  '00100021': text('LO').optional(),
  '00100010': pn.optional(),
  '00100030': text('DA').optional(),
  '00100040': text('CS').optional(),
  '00080050': text('SH').optional(),
  '00080020': text('DA').optional(),
  '00080030': text('TM').optional(),
  '00080201': text('SH').optional(),
  '00080061': text('CS').optional(),
  '00081030': text('LO').optional(),
  '00080090': pn.optional(),
  '00201206': integer.optional(),
  '00201208': integer.optional(),
});

/** A QIDO-RS series result. */
export const qidoSeriesSchema = z.looseObject({
  '0020000E': uid,
  '00080060': requiredText('CS'),
  '0008103E': text('LO').optional(),
  '00180015': text('CS').optional(),
  '00200060': text('CS').optional(),
  '00200011': integer.optional(),
  '00201209': integer.optional(),
  '00080021': text('DA').optional(),
  '00080031': text('TM').optional(),
});

/** One QIDO-RS study object (DICOM JSON). */
export type QidoStudy = z.input<typeof qidoStudySchema>;
/** One QIDO-RS series object (DICOM JSON). */
export type QidoSeries = z.input<typeof qidoSeriesSchema>;

/** Read access to one validated DICOM JSON object. */
export interface DicomJson {
  str(tag: string): string | undefined;
  all(tag: string): string[];
  int(tag: string): number | undefined;
  name(tag: string): string | undefined;
}

/** Validates one object; a malformed attribute is an AdapterError naming the object and the tag, e.g. `studies[2] (0020,000D)`. */
export function parseDicomJson(schema: typeof qidoStudySchema | typeof qidoSeriesSchema, value: unknown, where: string): DicomJson {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const tag = issue?.path[0];
    const at = typeof tag === 'string' && /^[0-9A-F]{8}$/i.test(tag) ? ` (${tag.slice(0, 4)},${tag.slice(4)})` : '';
    const detail = issue?.path.slice(1).join('.');
    throw new AdapterError(`${where}${at}`, `malformed DICOM JSON${detail ? ` at ${detail}` : ''}: ${issue?.message ?? 'invalid'}`);
  }
  const obj = parsed.data as Record<string, { Value?: unknown[] } | undefined>;
  const values = (tag: string): unknown[] => obj[tag]?.Value ?? [];
  return {
    str: (tag) => {
      const v = values(tag)[0];
      return typeof v === 'string' && v.trim() ? v.trim() : undefined;
    },
    all: (tag) => values(tag).filter((v): v is string => typeof v === 'string' && v.trim() !== '').map((v) => v.trim()),
    int: (tag) => {
      const v = values(tag)[0];
      return v === undefined || v === null ? undefined : Number(v);
    },
    name: (tag) => {
      const v = values(tag)[0] as { Alphabetic?: string } | null | undefined;
      return v?.Alphabetic?.trim() || undefined;
    },
  };
}
