import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AdapterError } from '../types.ts';
import { hl7v2ToBundle } from './index.ts';
import { testContext } from './testing.ts';
import { corpusDir } from '../../../test/support/corpus.ts';

const CORPUS = corpusDir('hl7v2');

describe('shared corpus (../shared/corpus/hl7v2)', () => {
  const files = readdirSync(CORPUS).sort();
  it('is present', () => {
    expect(files.length).toBeGreaterThan(0);
  });

  it.each(files)('%s maps, or is refused with an AdapterError naming a location', (file) => {
    const raw = readFileSync(`${CORPUS}/${file}`, 'utf8');
    let result: string;
    try {
      const out = hl7v2ToBundle(raw, testContext());
      expect(out.bundle.type).toBe('transaction');
      expect(out.bundle.entry?.some((e) => e.resource?.resourceType === 'DiagnosticReport')).toBe(true);
      result = out.kind;
    } catch (err) {
      expect(err, `${file}: ${String(err)}`).toBeInstanceOf(AdapterError);
      const e = err as AdapterError;
      expect(e.location).toMatch(/^(MSH|PID|OBR|OBX|SPM|NTE|line)/);
      result = e.message;
    }
    expect(result).toBeTruthy();
  });

  it('maps the ORU^R01 lab messages and refuses MDM, ADT and OUL by message type', () => {
    const kinds = new Map<string, string>();
    for (const f of files) {
      try {
        kinds.set(f, hl7v2ToBundle(readFileSync(`${CORPUS}/${f}`, 'utf8'), testContext()).kind);
      } catch (err) {
        kinds.set(f, (err as AdapterError).location);
      }
    }
    expect(kinds.get('LAB-ORU-1.hl7')).toBe('ORU^R01 lab');
    expect(kinds.get('LAB-ORU-2.hl7')).toBe('ORU^R01 lab');
    expect(kinds.get('ORU-R01-RMGEAD.hl7')).toBe('ORU^R01 lab');
    for (const [f, k] of kinds) if (/^(MDM|OUL)/.test(f)) expect(k, f).toBe('MSH-9');
    // v2.5.1 header with later segments (PRT, patient-level OBX before the first OBR): mapped, not refused.
    expect(kinds.get('ORU-R01-01.hl7')).toBe('ORU^R01 lab');
    for (const [f, k] of kinds) if (/^(ORU|LAB-ORU)/.test(f)) expect(k, f).toMatch(/^ORU\^R01 /);
  });
});
