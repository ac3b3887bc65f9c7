import type { CodeableConcept, Condition, DiagnosticReport, Observation } from '@medplum/fhirtypes';
import { findingKey, type FindingKey } from './pathology.ts';
import { conceptText, formatNumber, formatValue, loincCode } from './format.ts';
import { convertUcum } from './lab-trend.ts';
import { parseCategory } from './stage-group.ts';

/**
 * The items a tumour board reads from pathology reports — tumour markers (ER, PR, HER2 by IHC
 * and ISH, Ki-67, MSI, MMR, grade), histology and topography (ICD-O-3), tumour size and the TNM
 * categories — each value with the report (or Condition) that states it. Pure functions over
 * already-read resources.
 */

/** The tumour markers of a case summary, in reading order. */
export const MARKERS = ['ER', 'PR', 'HER2 IHC', 'HER2 ISH', 'HER2', 'Ki-67', 'MSI', 'MMR', 'grade'] as const;
export type Marker = (typeof MARKERS)[number];

/** One stated value with where it comes from. */
export interface ReportedValue {
  /** As stated: "Positive (90 %)", "Score 1+", "15 %", "Nottingham grade 2", "8500/3 Infiltrating duct carcinoma". */
  value: string;
  /** The coded answer, when coded: "LA6576-8", "1+", "MSI-H", "8500/3", "C50.4". */
  code: string | null;
  system: string | null;
  display: string | null;
  /** A numeric value in `unit` (Ki-67 %, tumour size mm). */
  quantity: number | null;
  unit: string | null;
  /** Normalised reading: positive / negative / equivocal / low positive, 0…3+, MSI-H / MSS, dMMR / pMMR, grade 1…3. */
  interpretation: string | null;
  date: Date | null;
  /** The stating resource: "DiagnosticReport/…" or "Condition/…". */
  source: string;
  report: DiagnosticReport | null;
  /** The Observations the value was read from. */
  observations: string[];
  /** What two values are compared by. */
  key: string;
}

/** An item from the newest source stating it, with every source's value (newest first) and whether they disagree. */
export interface ReportedItem { item: string; latest: ReportedValue; values: ReportedValue[]; conflicting: boolean }

/** The T, N and M categories and stated stage group of one report. */
export interface ReportTnm { t?: string; n?: string; m?: string; stageGroup?: string; edition?: string }

/** What one pathology report states. */
export interface ReportItems {
  markers: Map<Marker, ReportedValue>;
  histology?: ReportedValue;
  topography?: ReportedValue;
  size?: ReportedValue;
  tnm: ReportTnm;
}

const MARKER_LOINC: Record<string, Marker> = {
  '16112-5': 'ER', '85337-4': 'ER', '16113-3': 'PR', '85339-0': 'PR',
  '18474-7': 'HER2 IHC', '85319-2': 'HER2 IHC', '85318-4': 'HER2 ISH', '31150-6': 'HER2 ISH', '48676-1': 'HER2',
  '29593-1': 'Ki-67', '85330-9': 'Ki-67', '81695-9': 'MSI',
};
const MARKER_TEXT: [RegExp, Marker][] = [
  [/her-?2.*\b(ish|fish|sish|cish|ddish|in situ)\b/i, 'HER2 ISH'],
  [/microsatellit|\bmsi\b/i, 'MSI'],
  [/mismatch.?repair|\bmmr\b/i, 'MMR'],
];
const FROM_FINDING: Partial<Record<FindingKey, [Marker, 'status' | 'percent']>> = {
  er: ['ER', 'status'], erPct: ['ER', 'percent'], pr: ['PR', 'status'], prPct: ['PR', 'percent'],
  her2: ['HER2', 'status'], her2Score: ['HER2 IHC', 'status'], ki67: ['Ki-67', 'percent'], grade: ['grade', 'status'],
};
const TNM_LOINC: Record<string, [keyof ReportTnm, 'p' | 'c']> = {
  '21899-0': ['t', 'p'], '21900-6': ['n', 'p'], '21901-4': ['m', 'p'], '21902-2': ['stageGroup', 'p'],
  '21905-5': ['t', 'c'], '21906-3': ['n', 'c'], '21907-1': ['m', 'c'], '21908-9': ['stageGroup', 'c'],
};
const TNM_FINDING: Partial<Record<FindingKey, keyof ReportTnm>> = { t: 't', n: 'n', m: 'm', stage: 'stageGroup' };
const HISTOLOGY_LOINC = new Set(['59847-4', '31205-8']);
const SITE_LOINC = new Set(['21855-2', '21854-5']);
const SIZE_LOINC = new Set(['33728-7', '21889-1']);
const ICDO3 = /icd-?o-?3/i;
const POSITIVE = new Set(['LA6576-8', 'POS']);
const NEGATIVE = new Set(['LA6577-6', 'NEG']);

/** The marker an Observation states and whether it is the status or a percentage. */
function markerOf(code: CodeableConcept): [Marker, 'status' | 'percent'] | undefined {
  const loinc = loincCode(code);
  if (loinc && MARKER_LOINC[loinc]) return [MARKER_LOINC[loinc], MARKER_LOINC[loinc] === 'Ki-67' ? 'percent' : 'status'];
  const text = `${conceptText(code) ?? ''} ${(code.coding ?? []).map((c) => c.display ?? '').join(' ')}`;
  const byText = MARKER_TEXT.find(([re]) => re.test(text))?.[1];
  if (byText) return [byText, 'status'];
  const key = findingKey(code);
  return key ? FROM_FINDING[key] : undefined;
}

/** Normalised reading of a marker value. */
export function interpret(marker: Marker | 'size', code: string | null, text: string): string | null {
  const t = `${code ?? ''} ${text}`.toLowerCase();
  switch (marker) {
    case 'HER2 IHC': {
      const score = /(?:^|[^\d])([0-3])\s*\+|\bscore\s*([0-3])\b|^\s*([0-3])\b/.exec(t);
      const s = score?.[1] ?? score?.[2] ?? score?.[3];
      if (s) return s === '0' ? '0' : `${s}+`;
      break;
    }
    case 'MSI':
      if (/msi-?h|instab|high/.test(t)) return 'MSI-H';
      if (/msi-?l|low/.test(t)) return 'MSI-L';
      if (/mss|stab/.test(t)) return 'MSS';
      return null;
    case 'MMR':
      if (/dmmr|deficien|loss|verlies/.test(t)) return 'dMMR';
      if (/pmmr|proficien|intact|retained|behouden/.test(t)) return 'pMMR';
      return null;
    case 'grade': {
      const g = /LA2782([3-5])/i.exec(code ?? '');
      if (g) return `grade ${Number(g[1]) - 2}`;
      const m = /(?:grade|graad|\bg)\s*([1-4])\b|^\s*([1-4])\s*$/i.exec(text);
      return m ? `grade ${m[1] ?? m[2]}` : /low|laag/.test(t) ? 'low grade' : /high|hoog/.test(t) ? 'high grade' : null;
    }
    case 'Ki-67': case 'size':
      return null;
  }
  if (code && POSITIVE.has(code)) return 'positive';
  if (code && NEGATIVE.has(code)) return 'negative';
  if (/low positive|laag positief|weakly positive/.test(t)) return 'low positive';
  if (/equivocal|twijfel|borderline|onduidelijk/.test(t)) return 'equivocal';
  if (/not amplified|niet geamplificeerd|negati/.test(t)) return 'negative';
  if (/amplified|geamplificeerd|positi/.test(t)) return 'positive';
  return null;
}

function codedOf(obs: Observation): { code: string | null; system: string | null; display: string | null } {
  const c = obs.valueCodeableConcept?.coding?.[0];
  return { code: c?.code ?? null, system: c?.system ?? null, display: conceptText(obs.valueCodeableConcept) ?? null };
}

function baseValue(value: string, report: DiagnosticReport, date: Date | null, observations: string[]): ReportedValue {
  return { value, code: null, system: null, display: null, quantity: null, unit: null, interpretation: null, date, source: `DiagnosticReport/${report.id}`, report, observations, key: value.toLowerCase() };
}

function percentOf(obs: Observation): number | null {
  const q = obs.valueQuantity;
  if (q?.value === undefined) return null;
  return q.code === '%' || q.unit === '%' || !q.unit ? q.value : null;
}

/** The items one pathology report states, read from its results (entered-in-error ones ignored) and its conclusion. */
export function reportItems(report: DiagnosticReport, results: Observation[], date: Date | null): ReportItems {
  const out: ReportItems = { markers: new Map(), tnm: {} };
  const ref = (o: Observation): string => `Observation/${o.id}`;
  for (const obs of results) {
    if (obs.status === 'entered-in-error' || obs.status === 'cancelled') continue;
    const loinc = loincCode(obs.code);
    const text = formatValue(obs);
    const coded = codedOf(obs);
    const icdo = obs.valueCodeableConcept?.coding?.find((c) => ICDO3.test(c.system ?? ''));
    if ((loinc && HISTOLOGY_LOINC.has(loinc)) || (icdo?.code?.includes('/') && !out.histology)) {
      if (icdo?.code || text) out.histology ??= icdoValue(report, date, [ref(obs)], icdo?.code, icdo?.system, conceptText(obs.valueCodeableConcept) ?? text);
      continue;
    }
    if ((loinc && SITE_LOINC.has(loinc)) || findingKey(obs.code) === 'site') {
      out.topography ??= icdoValue(report, date, [ref(obs)], icdo?.code, icdo?.system, conceptText(obs.valueCodeableConcept) ?? text);
      continue;
    }
    if ((loinc && SIZE_LOINC.has(loinc)) || findingKey(obs.code) === 'size') {
      const q = obs.valueQuantity;
      const mm = q?.value !== undefined ? convertUcum(q.value, q.code ?? q.unit ?? 'mm', 'mm') : null;
      out.size ??= { ...baseValue(text, report, date, [ref(obs)]), quantity: mm, unit: mm === null ? null : 'mm', key: mm === null ? text.toLowerCase() : `${mm} mm` };
      continue;
    }
    if (addTnm(out.tnm, obs)) continue;
    const marker = markerOf(obs.code);
    if (!marker || !text) continue;
    const [name, part] = marker;
    const prior = out.markers.get(name);
    const pct = part === 'percent' ? (percentOf(obs) ?? null) : null;
    if (!prior) {
      const interpretation = interpret(name, coded.code, text);
      const key = pct !== null ? `${interpretation ?? ''}|${pct}` : (interpretation ?? text.toLowerCase());
      out.markers.set(name, { ...baseValue(text, report, date, [ref(obs)]), ...coded, quantity: pct, unit: pct === null ? null : '%', interpretation, key });
    } else if (part === 'percent' && prior.quantity === null && pct !== null) {
      prior.value = `${prior.value} (${formatNumber(pct)} %)`;
      prior.quantity = pct;
      prior.unit = '%';
      prior.key = `${prior.interpretation ?? prior.key}|${pct}`;
      prior.observations.push(ref(obs));
    } else if (part === 'status' && prior.interpretation === null) {
      // a percentage came first: the status leads
      const interpretation = interpret(name, coded.code, text);
      prior.value = `${text}${prior.quantity !== null ? ` (${formatNumber(prior.quantity)} %)` : ''}`;
      Object.assign(prior, coded, { interpretation, key: `${interpretation ?? text.toLowerCase()}|${prior.quantity ?? ''}` });
      prior.observations.push(ref(obs));
    }
  }
  for (const cc of report.conclusionCode ?? []) {
    const icdo = cc.coding?.find((c) => ICDO3.test(c.system ?? '') && c.code);
    if (!icdo?.code) continue;
    if (icdo.code.includes('/')) out.histology ??= icdoValue(report, date, [], icdo.code, icdo.system, conceptText(cc) ?? icdo.code);
    else if (/^C\d\d/i.test(icdo.code)) out.topography ??= icdoValue(report, date, [], icdo.code, icdo.system, conceptText(cc) ?? icdo.code);
  }
  const edition = editionIn(report.conclusion);
  if (edition && Object.keys(out.tnm).length) out.tnm.edition ??= edition;
  return out;
}

/** The TNM edition a text states: "TNM (8e editie)", "AJCC 8th edition" → "8". */
function editionIn(text: string | undefined): string | undefined {
  return /\b(\d{1,2})\s*(?:e|de|ste|th|st|nd|rd)?\.?\s*(?:editie|edition|ed\.)/i.exec(text ?? '')?.[1];
}

/** Adds the T, N or M category or stage group an Observation states to `tnm` (the first of each wins); false when it states none. */
function addTnm(tnm: ReportTnm, obs: Observation): boolean {
  const loinc = loincCode(obs.code);
  const byLoinc = loinc ? TNM_LOINC[loinc] : undefined;
  const finding = findingKey(obs.code);
  const key = byLoinc?.[0] ?? (finding ? TNM_FINDING[finding] : undefined);
  if (!key) return false;
  const v = obs.valueCodeableConcept?.coding?.[0]?.code ?? obs.valueString ?? formatValue(obs);
  if (v && tnm[key] === undefined) tnm[key] = key !== 'stageGroup' && byLoinc ? withPrefix(v, byLoinc[1], key.toUpperCase()) : v;
  const edition = editionIn(conceptText(obs.method));
  if (edition) tnm.edition ??= edition;
  return true;
}

/** A category as sent with the prefix its LOINC code implies when it has none: "T2" or "2" under 21905-5 → "cT2". */
function withPrefix(v: string, prefix: 'p' | 'c', letter: string): string {
  const parsed = parseCategory(v);
  if (parsed) return parsed.prefix ? v : `${prefix}${v.trim()}`;
  return parseCategory(`${letter}${v}`) ? `${prefix}${letter}${v.trim()}` : v;
}

/** The LOINC codes of TNM categories and stage groups (pathological and clinical). */
export const TNM_CODES: readonly string[] = Object.keys(TNM_LOINC);

/**
 * TNM categories recorded outside a pathology report (an MDT's clinical staging): one staging per
 * effective time, from the Observations not among `reported` ("Observation/id" of report results).
 */
export function standaloneTnm(observations: Observation[], reported: ReadonlySet<string>): { source: string; date: Date | null; tnm: ReportTnm }[] {
  const groups = new Map<string, { source: string; date: Date | null; tnm: ReportTnm }>();
  for (const obs of observations) {
    if (obs.status === 'entered-in-error' || obs.status === 'cancelled' || reported.has(`Observation/${obs.id}`)) continue;
    const when = obs.effectiveDateTime ?? obs.effectivePeriod?.start ?? obs.issued ?? '';
    const group = groups.get(when) ?? { source: `Observation/${obs.id}`, date: when ? new Date(when) : null, tnm: {} };
    if (addTnm(group.tnm, obs)) groups.set(when, group);
  }
  return [...groups.values()];
}

function icdoValue(report: DiagnosticReport, date: Date | null, observations: string[], code: string | undefined, system: string | undefined, display: string): ReportedValue {
  return {
    ...baseValue(code ? `${code} ${display}` : display, report, date, observations),
    code: code ?? null, system: system ?? null, display, key: (code ?? display).toLowerCase(),
  };
}

/** Histology and topography stated by Conditions (code / bodySite coded in ICD-O-3). */
export function conditionItems(c: Condition, date: Date | null): { histology?: ReportedValue; topography?: ReportedValue } {
  const from = (cc: CodeableConcept | undefined, morphology: boolean): ReportedValue | undefined => {
    const coding = cc?.coding?.find((x) => ICDO3.test(x.system ?? '') && x.code && x.code.includes('/') === morphology);
    if (!coding?.code) return undefined;
    const display = conceptText(cc) ?? coding.code;
    return { value: `${coding.code} ${display}`, code: coding.code, system: coding.system ?? null, display, quantity: null, unit: null, interpretation: null, date, source: `Condition/${c.id}`, report: null, observations: [], key: coding.code.toLowerCase() };
  };
  const histology = from(c.code, true);
  const topography = (c.bodySite ?? []).map((b) => from(b, false)).find(Boolean);
  return { ...(histology ? { histology } : {}), ...(topography ? { topography } : {}) };
}

/** Folds the values of one item (any order) into the newest value, all values newest first, and whether they disagree. */
export function latestOf(item: string, values: (ReportedValue | undefined)[]): ReportedItem | null {
  const stated = values.filter((v): v is ReportedValue => !!v).sort((a, b) => (b.date?.getTime() ?? -Infinity) - (a.date?.getTime() ?? -Infinity));
  const latest = stated[0];
  if (!latest) return null;
  return { item, latest, values: stated, conflicting: new Set(stated.map((v) => v.key)).size > 1 };
}
