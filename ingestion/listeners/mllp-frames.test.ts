import { describe, expect, it } from 'vitest';
import { FrameAssembler, type FrameEvent } from './mllp-frames.ts';

const frame = (text: string): Buffer => Buffer.concat([Buffer.from([0x0b]), Buffer.from(text, 'latin1'), Buffer.from([0x1c, 0x0d])]);
const texts = (events: FrameEvent[]): string[] => events.map((e) => (e.kind === 'frame' ? e.bytes.toString('latin1') : `too-large:${e.head.toString('latin1').slice(0, 8)}`));

describe('FrameAssembler', () => {
  it('assembles frames however the bytes are split, skipping bytes outside frames', () => {
    const wire = Buffer.concat([Buffer.from('noise'), frame('MSH|one'), Buffer.from('\r\n'), frame('MSH|two')]);
    for (let size = 1; size <= wire.length; size++) {
      const a = new FrameAssembler(1024);
      const out: FrameEvent[] = [];
      for (let i = 0; i < wire.length; i += size) out.push(...a.push(wire.subarray(i, i + size)));
      expect(texts(out)).toEqual(['MSH|one', 'MSH|two']);
    }
  });

  it('refuses a frame over the limit once, with its first bytes, and goes on with the next frame', () => {
    const a = new FrameAssembler(10);
    const out = [...a.push(frame('MSH|0123456789abcdef').subarray(0, 12)), ...a.push(Buffer.from('ghij\x1c\r')), ...a.push(frame('MSH|ok'))];
    expect(texts(out)).toEqual(['too-large:MSH|0123', 'MSH|ok']);
  });

  it('accepts a frame of exactly the limit', () => {
    expect(texts(new FrameAssembler(10).push(frame('MSH|678901')))).toEqual(['MSH|678901']);
  });
});
