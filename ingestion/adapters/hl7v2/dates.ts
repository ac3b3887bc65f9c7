import { AdapterError } from '../types.ts';

/**
 * HL7 v2 DT/TS/DTM -> FHIR date / dateTime / instant.
 * See: https://hl7.org/fhir/R4/datatypes.html#dateTime
 *
 * A FHIR dateTime with a time must carry an offset. HL7 times without an offset are read as local
 * time in `defaultTimezone` (an IANA zone such as `Europe/Amsterdam`, or a fixed offset such as
 * `+01:00` / `Z`), which gives the right offset on both sides of a daylight-saving change.
 * Values with only a date (or year / year-month) stay dates, without a zone.
 */

const TS = /^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\.\d{1,4})?([+-]\d{4}|Z)?$/;
const FIXED_OFFSET = /^(?:Z|[+-](?:0\d|1[0-4]):[0-5]\d)$/;

/** Converts HL7 date/times to FHIR, resolving missing offsets in one default time zone. */
export class DateConverter {
  readonly timezone: string;
  readonly #formatter: Intl.DateTimeFormat | undefined;
  readonly #cache = new Map<string, string>();

  constructor(timezone: string) {
    this.timezone = timezone;
    this.#formatter = FIXED_OFFSET.test(timezone)
      ? undefined
      : new Intl.DateTimeFormat('en-US', {
          timeZone: timezone,
          hourCycle: 'h23',
          year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
        });
  }

  /** FHIR dateTime (or date when the HL7 value has no time); undefined when empty. Throws AdapterError at `loc` when malformed. */
  dateTime(value: string, loc: string): string | undefined {
    return this.#convert(value, loc, false);
  }

  /** FHIR instant (always a full time with offset, midnight when only a date is given). */
  instant(value: string, loc: string): string | undefined {
    return this.#convert(value, loc, true);
  }

  /** FHIR date (the time part, if any, is dropped). */
  date(value: string, loc: string): string | undefined {
    const v = value.trim();
    if (!v) return undefined;
    const full = this.#convert(v.slice(0, 8), loc, false);
    return full;
  }

  #convert(value: string, loc: string, instant: boolean): string | undefined {
    const v = value.trim();
    if (!v) return undefined;
    const key = `${instant ? 'i' : 'd'}${v}`;
    const hit = this.#cache.get(key);
    if (hit !== undefined) return hit;
    const out = this.#parse(v, loc, instant);
    if (this.#cache.size > 10_000) this.#cache.clear();
    this.#cache.set(key, out);
    return out;
  }

  #parse(v: string, loc: string, instant: boolean): string {
    const m = TS.exec(v);
    const bad = (): AdapterError => new AdapterError(loc, `expected an HL7 date/time YYYY[MM[DD[HH[MM[SS[.S]]]]]][+/-ZZZZ], got ${JSON.stringify(v)}`);
    if (!m) throw bad();
    const [, y, mo, d, h, mi, s, frac, zone] = m;
    const year = y as string;
    if (mo && (+mo < 1 || +mo > 12)) throw bad();
    if (d && (+d < 1 || +d > daysIn(+year, +(mo as string)))) throw bad();
    if ((h && +h > 23) || (mi && +mi > 59) || (s && +s > 59)) throw bad();
    if (!h && !instant) {
      if (!mo) return year;
      if (!d) return `${year}-${mo}`;
      return `${year}-${mo}-${d}`;
    }
    const local = `${year}-${mo ?? '01'}-${d ?? '01'}T${h ?? '00'}:${mi ?? '00'}:${s ?? '00'}${frac ?? ''}`;
    if (zone) return local + (zone === 'Z' ? 'Z' : `${zone.slice(0, 3)}:${zone.slice(3)}`);
    return local + this.#defaultOffset(local);
  }

  #defaultOffset(local: string): string {
    if (!this.#formatter) return this.timezone;
    const asUtc = Date.parse(`${local.slice(0, 19)}Z`);
    // The zone's offset at the instant this local time denotes (two passes settle DST edges).
    let offset = this.#offsetAt(asUtc);
    offset = this.#offsetAt(asUtc - offset * 60_000);
    if (offset === 0) return 'Z';
    const sign = offset < 0 ? '-' : '+';
    const abs = Math.abs(offset);
    return `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
  }

  /** Offset of the zone from UTC, in minutes, at the given UTC time. */
  #offsetAt(utcMs: number): number {
    const parts = (this.#formatter as Intl.DateTimeFormat).formatToParts(new Date(utcMs));
    const get = (t: string): number => Number(parts.find((p) => p.type === t)?.value);
    const wall = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
    return Math.round((wall - Math.floor(utcMs / 1000) * 1000) / 60_000);
  }
}

/** True when `tz` is a fixed offset (`Z`, `+01:00`) or an IANA time zone known to this runtime. */
export function isValidTimezone(tz: string): boolean {
  if (FIXED_OFFSET.test(tz)) return true;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}
