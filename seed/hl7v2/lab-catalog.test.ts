import { describe, expect, it } from 'vitest';
import { abnormalFlag, ckdEpi2009, rangeText } from './lab-catalog.ts';
import { amsterdamOffsetMinutes, hl7DateTime, wallTime } from './clock.ts';

describe('abnormalFlag', () => {
  const hb = { low: 7.5, high: 10.0, criticalLow: 4.5 };
  it('flags two-sided ranges inclusively', () => {
    expect(abnormalFlag(7.5, hb)).toBe('N');
    expect(abnormalFlag(7.4, hb)).toBe('L');
    expect(abnormalFlag(10.0, hb)).toBe('N');
    expect(abnormalFlag(10.1, hb)).toBe('H');
    expect(abnormalFlag(4.4, hb)).toBe('LL');
  });

  it('flags one-sided ranges', () => {
    expect(abnormalFlag(34, { high: 35 })).toBe('N');
    expect(abnormalFlag(35, { high: 35 })).toBe('H');
    expect(abnormalFlag(61, { low: 60 })).toBe('N');
    expect(abnormalFlag(60, { low: 60 })).toBe('L');
    expect(abnormalFlag(1200, { low: 150, high: 400, criticalHigh: 1000 })).toBe('HH');
  });

  it('writes OBX-7 texts', () => {
    expect(rangeText(hb, 1)).toBe('7.5-10.0');
    expect(rangeText({ high: 5 }, 1)).toBe('<5.0');
    expect(rangeText({ low: 60 }, 0)).toBe('>60');
  });
});

describe('ckdEpi2009', () => {
  it('matches the published equation', () => {
    expect(ckdEpi2009(80, 60, 'M')).toBeCloseTo(91.8, 0);
    expect(ckdEpi2009(130, 70, 'F')).toBeCloseTo(35.8, 0);
  });
});

describe('Amsterdam offsets', () => {
  it('uses +0100 in winter and +0200 in summer time', () => {
    expect(hl7DateTime(wallTime(2025, 1, 15, 8, 30, 5))).toBe('20250115083005+0100');
    expect(hl7DateTime(wallTime(2025, 7, 1, 14, 0, 0))).toBe('20250701140000+0200');
    expect(amsterdamOffsetMinutes(wallTime(2025, 3, 30, 1, 59))).toBe(60);
    expect(amsterdamOffsetMinutes(wallTime(2025, 3, 30, 3, 0))).toBe(120);
    expect(amsterdamOffsetMinutes(wallTime(2025, 10, 26, 3, 0))).toBe(60);
  });
});
