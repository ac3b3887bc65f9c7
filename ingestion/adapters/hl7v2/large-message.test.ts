import { describe, expect, it } from 'vitest';
import { hl7v2ToBundle } from './index.ts';
import { testContext } from './testing.ts';

describe('large messages', () => {
  // Speed is measured in bench/hl7v2.bench.ts, not asserted here.
  it('maps a message with 5,000 OBX, one Observation each, keeping every value', () => {
    const head = [
      'MSH|^~\\&|GLIMS|AMC-LAB|IDR|AMC|20240315101500||ORU^R01|BIG-1|P|2.5.1',
      'PID|1||MRN1^^^AMC^MR||Big^Test||19700101|F',
      'OBR|1||FL-BIG^GLIMS|BIG^Big panel^L|||20240315083000||||||||||||||20240315100500||CH|F',
    ];
    const obx = Array.from({ length: 5000 }, (_, i) =>
      `OBX|${i + 1}|NM|${1000 + i}-${i % 10}^Analyte ${i}^LN^L${i}^Local ${i}^L||${(i % 97) + 0.5}|mmol/L|1.0-${i % 50 + 2}|${i % 3 ? 'N' : 'H'}|||F|||20240315090000`);
    const raw = [...head, ...obx].join('\r');
    const out = hl7v2ToBundle(raw, testContext());
    expect(out.bundle.entry).toHaveLength(5002);
    const observations = (out.bundle.entry ?? []).map((e) => e.resource).filter((r) => r?.resourceType === 'Observation') as { valueQuantity?: { value?: number; unit?: string } }[];
    expect(observations).toHaveLength(5000);
    expect(observations[4999]?.valueQuantity).toMatchObject({ value: (4999 % 97) + 0.5, unit: 'mmol/L' });
  });
});
