import { describe, expect, it } from 'vitest';
import type { Observation } from '@medplum/fhirtypes';
import { buildTrend, convertUcum } from './lab-trend.ts';

const obs = (id: string, code: string, value: number, unit: string, day: number): Observation => ({
  resourceType: 'Observation',
  id,
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code }] },
  effectiveDateTime: new Date(Date.UTC(2025, 0, day)).toISOString(),
  valueQuantity: { value, unit, system: 'http://unitsofmeasure.org', code: unit },
});

describe('lab trends across substance and mass units', () => {
  it('shows a Dutch Hb in mmol/L as g/dL (and back), keeping the values as sent', () => {
    const trend = buildTrend([obs('a', '59260-0', 8.5, 'mmol/L', 1), obs('b', '718-7', 12.1, 'g/dL', 2)], { codes: ['59260-0', '718-7'], unit: 'g/dL' });
    expect(trend.unit).toBe('g/dL');
    expect(trend.points[0]).toMatchObject({ originalValue: 8.5, originalUnit: 'mmol/L' });
    expect(trend.points[0]?.value).toBeCloseTo(13.7, 1);
    expect(trend.points[1]?.value).toBe(12.1);
    const back = buildTrend([obs('b', '718-7', 12.1, 'g/dL', 2)], { codes: ['718-7'], unit: 'mmol/L' });
    expect(back.points[0]?.value).toBeCloseTo(7.51, 2);
  });

  it('converts creatinine umol/L to mg/dL', () => {
    const trend = buildTrend([obs('c', '14682-9', 88, 'umol/L', 1)], { codes: ['14682-9'], unit: 'mg/dL' });
    expect(trend.points[0]?.value).toBeCloseTo(0.995, 3);
  });

  it('does not convert between substance and mass without a known molar mass', () => {
    expect(convertUcum(5, 'mmol/L', 'g/dL')).toBeNull();
    const trend = buildTrend([obs('d', '99999-9', 5, 'mmol/L', 1)], { codes: ['99999-9'], unit: 'g/dL' });
    expect(trend.points[0]).toMatchObject({ value: null, originalValue: 5, originalUnit: 'mmol/L' });
  });
});
