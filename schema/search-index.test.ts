import { describe, expect, it } from 'vitest';
import type { DiagnosticReport } from '@medplum/fhirtypes';
import { computeSearchKeys, keyValues, paramValues } from './search-index.ts';

const report: DiagnosticReport = {
  resourceType: 'DiagnosticReport', id: 'r1', status: 'final',
  subject: { reference: 'Patient/p1' },
  category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'SP' }] }],
  code: { coding: [{ system: 'http://loinc.org', code: '60567-5' }] },
  effectiveDateTime: '2025-02-01T10:00:00Z',
  result: [{ reference: 'Observation/o1' }, { reference: 'Observation/o2' }],
};

describe('paramValues', () => {
  it('gives one parameter the values computeSearchKeys stores in keys', () => {
    const keys = computeSearchKeys(report).keys;
    for (const code of ['result', 'subject', 'patient', 'category', 'code']) {
      expect(paramValues(report, code).sort()).toEqual(keyValues(keys, code).sort());
    }
    expect(paramValues(report, 'result')).toEqual(expect.arrayContaining(['Observation/o1', 'Observation/o2']));
  });

  it('has nothing for a parameter kept outside keys, an unknown one or one the resource lacks', () => {
    expect(paramValues(report, 'date')).toEqual([]);
    expect(paramValues(report, 'no-such-parameter')).toEqual([]);
    expect(paramValues(report, 'encounter')).toEqual([]);
  });
});
