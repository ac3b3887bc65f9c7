import type { Hl7Field, Hl7Segment } from '@medplum/core';
import { unescapeHl7, type Delimiters } from './escape.ts';

/**
 * Read access to one parsed segment (an @medplum/core Hl7Segment): 1-based field and component
 * numbers as in the HL7 standard, 0-based repetitions, values unescaped and trimmed.
 */
export class Segment {
  readonly name: string;
  /** 1-based position among the message's segments of the same name. */
  readonly ordinal: number;
  /** Name used in error locations: `OBX[3]`; plain `MSH`, and `PID` when the message has one PID. */
  readonly label: string;
  readonly delimiters: Delimiters;
  readonly #segment: Hl7Segment;

  constructor(segment: Hl7Segment, ordinal: number, total: number, delimiters: Delimiters) {
    this.#segment = segment;
    this.name = segment.name;
    this.ordinal = ordinal;
    const single = segment.name === 'MSH' || (segment.name === 'PID' && total === 1);
    this.label = single ? segment.name : `${segment.name}[${ordinal}]`;
    this.delimiters = delimiters;
  }

  /** Location of field n for error messages, e.g. `OBX[3]-5`. */
  loc(n: number): string {
    return `${this.label}-${n}`;
  }

  #field(n: number): Hl7Field | undefined {
    // getField returns undefined past the last field, despite its declared type.
    return this.#segment.getField(n) as Hl7Field | undefined;
  }

  /** Number of non-empty repetitions of field n. */
  reps(n: number): number {
    const f = this.#field(n);
    if (!f) return 0;
    let count = 0;
    for (const rep of f.components) if (rep.some((c) => c.trim() !== '')) count++;
    return count;
  }

  /** The raw (still escaped) components of repetition `rep` of field n; empty repetitions are skipped. */
  components(n: number, rep = 0): string[] {
    const f = this.#field(n);
    if (!f) return [];
    if (f.components.length === 1) {
      const only = f.components[0] as string[];
      return rep === 0 && only.some((c) => c.trim() !== '') ? only : [];
    }
    let seen = 0;
    for (const r of f.components) {
      if (!r.some((c) => c.trim() !== '')) continue;
      if (seen === rep) return r;
      seen++;
    }
    return [];
  }

  /** Component c (1-based) of repetition `rep` of field n, unescaped and trimmed ('' when absent). */
  get(n: number, c = 1, rep = 0): string {
    const raw = this.components(n, rep)[c - 1];
    return raw ? unescapeHl7(raw, this.delimiters).trim() : '';
  }

  /** Subcomponent s (1-based) of component c of repetition `rep` of field n, unescaped and trimmed. */
  sub(n: number, c: number, s: number, rep = 0): string {
    const raw = this.components(n, rep)[c - 1];
    if (!raw) return '';
    const part = raw.split(this.delimiters.subcomponent)[s - 1];
    return part ? unescapeHl7(part, this.delimiters).trim() : '';
  }

  /** Whole repetition `rep` of field n as text: components joined by the component separator, unescaped. */
  text(n: number, rep = 0): string {
    const comps = this.components(n, rep);
    if (comps.length === 0) return '';
    let last = comps.length;
    while (last > 0 && (comps[last - 1] ?? '') === '') last--;
    return unescapeHl7(comps.slice(0, last).join(this.delimiters.component), this.delimiters);
  }

  /** All non-empty repetitions of field n, as text. */
  texts(n: number): string[] {
    const out: string[] = [];
    const count = this.reps(n);
    for (let r = 0; r < count; r++) out.push(this.text(n, r));
    return out;
  }
}
