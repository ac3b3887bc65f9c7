import { describe, expect, it } from 'vitest';
import { isoInZone } from './scalars.ts';

describe('isoInZone', () => {
  it('gives the wall-clock time of the zone with its offset, winter and summer', () => {
    expect(isoInZone(new Date('2025-03-16T23:00:00Z'), 'Europe/Amsterdam')).toBe('2025-03-17T00:00:00.000+01:00');
    expect(isoInZone(new Date('2025-07-01T08:30:15.250Z'), 'Europe/Amsterdam')).toBe('2025-07-01T10:30:15.250+02:00');
    expect(isoInZone(new Date('2025-07-01T08:30:00Z'), 'UTC')).toBe('2025-07-01T08:30:00.000+00:00');
    expect(isoInZone(new Date('2025-01-01T03:00:00Z'), 'America/New_York')).toBe('2024-12-31T22:00:00.000-05:00');
    expect(isoInZone(new Date('2025-01-01T00:00:00Z'), 'Asia/Kolkata')).toBe('2025-01-01T05:30:00.000+05:30');
  });

  it('is the same instant', () => {
    const d = new Date('2025-10-26T00:59:59.999Z'); // just before the clocks go back in Amsterdam
    expect(Date.parse(isoInZone(d, 'Europe/Amsterdam'))).toBe(d.getTime());
  });
});
