import { describe, expect, it } from 'vitest';
import { readDicomHeader } from './dicom/index.ts';
import { sampleInstance } from './dicom/testing/sample-instances.ts';
import { writeDicomPart10 } from './dicom/testing/write-dicom.ts';
import { hl7v2ToBundle } from './hl7v2/index.ts';
import { fixture, testContext } from './hl7v2/testing.ts';

/**
 * The smallest inputs behind what the mutation fuzzer (fuzz.test.ts) found, kept as regular tests.
 * Each would fail (or hang past the test timeout) if its fix were undone.
 */
describe('fuzzer findings', () => {
  it('HL7 v2: long runs of blanks inside the message are read in linear time (a trailing-blank regex was quadratic)', () => {
    // Found as a segment of 20 000 blanks repeated 90 times: the adapter ran for minutes.
    const blanks = `${' '.repeat(20_000)}x\r`.repeat(100);
    const out = hl7v2ToBundle(`${fixture('lab-escapes.hl7')}\r${blanks}`, testContext());
    expect(out.bundle.resourceType).toBe('Bundle');
    expect(out.warnings.filter((w) => w.startsWith('NTE[1]: unescaped line break'))).toHaveLength(100);
  });

  it('DICOM: a long text element made of blank runs is trimmed in linear time (the padding regex was quadratic)', () => {
    const value = `${' '.repeat(40_000)}x`.repeat(100);
    const bytes = writeDicomPart10(sampleInstance({ studyUid: '1.2.3.4', seriesUid: '1.2.3.4.1', sopUid: '1.2.3.4.1.1', modality: 'MG', extra: [{ tag: '00200062', vr: 'UT', value }] }));
    const header = readDicomHeader(bytes);
    expect(header.ImageLaterality?.length).toBe(value.length - 40_000);
    expect(header.ImageLaterality?.startsWith('x')).toBe(true);
  });
});
