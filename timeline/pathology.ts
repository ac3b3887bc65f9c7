import type { CodeableConcept, DiagnosticReport, Observation } from '@medplum/fhirtypes';
import { conceptText, formatValue, loincCode } from './format.ts';

/**
 * The key findings of a pathology report, taken from its coded result Observations (LOINC or
 * the lab's local codes) and its conclusion codes: histology, grade, receptors, Ki-67, TNM.
 */

export interface PathologyFindings {
  histology?: string;
  /** The ICD-O-3 morphology code, e.g. "8500/3". */
  morphologyCode?: string;
  site?: string;
  grade?: string;
  er?: string;
  pr?: string;
  her2?: string;
  ki67?: string;
  t?: string;
  n?: string;
  m?: string;
  /** "pT1c pNX cM0". */
  tnm?: string;
  stage?: string;
  size?: string;
  conclusion?: string;
  /** True for a malignant morphology (ICD-O-3 behaviour /3 or /6). */
  malignant: boolean;
}

/** What a result Observation of a pathology report states (see {@link findingKey}). */
export type FindingKey = 'histology' | 'site' | 'grade' | 'er' | 'erPct' | 'pr' | 'prPct' | 'her2' | 'her2Score' | 'ki67' | 't' | 'n' | 'm' | 'stage' | 'size';

const BY_LOINC: Record<string, FindingKey> = {
  '59847-4': 'histology', '31205-8': 'histology', '21855-2': 'site', '21854-5': 'site',
  '44648-4': 'grade', '21858-6': 'grade', '33732-9': 'grade', '16112-5': 'er', '85337-4': 'er', '40556-3': 'erPct',
  '16113-3': 'pr', '85339-0': 'pr', '40557-1': 'prPct', '48676-1': 'her2', '85319-2': 'her2', '18474-7': 'her2Score',
  '29593-1': 'ki67', '85330-9': 'ki67', '21899-0': 't', '21905-5': 't', '21900-6': 'n', '21906-3': 'n',
  '21901-4': 'm', '21907-1': 'm', '21902-2': 'stage', '21908-9': 'stage', '21889-1': 'size', '33728-7': 'size',
};

const BY_TEXT: [RegExp, FindingKey][] = [
  [/ki-?67/i, 'ki67'],
  [/(estrogen|oestrogen).*(percent|%)/i, 'erPct'],
  [/progesterone.*(percent|%)/i, 'prPct'],
  [/^(ER|estrogen receptor|oestrogen receptor)\b/i, 'er'],
  [/^(PR|PgR|progesterone receptor)\b/i, 'pr'],
  [/her-?2.*(score|immuno|ihc)/i, 'her2Score'],
  [/her-?2/i, 'her2'],
  [/grade/i, 'grade'],
  [/primary site|topograph/i, 'site'],
];

const LOCAL: Record<string, FindingKey> = { KI67: 'ki67', ERPCT: 'erPct', PRPCT: 'prPct', HER2IHC: 'her2Score', GRADE: 'grade', TOPO: 'site' };

/** What a result of a pathology report states, from its code: LOINC, the lab's local code, else its text. */
export function findingKey(code: CodeableConcept): FindingKey | undefined {
  const loinc = loincCode(code);
  if (loinc && BY_LOINC[loinc]) return BY_LOINC[loinc];
  for (const c of code.coding ?? []) if (c.code && LOCAL[c.code.toUpperCase()]) return LOCAL[c.code.toUpperCase()];
  const text = conceptText(code) ?? '';
  return BY_TEXT.find(([re]) => re.test(text))?.[1];
}

const ICDO3 = /icd-?o-?3/i;

/** Extracts the key findings of a pathology report from its results (entered-in-error results are ignored). */
export function pathologyFindings(report: DiagnosticReport, results: Observation[]): PathologyFindings {
  const v: Partial<Record<FindingKey, string>> = {};
  let morphologyCode: string | undefined;
  for (const obs of results) {
    if (obs.status === 'entered-in-error') continue;
    const key = findingKey(obs.code);
    const value = formatValue(obs);
    if (key && value && v[key] === undefined) v[key] = value;
    const morph = obs.valueCodeableConcept?.coding?.find((c) => ICDO3.test(c.system ?? '') && c.code?.includes('/'));
    if (morph && !morphologyCode) {
      morphologyCode = morph.code;
      v.histology ??= conceptText(obs.valueCodeableConcept);
    }
  }
  for (const cc of report.conclusionCode ?? []) {
    const morph = cc.coding?.find((c) => ICDO3.test(c.system ?? '') && c.code?.includes('/'));
    if (morph && !morphologyCode) {
      morphologyCode = morph.code;
      v.histology ??= conceptText(cc);
    }
  }
  const withPct = (status: string | undefined, pct: string | undefined): string | undefined => (status && pct ? `${status} (${pct})` : (status ?? pct));
  const tnm = [v.t, v.n, v.m].filter(Boolean).join(' ');
  const out: PathologyFindings = { malignant: !!morphologyCode && /\/[36]$/.test(morphologyCode) };
  const set = (k: keyof PathologyFindings, value: string | undefined): void => {
    if (value) (out as unknown as Record<string, string>)[k] = value;
  };
  set('histology', v.histology ?? (report.conclusion ? undefined : conceptText(report.conclusionCode?.[0])));
  set('morphologyCode', morphologyCode);
  set('site', v.site);
  set('grade', v.grade);
  set('er', withPct(v.er, v.erPct));
  set('pr', withPct(v.pr, v.prPct));
  set('her2', withPct(v.her2, v.her2Score));
  set('ki67', v.ki67);
  set('t', v.t);
  set('n', v.n);
  set('m', v.m);
  set('tnm', tnm || undefined);
  set('stage', v.stage);
  set('size', v.size);
  set('conclusion', report.conclusion);
  return out;
}

/** One line: "Infiltrating duct carcinoma, NOS; grade 2; ER Positive (90 %), PR Positive, HER2 Negative (1+); Ki-67 20 %; pT1c pNX cM0". */
export function pathologySummary(f: PathologyFindings): string {
  const parts: string[] = [];
  if (f.histology) parts.push(f.histology);
  if (f.grade) parts.push(/grade/i.test(f.grade) ? f.grade : `grade ${f.grade}`);
  const receptors = [f.er && `ER ${f.er}`, f.pr && `PR ${f.pr}`, f.her2 && `HER2 ${f.her2}`].filter(Boolean);
  if (receptors.length) parts.push(receptors.join(', '));
  if (f.ki67) parts.push(`Ki-67 ${f.ki67}`);
  if (f.tnm) parts.push(f.tnm);
  if (!parts.length && f.conclusion) parts.push(f.conclusion);
  return parts.join('; ');
}
