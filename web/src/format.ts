/**
 * Dates as IDR answers them: GraphQL in the hospital's time zone with their offset
 * (`2025-03-17T08:30:00.000+01:00`); FHIR resources as they were written (often UTC). Every
 * date-time with an offset is shown in the hospital's zone (from IDR's configuration), never in
 * the browser's; one without an offset is shown as it is.
 */

const DATE_TIME = /^(\d{4}-\d{2}-\d{2})(?:T(\d{2}:\d{2})(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?/;

let hospitalZone: string | undefined;

/** The hospital's time zone (IANA), from IDR's configuration; unknown zones are ignored. */
export function setTimeZone(zone: string | undefined): void {
  try {
    if (zone) new Intl.DateTimeFormat('en', { timeZone: zone });
    hospitalZone = zone || undefined;
  } catch {
    hospitalZone = undefined;
  }
}

/** The wall clock and offset of an instant in a zone: `['2025-03-17', '08:30', '+01:00']`. */
function inZone(instant: Date, zone: string): [string, string, string] {
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-GB', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', timeZoneName: 'longOffset' }).formatToParts(instant).map((p) => [p.type, p.value]));
  const offset = (parts['timeZoneName'] ?? 'GMT').replace(/^GMT/, '') || '+00:00';
  return [`${parts['year']}-${parts['month']}-${parts['day']}`, `${parts['hour']}:${parts['minute']}`, offset];
}

/** `2025-03-17 08:30 +01:00` in the hospital's zone (the date alone when there is no time). */
export function formatDateTime(value: string | null | undefined): string {
  if (!value) return '';
  const m = DATE_TIME.exec(value);
  if (!m) return value;
  const [, date, time, offset] = m;
  if (!time) return date as string;
  if (offset && hospitalZone && !Number.isNaN(Date.parse(value))) {
    const [d, t, o] = inZone(new Date(value), hospitalZone);
    return `${d} ${t} ${o}`;
  }
  return `${date} ${time}${offset ? ` ${offset === 'Z' ? 'UTC' : offset}` : ''}`;
}

/** `2025-03-17`: the date in the hospital's zone (a date without a time as it is). */
export function formatDate(value: string | null | undefined): string {
  if (!value) return '';
  const m = DATE_TIME.exec(value);
  if (m?.[2] && m[3] && hospitalZone && !Number.isNaN(Date.parse(value))) return inZone(new Date(value), hospitalZone)[0];
  return value.slice(0, 10);
}

/** The offset of an ISO date-time in seconds (0 for Z or none). */
export function offsetSeconds(value: string): number {
  const m = /([+-])(\d{2}):(\d{2})$/.exec(value);
  return m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 3600 + Number(m[3]) * 60) : 0;
}

/** Seconds since the epoch of the wall-clock time in the value's own zone (for axes drawn in UTC, so they show the hospital's clock). */
export function wallClockSeconds(value: string): number {
  return Date.parse(value) / 1000 + offsetSeconds(value);
}

/** A number without float noise. */
export function formatNumber(n: number | null | undefined): string {
  if (n === null || n === undefined) return '';
  return String(Number(n.toPrecision(4)));
}
