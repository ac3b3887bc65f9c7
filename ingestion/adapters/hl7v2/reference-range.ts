import type { ObservationReferenceRange } from '@medplum/fhirtypes';
import type { UnitParts } from './values.ts';

const NUM = '([+-]?(?:\\d+(?:\\.\\d*)?|\\.\\d+))';
const RANGE = new RegExp(`^${NUM}\\s*(?:-|–|\\.\\.|to)\\s*${NUM}$`);
const BELOW = new RegExp(`^(?:<|<=|≤)\\s*${NUM}$`);
const ABOVE = new RegExp(`^(?:>|>=|≥)\\s*${NUM}$`);

/**
 * OBX-7 -> referenceRange: "a-b" gives low and high, "<x" / "<=x" high, ">x" / ">=x" low, in the
 * value's unit. The text as sent is always kept (it is the only part for anything else).
 */
export function referenceRange(text: string, unit: UnitParts): ObservationReferenceRange | undefined {
  const t = text.trim();
  if (!t) return undefined;
  const q = (v: string): { value: number } & UnitParts => ({ value: Number(v), ...unit });
  let m = RANGE.exec(t);
  if (m) return { low: q(m[1] as string), high: q(m[2] as string), text: t };
  m = BELOW.exec(t);
  if (m) return { high: q(m[1] as string), text: t };
  m = ABOVE.exec(t);
  if (m) return { low: q(m[1] as string), text: t };
  return { text: t };
}
