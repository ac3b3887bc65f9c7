import { describe, expect, it } from 'vitest';
import { encodeField, escapeText, message, mshSegment, segment, unescapeText } from './hl7-writer.ts';

describe('escapeText', () => {
  it('escapes every delimiter and the escape character itself', () => {
    expect(escapeText('a|b^c~d\\e&f')).toBe('a\\F\\b\\S\\c\\R\\d\\E\\e\\T\\f');
    expect(escapeText('regel 1\nregel 2')).toBe('regel 1\\.br\\regel 2');
  });

  it('round-trips through unescapeText', () => {
    const text = 'ER 90% & PR 40% | HER2 1+ ~ Ki-67 \\ 15% ^ geen';
    expect(unescapeText(escapeText(text))).toBe(text);
  });
});

describe('segment encoding', () => {
  it('joins components, subcomponents and repetitions and escapes leaves', () => {
    expect(encodeField([['van der Meer', 'van der', 'Meer'], 'Anna'])).toBe('van der Meer&van der&Meer^Anna');
    expect(encodeField({ repeat: [['1', '', 'A'], ['2', '', 'B']] })).toBe('1^^A~2^^B');
    expect(encodeField(['a^b', 'c&d'])).toBe('a\\S\\b^c\\T\\d');
  });

  it('drops trailing empty fields and components', () => {
    expect(segment('OBX', ['1', 'NM', ['x', '', ''], '', ''])).toBe('OBX|1|NM|x');
    expect(segment('NTE', [])).toBe('NTE');
  });

  it('writes MSH-1 and MSH-2 literally and separates segments with CR', () => {
    expect(mshSegment(['APP', 'FAC'])).toBe('MSH|^~\\&|APP|FAC');
    expect(message(['MSH|^~\\&|A', 'PID|1'])).toBe('MSH|^~\\&|A\rPID|1');
  });
});
