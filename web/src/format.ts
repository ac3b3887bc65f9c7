/**
 * Dates as IDR answers them: in the hospital's time zone with their offset
 * (`2025-03-17T08:30:00.000+01:00`). They are shown as they are, never moved into the browser's zone.
 */

const DATE_TIME = /^(\d{4}-\d{2}-\d{2})(?:T(\d{2}:\d{2})(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?/;

/** `2025-03-17 08:30 +01:00` (the date alone when there is no time). */
export function formatDateTime(value: string | null | undefined): string {
  if (!value) return '';
  const m = DATE_TIME.exec(value);
  if (!m) return value;
  const [, date, time, offset] = m;
  if (!time) return date as string;
  return `${date} ${time}${offset ? ` ${offset === 'Z' ? 'UTC' : offset}` : ''}`;
}

/** `2025-03-17` */
export function formatDate(value: string | null | undefined): string {
  return value ? value.slice(0, 10) : '';
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
