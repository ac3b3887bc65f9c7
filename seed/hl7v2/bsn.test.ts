import { describe, expect, it } from 'vitest';
import { isValidBsn, syntheticBsn } from './bsn.ts';
import { mulberry32 } from './random.ts';

describe('isValidBsn', () => {
  it('accepts numbers passing the 11-proof', () => {
    expect(isValidBsn('123456782')).toBe(true);
    expect(isValidBsn('111222333')).toBe(true);
  });

  it('rejects numbers failing the 11-proof, wrong lengths, non-digits and all zeros', () => {
    expect(isValidBsn('123456789')).toBe(false);
    expect(isValidBsn('123456781')).toBe(false);
    expect(isValidBsn('12345678')).toBe(false);
    expect(isValidBsn('1234567820')).toBe(false);
    expect(isValidBsn('12345678a')).toBe(false);
    expect(isValidBsn('000000000')).toBe(false);
  });
});

describe('syntheticBsn', () => {
  it('draws valid BSNs from the 9999 test series', () => {
    const rng = mulberry32(42);
    const bsns = Array.from({ length: 500 }, () => syntheticBsn(rng));
    for (const bsn of bsns) {
      expect(isValidBsn(bsn), bsn).toBe(true);
      expect(bsn.startsWith('9999')).toBe(true);
    }
    expect(new Set(bsns).size).toBeGreaterThan(100);
  });
});
