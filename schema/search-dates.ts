/**
 * The implicit range of a FHIR date/dateTime search value: "2024" is all of 2024, "2024-03-05"
 * that day, "2024-03-05T10:00" that minute. Values without an offset are read as UTC.
 * See: https://hl7.org/fhir/R4/search.html#date
 */
export interface DateRange {
  /** Inclusive start. */
  start: Date;
  /** Exclusive end. */
  end: Date;
}

const DATE_RE = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

/** Parses a search date value into its range, or returns undefined if it is not a FHIR date. */
export function parseDateRange(value: string): DateRange | undefined {
  const m = DATE_RE.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, tz] = m;
  const year = Number(y);
  const month = mo ? Number(mo) - 1 : 0;
  const day = d ? Number(d) : 1;
  if (month > 11 || day < 1 || day > 31) return undefined;
  const offsetMs = tz && tz !== 'Z' ? (tz.startsWith('-') ? -1 : 1) * (Number(tz.slice(1, 3)) * 60 + Number(tz.slice(4, 6))) * 60_000 : 0;
  const base = Date.UTC(year, month, day, h ? Number(h) : 0, mi ? Number(mi) : 0, s ? Number(s) : 0, frac ? Number(frac.slice(0, 3).padEnd(3, '0')) : 0) - offsetMs;
  const start = new Date(base);
  let end: Date;
  if (!mo) end = new Date(Date.UTC(year + 1, 0, 1));
  else if (!d) end = new Date(Date.UTC(year, month + 1, 1));
  else if (!h) end = new Date(Date.UTC(year, month, day + 1));
  else if (!s) end = new Date(base + 60_000);
  else if (!frac) end = new Date(base + 1_000);
  else end = new Date(base + 1);
  if (Number.isNaN(start.getTime())) return undefined;
  return { start, end };
}
