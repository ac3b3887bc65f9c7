import { describe, expect, it } from 'vitest';
import type { DiagnosticReport, Observation } from '@medplum/fhirtypes';
import { findingsAcross } from './case-summary.ts';
import { latestOf, type Marker, reportItems, standaloneTnm } from './tumour-findings.ts';
import { deriveStageGroup, stageTableFor } from './stage-group.ts';
import { tnmAcross } from './tnm-summary.ts';
import type { ReportTnm } from './tumour-findings.ts';

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

// ---- tumour items: markers, histology, TNM and stage (pure, hand-made resources) ----

const LN = 'http://loinc.org';
let seq = 0;
const coded = (loinc: string, code: string, display: string, system = LN): Observation => ({
  resourceType: 'Observation', id: `o${++seq}`, status: 'final', code: { coding: [{ system: LN, code: loinc }] },
  valueCodeableConcept: { coding: [{ system, code, display }], text: display },
});
const num = (loinc: string, value: number, unit: string): Observation => ({
  resourceType: 'Observation', id: `o${++seq}`, status: 'final', code: { coding: [{ system: LN, code: loinc }] },
  valueQuantity: { value, unit, system: 'http://unitsofmeasure.org', code: unit },
});
const AJCC = 'urn:idr:hl7v2:code-system:AJCC';
const ICDO3 = 'http://terminology.hl7.org/CodeSystem/icd-o-3';
const pathologyReport = (id: string, conclusion?: string): DiagnosticReport => ({ ...report(id), ...(conclusion ? { conclusion } : {}) });

describe('tumour markers from the reports', () => {
  const biopsyDate = new Date('2025-02-01T10:00:00Z');
  const resectionDate = new Date('2025-03-01T10:00:00Z');
  const biopsy = reportItems(pathologyReport('biopsy'), [
    coded('59847-4', '8500/3', 'Infiltrating duct carcinoma', ICDO3),
    coded('21855-2', 'C50.4', 'Upper-outer quadrant of breast', ICDO3),
    coded('44648-4', 'LA27824-4', 'Nottingham grade 2'),
    coded('16112-5', 'LA6576-8', 'Positive'),
    num('40556-3', 90, '%'),
    coded('16113-3', 'LA6577-6', 'Negative'),
    coded('18474-7', '1+', 'Score 1+', 'urn:idr:hl7v2:code-system:L'),
    coded('48676-1', 'LA6577-6', 'Negative'),
    num('29593-1', 20, '%'),
  ], biopsyDate);
  const resection = reportItems(pathologyReport('resection', 'TNM (8th edition): pT2 pN1a; cM0.'), [
    coded('59847-4', '8500/3', 'Infiltrating duct carcinoma', ICDO3),
    coded('44648-4', 'LA27824-4', 'Nottingham grade 2'),
    coded('18474-7', '3+', 'Score 3+', 'urn:idr:hl7v2:code-system:L'),
    coded('85318-4', 'LA6576-8', 'Positive'),
    num('33728-7', 2.3, 'cm'),
    coded('21899-0', 'pT2', 'pT2', AJCC),
    coded('21900-6', 'pN1a', 'pN1a', AJCC),
    coded('21907-1', 'cM0', 'cM0', AJCC),
  ], resectionDate);
  const item = (m: Marker) => latestOf(m, [resection.markers.get(m), biopsy.markers.get(m)]);

  it('reads each marker with value, interpretation, date and source', () => {
    expect(item('ER')).toMatchObject({ conflicting: false, latest: { value: 'Positive (90 %)', interpretation: 'positive', quantity: 90, unit: '%', date: biopsyDate, source: 'DiagnosticReport/biopsy' } });
    expect(item('ER')?.latest.observations).toHaveLength(2);
    expect(item('PR')?.latest).toMatchObject({ interpretation: 'negative', code: 'LA6577-6' });
    expect(item('Ki-67')?.latest).toMatchObject({ value: '20 %', quantity: 20, unit: '%' });
    expect(item('HER2 ISH')?.latest).toMatchObject({ interpretation: 'positive', source: 'DiagnosticReport/resection' });
    expect(item('grade')).toMatchObject({ conflicting: false, latest: { interpretation: 'grade 2', source: 'DiagnosticReport/resection' } });
    expect(item('grade')?.values).toHaveLength(2);
    expect(item('MSI')).toBeNull();
  });

  it('takes the latest report stating a marker, and shows both where two reports disagree', () => {
    const her2 = item('HER2 IHC');
    expect(her2?.conflicting).toBe(true);
    expect(her2?.latest).toMatchObject({ interpretation: '3+', source: 'DiagnosticReport/resection' });
    expect(her2?.values.map((v) => [v.interpretation, v.source])).toEqual([['3+', 'DiagnosticReport/resection'], ['1+', 'DiagnosticReport/biopsy']]);
    // only the biopsy states the overall HER2 and ER: they come from it although the resection is newer
    expect(item('HER2')?.latest.source).toBe('DiagnosticReport/biopsy');
  });

  it('reads histology and topography in ICD-O-3, size in mm, and TNM with the edition the report states', () => {
    expect(biopsy.histology).toMatchObject({ code: '8500/3', system: ICDO3, display: 'Infiltrating duct carcinoma' });
    expect(biopsy.topography).toMatchObject({ code: 'C50.4' });
    expect(resection.size).toMatchObject({ quantity: 23, unit: 'mm' });
    expect(resection.tnm).toEqual({ t: 'pT2', n: 'pN1a', m: 'cM0', edition: '8' });
    expect(biopsy.tnm).toEqual({});
  });

  it('reads MSI and MMR of a colorectal report', () => {
    const r = reportItems(pathologyReport('crc'), [
      coded('81695-9', 'MSI-H', 'Microsatellite instability high', 'urn:idr:hl7v2:code-system:L'),
      { ...coded('MMR', 'DMMR', 'Mismatch repair deficient', 'urn:idr:hl7v2:code-system:L'), code: { coding: [{ system: 'urn:idr:hl7v2:code-system:L', code: 'MMR', display: 'Mismatch repair status' }] } },
    ], resectionDate);
    expect(r.markers.get('MSI')?.interpretation).toBe('MSI-H');
    expect(r.markers.get('MMR')?.interpretation).toBe('dMMR');
  });
});

describe('stage group derivation (AJCC 8th)', () => {
  it.each([
    ['breast', 'pT1c', 'pN0(sn)', 'cM0', 'IA'],
    ['breast', 'pT1b', 'pN1mi', 'cM0', 'IB'],
    ['breast', 'pT1c', 'pN1a(sn)', 'cM0', 'IIA'],
    ['breast', 'pT2', 'pN0(sn)', 'cM0', 'IIA'],
    ['breast', 'pT0', 'pN1a', 'cM0', 'IIA'],
    ['breast', 'pT2', 'pN1a(sn)', 'cM0', 'IIB'],
    ['breast', 'pT2', 'pN1mi', 'cM0', 'IIB'],
    ['breast', 'pT3', 'pN0', 'cM0', 'IIB'],
    ['breast', 'pT3', 'pN1a', 'cM0', 'IIIA'],
    ['breast', 'pT1c', 'pN2a', 'cM0', 'IIIA'],
    ['breast', 'pT4b', 'pN1a', 'cM0', 'IIIB'],
    ['breast', 'pT1a', 'pN3a', 'cM0', 'IIIC'],
    ['breast', 'pTis', 'pN0', 'cM0', '0'],
    ['breast', 'pTX', 'pNX', 'pM1', 'IV'],
    ['breast', 'pT0', 'pN0(i+)', 'cM0', null],
    ['colorectal', 'pTis', 'pN0', 'cM0', '0'],
    ['colorectal', 'pT2', 'pN0', 'cM0', 'I'],
    ['colorectal', 'pT3', 'pN0', 'cM0', 'IIA'],
    ['colorectal', 'pT4a', 'pN0', 'cM0', 'IIB'],
    ['colorectal', 'pT4b', 'pN0', 'cM0', 'IIC'],
    ['colorectal', 'pT2', 'pN1c', 'cM0', 'IIIA'],
    ['colorectal', 'pT1', 'pN2a', 'cM0', 'IIIA'],
    ['colorectal', 'pT3', 'pN1a', 'cM0', 'IIIB'],
    ['colorectal', 'pT4a', 'pN1b', 'cM0', 'IIIB'],
    ['colorectal', 'pT2', 'pN2b', 'cM0', 'IIIB'],
    ['colorectal', 'pT4a', 'pN2a', 'cM0', 'IIIC'],
    ['colorectal', 'pT3', 'pN2b', 'cM0', 'IIIC'],
    ['colorectal', 'pT4b', 'pN1a', 'cM0', 'IIIC'],
    ['colorectal', 'pT4', 'pN2', 'cM0', 'IIIC'], // every subcategory gives IIIC
    ['colorectal', 'pT3', 'pN1a', 'pM1a', 'IVA'],
    ['colorectal', 'pTX', 'pN1a', 'cM1c', 'IVC'],
    ['colorectal', 'pT3', 'pN1a', 'cM1', 'IV'],
  ] as const)('%s %s %s %s → %s', (table, t, n, m, group) => {
    const r = deriveStageGroup(table, t, n, m);
    expect('group' in r ? r.group : null).toBe(group);
  });

  it.each([
    ['breast', 'pT2', 'pNX', 'cM0', /NX/],
    ['breast', 'pTX', 'pN0', 'cM0', /TX/],
    ['breast', 'pT2', 'pN0', undefined, /M category not stated/],
    ['breast', 'pT2', undefined, 'cM0', /N category not stated/],
    ['colorectal', 'pT4', 'pN0', 'cM0', /T4a\/T4b/], // IIB or IIC
    ['colorectal', 'pT1', 'pN2', 'cM0', /N2a\/N2b/], // IIIA or IIIB
    [undefined, 'pT2', 'pN0', 'cM0', /no stage table/],
  ] as const)('%s %s %s %s is not derivable', (table, t, n, m, reason) => {
    const r = deriveStageGroup(table, t, n, m);
    expect('notDerivable' in r ? r.notDerivable : r.group).toMatch(reason);
  });

  it('picks the table from the ICD-O-3 topography or ICD-10 code', () => {
    expect(stageTableFor('C50.4')).toBe('breast');
    expect(stageTableFor('C18.7')).toBe('colorectal');
    expect(stageTableFor('C20')).toBe('colorectal');
    expect(stageTableFor('C34.1')).toBeUndefined();
  });
});

describe('TNM staging across reports', () => {
  const r = (id: string, day: number, tnm: ReportTnm) => ({ source: `DiagnosticReport/${id}`, report: report(id), date: new Date(Date.UTC(2025, 0, day)), tnm });

  it('keeps T, N and M of one report, states the reported group, derives it otherwise, and lists differing earlier staging', () => {
    const staging = tnmAcross([
      r('amended', 20, { t: 'pT2', n: 'pN1a', m: 'cM0', edition: '8' }),
      r('resection', 10, { t: 'pT2', n: 'pN0', m: 'cM0' }),
      r('mdt', 5, { t: 'cT2', n: 'cN0', m: 'cM0', stageGroup: 'Stage IIA' }),
      r('biopsy', 1, {}),
    ], 'breast');
    expect(staging.map((s) => [s.prefix, s.t, s.n, s.m, s.stageGroup, s.stageGroupBasis, s.current, s.report?.id])).toEqual([
      ['p', 'pT2', 'pN1a', 'cM0', 'IIB', 'derived', true, 'amended'],
      ['p', 'pT2', 'pN0', 'cM0', 'IIA', 'derived', false, 'resection'],
      ['c', 'cT2', 'cN0', 'cM0', 'IIA', 'reported', true, 'mdt'],
    ]);
    expect(staging[0]).toMatchObject({ edition: '8', stagingSystem: 'AJCC 8th edition, anatomic stage group (breast)', stageGroupNote: null });
    expect(staging[1]?.stageGroupNote).toMatch(/states no TNM edition/);
  });

  it('keeps a reported group and notes where T, N and M give another', () => {
    const [s] = tnmAcross([r('x', 1, { t: 'pT3', n: 'pN1a', m: 'cM0', stageGroup: 'Stage IIA' })], 'colorectal');
    expect(s).toMatchObject({ stageGroup: 'IIA', stageGroupBasis: 'reported', stageGroupNote: 'T, N and M give IIIB by the AJCC 8th edition table' });
  });

  it('reads a clinical staging recorded outside any report, one per effective time, with the edition of its method', () => {
    const at = (o: Observation, when: string): Observation => ({ ...o, effectiveDateTime: when, method: { text: 'AJCC 8th edition' } });
    const inReport = at(coded('21899-0', 'pT2', 'pT2', AJCC), '2025-01-10');
    const found = standaloneTnm([
      at(coded('21905-5', 'T2', 'T2', AJCC), '2025-01-05T10:00:00+01:00'),
      at(coded('21906-3', 'N1', 'N1', AJCC), '2025-01-05T10:00:00+01:00'),
      at(coded('21907-1', 'M0', 'M0', AJCC), '2025-01-05T10:00:00+01:00'),
      at(coded('21905-5', 'T1c', 'T1c', AJCC), '2024-12-20'),
      inReport,
    ], new Set([`Observation/${inReport.id}`]));
    expect(found.map((f) => f.tnm)).toEqual([{ t: 'cT2', n: 'cN1', m: 'cM0', edition: '8' }, { t: 'cT1c', edition: '8' }]);
    const staging = tnmAcross(found.map((f) => ({ ...f, report: null })), 'breast');
    expect(staging.map((s) => [s.prefix, s.t, s.stageGroup, s.stageGroupBasis, s.current, s.report])).toEqual([
      ['c', 'cT2', 'IIB', 'derived', true, null],
      ['c', 'cT1c', null, 'not derivable', false, null],
    ]);
    expect(staging[0]?.source).toMatch(/^Observation\//);
  });

  it('does not derive a group by another edition, nor without M', () => {
    const [seventh] = tnmAcross([r('old', 1, { t: 'pT3', n: 'pN1a', m: 'cM0', edition: '7' })], 'colorectal');
    expect(seventh).toMatchObject({ stageGroup: null, stageGroupBasis: 'not derivable' });
    const [noM] = tnmAcross([r('x', 1, { t: 'pT3', n: 'pN1a' })], 'colorectal');
    expect(noM).toMatchObject({ stageGroup: null, stageGroupBasis: 'not derivable', stageGroupNote: 'M category not stated' });
  });
});
