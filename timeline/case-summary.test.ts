import { describe, expect, it } from 'vitest';
import type { DiagnosticReport } from '@medplum/fhirtypes';
import { findingsAcross } from './case-summary.ts';

const report = (id: string): DiagnosticReport => ({ resourceType: 'DiagnosticReport', id, status: 'final', code: { text: 'Pathology' } });

describe('findingsAcross', () => {
  const resection = { report: report('resection'), date: new Date('2025-03-01'), findings: { malignant: true, histology: 'Invasive carcinoma NST', tnm: 'pT2 pN1a', her2: 'Positive (3+)' } };
  const biopsy = { report: report('biopsy'), date: new Date('2025-02-01'), findings: { malignant: true, histology: 'Invasive carcinoma NST', er: 'Positive (90 %)', her2: 'Negative (1+)', ki67: '20 %' } };

  it('takes each finding from the newest report that states it', () => {
    const f = new Map(findingsAcross([resection, biopsy]).map((x) => [x.item, x]));
    expect(f.get('ER')).toMatchObject({ value: 'Positive (90 %)', report: { id: 'biopsy' }, otherValues: [] });
    expect(f.get('TNM')).toMatchObject({ value: 'pT2 pN1a', report: { id: 'resection' } });
    expect(f.get('histology')?.otherValues).toEqual([]); // same value twice: no disagreement
    expect(f.has('PR')).toBe(false);
  });

  it('shows both values where two reports disagree', () => {
    const her2 = findingsAcross([resection, biopsy]).find((x) => x.item === 'HER2');
    expect(her2).toMatchObject({ value: 'Positive (3+)', report: { id: 'resection' }, otherValues: [{ value: 'Negative (1+)', report: { id: 'biopsy' } }] });
  });
});
