import { readFileSync, readdirSync } from 'node:fs';
import type { DiagnosticReport, DocumentReference } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { resources, testContext } from '../hl7v2/testing.ts';
import { AdapterError } from '../types.ts';
import { mdmToBundle } from './mdm-to-bundle.ts';
import { corpusDir } from '../../../test/support/corpus.ts';

/** mdmToBundle on the MDM messages of the shared sample corpus (`make test-corpus`). */

const CORPUS = `${corpusDir('hl7v2')}/`;
const corpusFiles = readdirSync(CORPUS).filter((f) => f.startsWith('MDM'));

describe('mdmToBundle on the corpus', () => {
  it('has MDM messages', () => {
    expect(corpusFiles.length).toBeGreaterThan(0);
  });

  it.each(corpusFiles)('maps or clearly refuses corpus file %s', (file) => {
    const raw = readFileSync(CORPUS + file, 'utf8');
    let out;
    try {
      out = mdmToBundle(raw, testContext());
    } catch (err) {
      expect(err).toBeInstanceOf(AdapterError);
      const e = err as AdapterError;
      expect(['MSH-9', 'OBX']).toContain(e.location);
      expect(e.message).toMatch(/not an MDM document message|notification without document content|has no content/);
      return;
    }
    expect(file).toMatch(/^MDM-T(02|06|10)-0[23]/);
    expect(resources(out.bundle, 'DocumentReference')).toHaveLength(1);
    expect(out.text.length).toBeGreaterThan(0);
  });

  it('maps the corpus discharge summary (T02-03) as preliminary and the T10 replacement as amended', () => {
    const ds = mdmToBundle(readFileSync(`${CORPUS}MDM-T02-03.hl7`, 'utf8'), testContext());
    const doc = resources<DocumentReference>(ds.bundle, 'DocumentReference')[0];
    expect(doc).toMatchObject({ docStatus: 'preliminary', type: { coding: [{ code: '18842-5' }, { code: 'DS' }] }, author: [{ display: 'Dr Kathleen Woolfson' }] });
    expect(doc?.identifier).toContainEqual({ system: 'urn:idr:hl7v2:document', value: 'SIMHOSP/2RWRVAJ627408' });
    const t10 = mdmToBundle(readFileSync(`${CORPUS}MDM-T10-02.hl7`, 'utf8'), testContext());
    expect(resources<DocumentReference>(t10.bundle, 'DocumentReference')[0]?.docStatus).toBe('amended');
    expect(resources<DiagnosticReport>(t10.bundle, 'DiagnosticReport')[0]?.status).toBe('amended');
  });
});
