import { describe, expect, it } from 'vitest';
import { buildAck } from './hl7-ack.ts';

const now = new Date('2024-06-01T12:00:00Z');
const fields = (ack: string, segment: string): string[] => (ack.split('\r').find((s) => s.startsWith(`${segment}|`)) ?? '').split('|');

describe('buildAck', () => {
  it('echoes sender, facility, trigger and control id of a message in the usual delimiters as they are', () => {
    const ack = buildAck('MSH|^~\\&|GLIMS^1.2.3^ISO|AMC-LAB|IDR|AMC|20240401120000+0200||ORU^R01^ORU_R01|CTRL\\T\\1|P|2.5.1', 'AA', { controlId: 'inbox-1', now });
    expect(fields(ack, 'MSH')).toEqual(['MSH', '^~\\&', 'IDR', 'IDR', 'GLIMS^1.2.3^ISO', 'AMC-LAB', '20240601120000+0000', '', 'ACK^R01^ACK', 'inbox-1', 'P', '2.5.1']);
    expect(fields(ack, 'MSA')).toEqual(['MSA', 'AA', 'CTRL\\T\\1']);
  });

  it('writes values of a sender with other delimiters in the ACK\'s own, so a "|" in them adds no field (found by the MLLP fuzzer)', () => {
    const raw = 'MSH#$~\\&#APP|X$1.2.3$ISO#FAC#IDR#IDR#20240401120000+0200##ORU$R0|1#CTRL|1\\F\\2#P#2.5|x\rPID#1';
    const ack = buildAck(raw, 'AE', { controlId: 'inbox-2', now, text: 'error', error: { location: 'PID-3', message: 'missing', code: '101' } });
    const msh = fields(ack, 'MSH');
    expect(msh).toHaveLength(12);
    expect(msh.slice(4, 6)).toEqual(['APP\\F\\X^1.2.3^ISO', 'FAC']);
    expect(msh[8]).toBe('ACK^R0\\F\\1^ACK');
    expect(msh[11]).toBe('2.5.1');
    // MSH-10 is CTRL|1#2 (\F\ was the sender's field separator, #): in the ACK, | is escaped and # is data.
    expect(fields(ack, 'MSA')).toEqual(['MSA', 'AE', 'CTRL\\F\\1#2', 'error']);
  });
});
