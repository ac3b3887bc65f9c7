import { describe, expect, it } from 'vitest';
import { formatDate, formatDateTime, formatNumber, offsetSeconds, setTimeZone, wallClockSeconds } from './format.ts';
import { href, parseRoute } from './route.ts';

describe('dates as IDR gives them', () => {
  it('keeps the hospital zone and its offset, whatever the browser zone', () => {
    expect(formatDateTime('2025-03-17T08:30:00.000+01:00')).toBe('2025-03-17 08:30 +01:00');
    expect(formatDateTime('2025-07-01T23:59:59+02:00')).toBe('2025-07-01 23:59 +02:00');
    expect(formatDateTime('2026-12-01T16:00:00Z')).toBe('2026-12-01 16:00 UTC');
    expect(formatDateTime('2025-03-17')).toBe('2025-03-17');
    expect(formatDateTime(undefined)).toBe('');
    expect(formatDate('2025-03-17T00:30:00.000+01:00')).toBe('2025-03-17');
  });

  it('shows instants written in UTC (FHIR resources) in the hospital\'s zone once IDR names it', () => {
    setTimeZone('Europe/Amsterdam');
    try {
      expect(formatDateTime('2026-12-01T16:00:00Z')).toBe('2026-12-01 17:00 +01:00');
      // A letter of 17 March, written at midnight Amsterdam time, is not shown as 16 March.
      expect(formatDateTime('2025-03-16T23:00:00Z')).toBe('2025-03-17 00:00 +01:00');
      expect(formatDate('2025-03-16T23:00:00Z')).toBe('2025-03-17');
      expect(formatDateTime('2025-07-01T10:00:00.000Z')).toBe('2025-07-01 12:00 +02:00');
      // Already in the zone: unchanged. No offset, or a date alone: as written.
      expect(formatDateTime('2025-03-17T08:30:00.000+01:00')).toBe('2025-03-17 08:30 +01:00');
      expect(formatDateTime('2025-03-17T08:30')).toBe('2025-03-17 08:30');
      expect(formatDate('2025-03-17')).toBe('2025-03-17');
    } finally {
      setTimeZone(undefined);
    }
  });

  it('counts the wall clock of the value\'s own zone for chart axes', () => {
    expect(offsetSeconds('2025-03-17T08:30:00.000+01:00')).toBe(3600);
    expect(offsetSeconds('2025-03-17T08:30:00.000-03:30')).toBe(-12600);
    expect(new Date(wallClockSeconds('2025-03-17T00:30:00.000+01:00') * 1000).toISOString()).toBe('2025-03-17T00:30:00.000Z');
  });

  it('writes numbers without float noise', () => {
    expect(formatNumber(0.1 + 0.2)).toBe('0.3');
    expect(formatNumber(12.0862)).toBe('12.09');
    expect(formatNumber(null)).toBe('');
  });
});

describe('views by the URL hash', () => {
  it('round-trips every view', () => {
    for (const hash of ['#/', '#/board', '#/board/demo-breast-mdt', '#/patient/p1/timeline', '#/patient/p1/reports/DiagnosticReport/r1']) expect(href(parseRoute(hash))).toBe(hash);
    expect(parseRoute('#/patient/p1/nonsense')).toEqual({ view: 'patient', id: 'p1', tab: 'summary' });
    expect(parseRoute('#/elsewhere')).toEqual({ view: 'search' });
  });
});
