/**
 * Clinical times in the seed are wall-clock times in Amsterdam. A `WallTime` holds such a time as
 * milliseconds, read with the UTC getters (so no host time zone ever leaks in); the offset to
 * UTC (+0100 in winter, +0200 in summer) is computed from the EU daylight-saving rules.
 */
export type WallTime = number;

const MINUTE = 60_000;
const DAY = 86_400_000;

/** A wall-clock time in Amsterdam (month 1-12). */
export function wallTime(year: number, month: number, day: number, hour = 0, minute = 0, second = 0): WallTime {
  return Date.UTC(year, month - 1, day, hour, minute, second);
}

/** Adds whole or fractional days. */
export function addDays(t: WallTime, days: number): WallTime {
  return t + Math.round(days * DAY);
}

/** Adds minutes. */
export function addMinutes(t: WallTime, minutes: number): WallTime {
  return t + Math.round(minutes * MINUTE);
}

/** Sets the time of day of `t`. */
export function atTime(t: WallTime, hour: number, minute: number, second = 0): WallTime {
  const d = new Date(t);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), hour, minute, second);
}

function lastSundayOf(year: number, monthIndex: number): number {
  const lastDay = new Date(Date.UTC(year, monthIndex + 1, 0));
  return lastDay.getUTCDate() - lastDay.getUTCDay();
}

/**
 * Offset of Amsterdam local time from UTC in minutes (60 or 120). Summer time runs from the last
 * Sunday of March 02:00 local to the last Sunday of October 03:00 local (EU directive 2000/84/EC).
 */
export function amsterdamOffsetMinutes(t: WallTime): number {
  const year = new Date(t).getUTCFullYear();
  const start = Date.UTC(year, 2, lastSundayOf(year, 2), 2, 0, 0);
  const end = Date.UTC(year, 9, lastSundayOf(year, 9), 3, 0, 0);
  return t >= start && t < end ? 120 : 60;
}

/** The real instant (UTC epoch ms) of a wall-clock time. */
export function toInstant(t: WallTime): number {
  return t - amsterdamOffsetMinutes(t) * MINUTE;
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** HL7 v2 DTM with seconds and offset, e.g. `20250312083015+0100`. */
export function hl7DateTime(t: WallTime): string {
  const d = new Date(t);
  const offset = amsterdamOffsetMinutes(t);
  return (
    `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}` +
    `${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}` +
    `+${pad(Math.floor(offset / 60))}${pad(offset % 60)}`
  );
}

/** HL7 v2 DT, e.g. `19640521`. */
export function hl7Date(t: WallTime): string {
  const d = new Date(t);
  return `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}`;
}

/** Dutch display date, e.g. `12-03-2025`. */
export function dutchDate(t: WallTime): string {
  const d = new Date(t);
  return `${pad(d.getUTCDate())}-${pad(d.getUTCMonth() + 1)}-${d.getUTCFullYear()}`;
}

/** Whole years between a birth date and a later date. */
export function ageInYears(birth: WallTime, at: WallTime): number {
  const b = new Date(birth);
  const a = new Date(at);
  let age = a.getUTCFullYear() - b.getUTCFullYear();
  if (a.getUTCMonth() < b.getUTCMonth() || (a.getUTCMonth() === b.getUTCMonth() && a.getUTCDate() < b.getUTCDate())) age--;
  return age;
}
