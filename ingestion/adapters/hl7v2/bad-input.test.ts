import { describe, expect, it } from 'vitest';
import { AdapterError } from '../types.ts';
import { hl7v2ToBundle } from './index.ts';
import { fixture, testContext } from './testing.ts';

/** Runs the adapter and returns the AdapterError it must throw. */
function refusal(raw: string): AdapterError {
  try {
    hl7v2ToBundle(raw, testContext());
  } catch (err) {
    expect(err).toBeInstanceOf(AdapterError);
    return err as AdapterError;
  }
  throw new Error('expected an AdapterError');
}

const good = fixture('lab-escapes.hl7');

describe('refused input: each names where and what', () => {
  it.each([
    ['bad-nm-value.hl7', 'OBX[2]-5', 'expected a number, got "++"'],
    ['bad-value-type.hl7', 'OBX[3]-2', 'unknown value type "XX"'],
    ['bad-no-pid.hl7', 'OBR[1]', 'OBR before any PID: an ORU^R01 result needs its patient'],
    ['bad-no-pid3.hl7', 'PID-3', 'no patient identifier (PID-3 is empty); patients are matched on identifiers only'],
    ['bad-encoding-characters.hl7', 'MSH-2', 'encoding characters must be 4 distinct punctuation characters other than the field separator (usually "^~\\&"), got "^~"'],
    ['bad-version.hl7', 'MSH-12', 'version "2.2"; HL7 v2.3 to 2.5.1 expected (2.6 to 2.9 accepted)'],
    ['bad-mdm.hl7', 'MSH-9', 'MDM^T02 is not a lab or pathology result (ORU^R01 expected)'],
    ['bad-binary.hl7', 'OBX[1]', 'contains a non-text byte 0x00 at character 20; HL7 v2 messages must be text'],
  ])('%s -> %s', (file, location, message) => {
    const err = refusal(fixture(file));
    expect(err.location).toBe(location);
    expect(err.message).toBe(`${location}: ${message}`);
  });

  it('missing MSH', () => {
    expect(refusal('PID|1||123^^^AMC^MR').location).toBe('MSH');
    expect(refusal('').message).toMatch(/^MSH: message must start with an MSH segment/);
  });
  it('OUL and other ORU triggers are refused clearly', () => {
    expect(refusal(good.replace('ORU^R01', 'OUL^R22^OUL_R22')).message).toBe('MSH-9: OUL^R22 is not supported: only ORU^R01 lab and pathology results are mapped');
    expect(refusal(good.replace('ORU^R01', 'ORU^R30')).location).toBe('MSH-9');
    expect(refusal(good.replace('ORU^R01', '')).message).toBe('MSH-9: message type missing (ORU^R01 expected)');
  });
  it('missing or unknown version', () => {
    expect(refusal(good.replace('|P|2.5\r', '|P|\r')).message).toBe('MSH-12: no version; HL7 v2.3 to 2.5.1 expected (2.6 to 2.9 accepted)');
    expect(refusal(good.replace('|P|2.5\r', '|P|3.0\r')).location).toBe('MSH-12');
  });
  it('invalid UTF-8 (decoded as U+FFFD) and control characters', () => {
    const bytes = Buffer.concat([Buffer.from(good.slice(0, 120)), Buffer.from([0xc3, 0x28]), Buffer.from(good.slice(120))]);
    expect(refusal(bytes.toString('utf8')).message).toMatch(/contains an invalid UTF-8 sequence \(U\+FFFD\)/);
    expect(refusal(good.replace('Ratio A', 'Ratio \u0007A')).location).toBe('OBX[1]');
  });
  it('truncated messages: no OBR, or a line that is not a segment', () => {
    const header = good.split('\r').slice(0, 2).join('\r');
    expect(refusal(header).message).toBe('OBR: no OBR segment: an ORU^R01 carries at least one order group');
    expect(refusal(good.replace('\rOBR|', '\rxOBR|')).location).toMatch(/^line 3$/);
  });
  it('a message cut inside a field still maps what is there (OBR without OBX is fine)', () => {
    const cut = good.slice(0, good.indexOf('\rOBX|1'));
    const out = hl7v2ToBundle(cut, testContext());
    expect(out.bundle.entry?.map((e) => e.resource?.resourceType)).toEqual(['Patient', 'DiagnosticReport']);
  });
  it('OBX before any OBR, empty OBX-3, missing OBR-4 and order numbers', () => {
    expect(refusal(good.replace('\rPID|', '\rOBX|1|ST|X^X^L||x\rPID|')).message).toMatch(/^OBX\[1\]: OBX before any PID/);
    expect(refusal(good.replace('OBX|2|FT|REPORT^Formatted report^L|', 'OBX|2|FT||')).message).toBe('OBX[2]-3: observation identifier missing (OBX-3 needs a code)');
    expect(refusal(good.replace('LABCOM^Lab comment^L', '')).location).toBe('OBR[1]-4');
    expect(refusal(good.replace('FL-ESC-1^GLIMS', '')).message).toMatch(/^OBR\[1\]-3: no filler order number/);
  });
  it('malformed dates name the field', () => {
    expect(refusal(good.replace('20240401110000+0200', '2024-04-01')).message).toBe('OBR[1]-7: expected an HL7 date/time YYYY[MM[DD[HH[MM[SS[.S]]]]]][+/-ZZZZ], got "2024-04-01"');
    expect(refusal(good.replace('19700101', '19701301')).location).toBe('PID-7');
  });
  it('SN and ED that do not fit', () => {
    const sn = fixture('lab-sn-values.hl7');
    expect(refusal(sn.replace('<^0.5', '<^abc')).message).toBe('OBX[1]-5: expected a number, got "abc"');
    expect(refusal(sn.replace('<^0.5', '!^0.5')).message).toBe('OBX[1]-5: expected an SN comparator (<, >, <=, >=, =, <>), got "!"');
    const ed = fixture('lab-ed-rp.hl7');
    expect(refusal(ed.replace('^Base64^JVBER', '^Base64^!!JVBER')).message).toBe('OBX[1]-5: ED data declared Base64 is not valid Base64');
  });
});
