import { describe, expect, it } from 'vitest';
import { AdapterError } from '../types.ts';
import { hl7v2ToBundle, peekMessageHeader, splitHl7Batch } from './index.ts';
import { fixture, testContext } from './testing.ts';

const one = fixture('lab-escapes.hl7').trimEnd();
const two = fixture('lab-sn-values.hl7').trimEnd();

describe('splitHl7Batch', () => {
  it('splits an FHS/BHS batch file with \\r\\n separators, dropping the batch envelope', () => {
    const messages = splitHl7Batch(fixture('batch-fhs-bhs.hl7'));
    expect(messages).toHaveLength(2);
    expect(messages.map((m) => peekMessageHeader(m).controlId)).toEqual(['B-0001', 'B-0002']);
    for (const m of messages) {
      expect(m).not.toMatch(/\n|FHS|BHS|BTS|FTS/);
      expect(hl7v2ToBundle(m, testContext()).bundle.entry).toHaveLength(3);
    }
  });
  it('splits MLLP-framed messages', () => {
    const framed = `\u000b${one}\r\u001c\r\u000b${two}\r\u001c\r`;
    expect(splitHl7Batch(framed)).toEqual([one, two]);
  });
  it('splits messages back to back, with \\n separators and a BOM', () => {
    const text = `\uFEFF${one}\n${two}\n`.replace(/\r/g, '\n');
    expect(splitHl7Batch(text)).toEqual([one, two]);
  });
  it('returns leading garbage as its own message, which the adapter then refuses', () => {
    const parts = splitHl7Batch(`garbage line\r${one}`);
    expect(parts).toEqual(['garbage line', one]);
    expect(() => hl7v2ToBundle(parts[0] as string, testContext())).toThrow(AdapterError);
  });
  it('returns nothing for an empty body', () => {
    expect(splitHl7Batch('\r\n\n')).toEqual([]);
  });
});

describe('peekMessageHeader', () => {
  it('reads what an ACK needs', () => {
    expect(peekMessageHeader(fixture('pathology-breast-biopsy.hl7'))).toEqual({
      messageType: 'ORU', triggerEvent: 'R01', controlId: 'PATH-20240320-0042', version: '2.5.1',
      sendingApplication: 'PALGA-LIS', sendingFacility: 'AMC-PATH', fieldSeparator: '|', encodingCharacters: '^~\\&',
    });
  });
  it('works on messages the adapter refuses (MDM, BOM, MLLP frame)', () => {
    expect(peekMessageHeader(`\u000b${fixture('bad-mdm.hl7')}\u001c\r`)).toMatchObject({ messageType: 'MDM', triggerEvent: 'T02', controlId: 'BAD-MDM' });
    expect(peekMessageHeader(fixture('lab-v23-lf-bom.hl7'))).toMatchObject({ version: '2.3', controlId: 'V23-0001' });
  });
  it('throws AdapterError without a usable MSH', () => {
    expect(() => peekMessageHeader('PID|1')).toThrow(AdapterError);
    expect(() => peekMessageHeader(fixture('bad-encoding-characters.hl7'))).toThrow('MSH-2');
  });
});
