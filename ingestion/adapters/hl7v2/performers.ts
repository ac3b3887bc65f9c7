import type { Practitioner, Reference } from '@medplum/fhirtypes';
import { IDR_SYSTEMS } from './constants.ts';
import type { Segment } from './segment.ts';

function ref(display: string, id: string, authority: string): Reference<Practitioner> | undefined {
  if (!display && !id) return undefined;
  const r: Reference<Practitioner> = {};
  if (id) r.identifier = authority ? { system: IDR_SYSTEMS.practitionerPrefix + encodeURIComponent(authority), value: id } : { value: id };
  if (display) r.display = display;
  return r;
}

/**
 * XCN field (e.g. OBX-16, OBR-16) -> logical references (identifier + display), no Practitioner
 * resources: HL7 v2 rarely carries enough to identify a practitioner across senders.
 */
export function performerRefs(seg: Segment, n: number): Reference<Practitioner>[] {
  const out: Reference<Practitioner>[] = [];
  for (let r = 0; r < seg.reps(n); r++) {
    const display = [seg.get(n, 6, r), seg.get(n, 3, r), seg.get(n, 4, r), seg.sub(n, 2, 1, r), seg.get(n, 5, r)].filter(Boolean).join(' ');
    const x = ref(display, seg.get(n, 1, r), seg.sub(n, 9, 2, r) || seg.sub(n, 9, 1, r));
    if (x) out.push(x);
  }
  return out;
}

/** NDL field (OBR-32 to OBR-35: the name is a CNN in subcomponents of component 1) -> logical references. */
export function interpreterRefs(seg: Segment, n: number): Reference<Practitioner>[] {
  const out: Reference<Practitioner>[] = [];
  for (let r = 0; r < seg.reps(n); r++) {
    const s = (i: number): string => seg.sub(n, 1, i, r);
    const display = [s(6), s(3), s(4), s(2), s(5)].filter(Boolean).join(' ');
    const x = ref(display, s(1), s(10) || s(9));
    if (x) out.push(x);
  }
  return out;
}
