import { Hl7Message, type Hl7Segment } from '@medplum/core';
import { describe, expect, it } from 'vitest';
import {
  ASSIGNING_AUTHORITIES,
  isValidBsn,
  labMessages,
  parseHl7Instant,
  pathologyMessages,
  pathologyReports,
  seedHl7Messages,
  seedPatients,
  unescapeText,
} from './index.ts';

const patients = seedPatients();
const all = seedHl7Messages();
const parsed = all.map((m) => ({ ...m, msg: Hl7Message.parse(m.text) }));

/** Field n of a raw segment string (MSH counted so that MSH-n is index n). */
function rawField(seg: string, n: number): string {
  const parts = seg.split('|');
  return (seg.startsWith('MSH|') ? ['MSH', '|', ...parts.slice(1)] : parts)[n] ?? '';
}

function rawSegments(text: string, name: string): string[] {
  return text.split('\r').filter((s) => s.startsWith(`${name}|`));
}

/** True when all backslashes belong to escape sequences and no component/subcomponent/repetition delimiter is present. */
function isSingleEscapedText(value: string): boolean {
  return !/[\^&~]/.test(value) && !value.replace(/\\(E|F|S|T|R|\.br)\\/g, '').includes('\\');
}

const f = (seg: Hl7Segment | undefined, n: number, component = 1): string => seg?.getField(n).getComponent(component) ?? '';

describe('seed patients', () => {
  it('alternates breast and colorectal cancer, four by default', () => {
    expect(patients.map((p) => p.cancer)).toEqual(['breast', 'colorectal', 'breast', 'colorectal']);
    expect(seedPatients({ count: 7 })).toHaveLength(7);
  });

  it('has valid BSNs, unique MRNs and Dutch addresses', () => {
    for (const p of seedPatients({ count: 20 })) {
      expect(isValidBsn(p.bsn), p.bsn).toBe(true);
      expect(p.address.postalCode).toMatch(/^[1-9]\d{3} [A-Z]{2}$/);
      expect(p.address.country).toBe('NL');
    }
    expect(new Set(patients.map((p) => p.mrn)).size).toBe(patients.length);
  });
});

describe('determinism', () => {
  it('gives byte-identical output for the same seed and different output for another', () => {
    expect(seedHl7Messages()).toEqual(all);
    expect(seedHl7Messages({ seed: 7 })).toEqual(seedHl7Messages({ seed: 7 }));
    expect(seedHl7Messages({ seed: 7 }).map((m) => m.text)).not.toEqual(all.map((m) => m.text));
  });

  it('does not depend on the order patients are generated in', () => {
    const third = seedPatients({ count: 3 })[2];
    expect(third).toBeDefined();
    if (third) expect(labMessages(third)).toEqual(labMessages(patients[2] ?? third));
  });
});

describe('every message', () => {
  it('parses with @medplum/core and has a correct v2.5.1 ORU^R01 header', () => {
    const controlIds = new Set<string>();
    for (const { msg, text } of parsed) {
      const msh = msg.header;
      expect(text.startsWith('MSH|^~\\&|')).toBe(true);
      expect(msh.getField(9).toString()).toBe('ORU^R01^ORU_R01');
      expect(f(msh, 11)).toBe('P');
      expect(f(msh, 12)).toBe('2.5.1');
      expect(f(msh, 7)).toMatch(/^\d{14}\+0[12]00$/);
      controlIds.add(f(msh, 10));
      expect(text).not.toMatch(/\n/);
    }
    expect(controlIds.size).toBe(parsed.length);
  });

  it('identifies the patient by BSN and MRN as repetitions of PID-3', () => {
    for (const { msg } of parsed) {
      const pid = msg.getSegment('PID');
      const byAuthority = new Map([0, 1].map((rep) => [pid?.getField(3).getComponent(4, 0, rep), pid?.getField(3).getComponent(1, 0, rep)]));
      const patient = patients.find((p) => p.bsn === byAuthority.get(ASSIGNING_AUTHORITIES.bsn));
      expect(patient).toBeDefined();
      expect(byAuthority.get(ASSIGNING_AUTHORITIES.mrn)).toBe(patient?.mrn);
      expect(pid?.getField(3).getComponent(5, 0, 0)).toBe('NNNLD');
      expect(f(pid, 7)).toMatch(/^\d{8}$/);
      expect(['F', 'M']).toContain(f(pid, 8));
      expect(msg.getSegment('PV1')).toBeDefined();
    }
  });

  it('is listed in the order it was sent', () => {
    const instants = parsed.map(({ msg }) => parseHl7Instant(f(msg.header, 7)));
    expect(instants).toEqual([...instants].sort((a, b) => a - b));
    expect(new Set(all.map((m) => m.name)).size).toBe(all.length);
  });
});

describe('lab messages', () => {
  const lab = parsed.filter((m) => m.name.includes('-lab-'));

  it('has one ORC, OBR and SPM per order group, OBX set ids from 1, and results over ~9 months', () => {
    for (const { msg } of lab) {
      const obr = msg.getAll('OBR');
      expect(obr.length).toBeGreaterThanOrEqual(1);
      expect(msg.getAll('ORC')).toHaveLength(obr.length);
      expect(msg.getAll('SPM')).toHaveLength(obr.length);
      for (const o of obr) {
        expect(f(o, 7)).toMatch(/^\d{14}\+0[12]00$/);
        expect(f(o, 22)).toMatch(/^\d{14}\+0[12]00$/);
      }
    }
    for (const p of patients) {
      const texts = labMessages(p);
      expect(texts.length).toBeGreaterThanOrEqual(15);
      const times = texts.flatMap((t) => rawSegments(t, 'OBR').map((s) => parseHl7Instant(rawField(s, 7))));
      expect((Math.max(...times) - Math.min(...times)) / 86_400_000).toBeGreaterThan(240);
      for (const t of texts) {
        const msg = Hl7Message.parse(t);
        let expected = 0;
        for (const seg of msg.segments) {
          if (seg.name === 'OBR') expected = 0;
          if (seg.name === 'OBX') expect(f(seg, 1)).toBe(String(++expected));
        }
      }
    }
  });

  it('uses unique, stable filler order numbers', () => {
    const finals = lab.flatMap(({ msg }) => msg.getAll('OBR').filter((o) => f(o, 25) === 'F').map((o) => f(o, 3)));
    expect(new Set(finals).size).toBe(finals.length);
    expect(seedHl7Messages().filter((m) => m.name.includes('-lab-')).flatMap((m) => rawSegments(m.text, 'OBR').map((s) => rawField(s, 3)))).toEqual(
      lab.flatMap(({ text }) => rawSegments(text, 'OBR').map((s) => rawField(s, 3))),
    );
  });

  it('flags every result consistently with its reference range', () => {
    let checked = 0;
    const seen = new Set<string>();
    for (const { text } of lab) {
      for (const obx of rawSegments(text, 'OBX')) {
        const value = rawField(obx, 5);
        const range = rawField(obx, 7);
        const flag = rawField(obx, 8);
        seen.add(flag);
        expect(rawField(obx, 3).split('^')[2]).toBe('LN');
        expect(rawField(obx, 3).split('^')[5]).toBe('L');
        expect(rawField(obx, 6).split('^')[2]).toBe('UCUM');
        expect(rawField(obx, 14)).toMatch(/^\d{14}\+0[12]00$/);
        if (rawField(obx, 2) === 'SN') {
          expect(value).toBe('>^90');
          expect(flag).toBe('N');
          continue;
        }
        const v = Number(value);
        let expected = 'N';
        const two = /^([\d.]+)-([\d.]+)$/.exec(range);
        if (two) expected = v < Number(two[1]) ? 'L' : v > Number(two[2]) ? 'H' : 'N';
        else if (range.startsWith('<')) expected = v >= Number(range.slice(1)) ? 'H' : 'N';
        else if (range.startsWith('>')) expected = v <= Number(range.slice(1)) ? 'L' : 'N';
        else throw new Error(`unexpected range "${range}"`);
        expect(flag === expected || flag === `${expected}${expected}`, `${obx}`).toBe(true);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(500);
    expect([...seen].sort()).toEqual(['H', 'L', 'LL', 'N']);
  });

  it('contains per patient one corrected result re-sending one OBX with OBX-11 C and OBR-25 C', () => {
    for (const p of patients) {
      const texts = labMessages(p);
      const corrections = texts.filter((t) => rawSegments(t, 'OBR').some((s) => rawField(s, 25) === 'C'));
      expect(corrections).toHaveLength(1);
      const correction = corrections[0] ?? '';
      const obx = rawSegments(correction, 'OBX');
      expect(obx).toHaveLength(1);
      expect(rawField(obx[0] ?? '', 11)).toBe('C');
      const filler = rawField(rawSegments(correction, 'OBR')[0] ?? '', 3);
      const original = texts.find((t) => t !== correction && rawSegments(t, 'OBR').some((s) => rawField(s, 3) === filler));
      expect(original).toBeDefined();
      const before = rawSegments(original ?? '', 'OBX').find((s) => rawField(s, 3) === rawField(obx[0] ?? '', 3));
      expect(before).toBeDefined();
      expect(rawField(before ?? '', 11)).toBe('F');
      expect(rawField(before ?? '', 5)).not.toBe(rawField(obx[0] ?? '', 5));
      expect(texts.indexOf(original ?? '')).toBeLessThan(texts.indexOf(correction));
    }
  });

  it('has an NTE comment after a result, with delimiters escaped', () => {
    for (const p of patients) {
      const notes = labMessages(p).flatMap((t) => {
        const segs = t.split('\r');
        return segs.flatMap((s, i) => (s.startsWith('NTE|') && segs[i - 1]?.startsWith('OBX|') ? [rawField(s, 3)] : []));
      });
      expect(notes.length).toBeGreaterThanOrEqual(1);
      for (const n of notes) expect(isSingleEscapedText(n), n).toBe(true);
    }
  });

  it('follows tumour markers that rise before and fall after the resection', () => {
    for (const p of patients) {
      const code = p.cancer === 'breast' ? '6875-9' : '2039-6';
      const values = labMessages(p).flatMap((t) => rawSegments(t, 'OBX').filter((s) => rawField(s, 3).startsWith(`${code}^`)).map((s) => Number(rawField(s, 5))));
      expect(values.length).toBeGreaterThanOrEqual(5);
      const [first = 0, second = 0, ...rest] = values;
      expect(second).toBeGreaterThan(first);
      expect(Math.max(...rest)).toBeLessThan(first);
    }
  });
});

describe('pathology messages', () => {
  const pathology = parsed.filter((m) => m.name.includes('-pathology-'));

  it('has a biopsy and a resection report per patient, each a surgical pathology OBR with SPM', () => {
    expect(pathology).toHaveLength(patients.length * 2);
    for (const { msg } of pathology) {
      const obr = msg.getAll('OBR');
      expect(obr).toHaveLength(1);
      expect(f(obr[0], 4)).toBe('60567-5');
      expect(f(obr[0], 24)).toBe('SP');
      expect(f(obr[0], 25)).toBe('F');
      const spm = msg.getAll('SPM');
      expect(spm).toHaveLength(1);
      expect(spm[0]?.getField(4).getComponent(3)).toBe('SCT');
      const tx = msg.getAll('OBX').filter((o) => f(o, 2) === 'TX').map((o) => f(o, 3));
      for (const section of ['22636-5', '22634-0', '22635-7', '22637-3']) expect(tx).toContain(section);
      const items = msg.getAll('OBX').filter((o) => f(o, 2) !== 'TX');
      const histology = items.find((o) => f(o, 3) === '59847-4');
      expect(histology?.getField(5).getComponent(3)).toBe('ICDO3');
      expect(histology?.getField(5).getComponent(6)).toBe('SCT');
      expect(items.find((o) => f(o, 3) === '21855-2')?.getField(5).getComponent(1)).toMatch(/^C\d\d\.\d$/);
      for (const o of msg.getAll('OBX')) expect(f(o, 11)).toBe('F');
    }
  });

  it('covers both cancer types with receptor status and TNM', () => {
    const codes = (kind: 'breast' | 'colorectal'): string[] =>
      patients.filter((p) => p.cancer === kind).flatMap((p) => pathologyMessages(p)).flatMap((t) => rawSegments(t, 'OBX').map((s) => `${rawField(s, 3).split('^')[0]}=${rawField(s, 5).split('^')[0]}`));
    const breast = codes('breast');
    const colorectal = codes('colorectal');
    expect(breast).toContain('59847-4=8500/3');
    expect(colorectal).toContain('59847-4=8140/3');
    for (const code of ['16112-5', '16113-3', '18474-7', '48676-1', '29593-1', '44648-4', '33728-7', '44669-0', '21894-1', '21893-3', '21899-0', '21900-6', '21907-1']) {
      expect(breast.some((c) => c.startsWith(`${code}=`)), code).toBe(true);
    }
    for (const code of ['81695-9', '21899-0', '21900-6', '33728-7', 'RESMARGE']) expect(colorectal.some((c) => c.startsWith(`${code}=`)), code).toBe(true);
  });

  it('escapes delimiters in the narrative, which reads back unchanged', () => {
    const sourceLines = patients.flatMap((p) => pathologyReports(p)).flatMap((r) => Object.values(r.sections).flat());
    for (const ch of ['|', '^', '&', '~', '\\']) expect(sourceLines.some((l) => l.includes(ch)), ch).toBe(true);
    const written = pathology.flatMap(({ text }) => rawSegments(text, 'OBX').filter((s) => rawField(s, 2) === 'TX').map((s) => rawField(s, 5)));
    for (const value of written) expect(isSingleEscapedText(value), value).toBe(true);
    expect(written.map(unescapeText).sort()).toEqual([...sourceLines].sort());
  });
});

describe('schedule', () => {
  it('takes outpatient blood samples on working days only', () => {
    for (const { text } of parsed.filter((m) => m.name.includes('-lab-'))) {
      if (rawField(rawSegments(text, 'PV1')[0] ?? '', 2) === 'I') continue; // inpatient: the ward draws every day
      for (const obr of rawSegments(text, 'OBR')) {
        const dtm = rawField(obr, 7);
        const day = new Date(Date.UTC(Number(dtm.slice(0, 4)), Number(dtm.slice(4, 6)) - 1, Number(dtm.slice(6, 8)))).getUTCDay();
        expect([0, 6], dtm).not.toContain(day);
      }
    }
  });
});
