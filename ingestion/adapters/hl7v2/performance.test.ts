import { describe, expect, it } from 'vitest';
import { hl7v2ToBundle } from './index.ts';
import { testContext } from './testing.ts';

describe('performance', () => {
  it('maps a message with 5,000 OBX well under a second', () => {
    const head = [
      'MSH|^~\\&|GLIMS|AMC-LAB|IDR|AMC|20240315101500||ORU^R01|BIG-1|P|2.5.1',
      'PID|1||MRN1^^^AMC^MR||Big^Test||19700101|F',
      'OBR|1||FL-BIG^GLIMS|BIG^Big panel^L|||20240315083000||||||||||||||20240315100500||CH|F',
    ];
    const obx = Array.from({ length: 5000 }, (_, i) =>
      `OBX|${i + 1}|NM|${1000 + i}-${i % 10}^Analyte ${i}^LN^L${i}^Local ${i}^L||${(i % 97) + 0.5}|mmol/L|1.0-${i % 50 + 2}|${i % 3 ? 'N' : 'H'}|||F|||20240315090000`);
    const raw = [...head, ...obx].join('\r');
    hl7v2ToBundle(raw, testContext()); // warm-up (UCUM tables, JIT)
    const start = performance.now();
    const out = hl7v2ToBundle(raw, testContext());
    const ms = performance.now() - start;
    expect(out.bundle.entry).toHaveLength(5002);
    expect(ms).toBeLessThan(500);
  });
});
