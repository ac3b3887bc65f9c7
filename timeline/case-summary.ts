import type { Condition, DiagnosticReport, DocumentReference, ImagingStudy, Observation, Procedure } from '@medplum/fhirtypes';
import type { Repository } from '../store/repository.ts';
import type { RequestContext } from '../store/request-context.ts';
import type { TimelineStore } from './projection.ts';
import type { TimelineDoc, TimelineEvent } from '../schema/timeline-event.ts';
import { reportsByStudy, storeReads, type PatientReads } from './lookups.ts';
import { labTrends, type LabPoint, type LabTrend } from './lab-trend.ts';
import { pathologyFindings, type PathologyFindings } from './pathology.ts';
import { PATHOLOGY_CODES, reportKind } from './events.ts';
import { conceptText, eventStatus, firstTime } from './format.ts';
import { conditionItems, latestOf, MARKERS, reportItems, standaloneTnm, TNM_CODES, type ReportedItem, type ReportItems } from './tumour-findings.ts';
import { tnmAcross, type TnmStaging } from './tnm-summary.ts';
import { stageTableFor } from './stage-group.ts';

/**
 * The tumour-board case summary: primary diagnosis, latest pathology with its key findings,
 * latest study per imaging modality with its report conclusion, key lab trends, recent letters
 * and what is new since a date. Every part is one or two queries, none per item.
 *
 * The tumour items — markers (ER, PR, HER2 IHC / ISH, Ki-67, MSI, MMR, grade), histology and
 * topography (ICD-O-3), tumour size, TNM with its stage group — each come from the newest report
 * stating them, with every report's value where two disagree (see tumour-findings.ts,
 * tnm-summary.ts); docs/mcode.md maps them to mCODE.
 */

/** Default key labs (LOINC); codes on one line are the same analyte in other units or methods. */
export const DEFAULT_KEY_LABS: string[][] = [['59260-0', '718-7'], ['6690-2', '26464-8'], ['777-3', '26515-7'], ['14682-9', '2160-0'], ['2039-6'], ['6875-9']];

export interface Diagnosis { display: string; code: string | null; date: Date | null; basis: 'condition' | 'pathology'; reference: string }
export interface PathologySummary extends Omit<PathologyFindings, 'malignant'> { report: DiagnosticReport; date: Date | null }
export interface ImagingSummary { modality: string; study: ImagingStudy; date: Date | null; conclusion: string | null; report: DiagnosticReport | null }
/** A key lab in the unit asked for, with its latest result. */
export interface KeyLab { code: string; name: string | null; unit: string | null; latest: LabPoint | null; trend: LabTrend }
/** A procedure (surgery) of the patient. */
export interface ProcedureSummary { display: string; code: string | null; date: Date | null; status: string; bodySite: string | null; reference: string; procedure: Procedure }
/** One value of a pathology finding with the report that states it. */
export interface FindingValue { value: string; date: Date | null; report: DiagnosticReport }
/**
 * A key pathology finding (receptor status, Ki-67, grade, TNM...) from the latest report that
 * states it — a resection often does not repeat the biopsy's receptors — with the differing
 * values of earlier reports, so a board sees where two reports disagree.
 */
export interface PathologyFinding extends FindingValue { item: string; otherValues: FindingValue[] }
export interface CaseSummary {
  primaryDiagnosis: Diagnosis | null;
  latestPathology: PathologySummary | null;
  pathologyFindings: PathologyFinding[];
  imaging: ImagingSummary[];
  labTrends: LabTrend[];
  biomarkers: ReportedItem[];
  histology: ReportedItem | null;
  topography: ReportedItem | null;
  tumourSize: ReportedItem | null;
  tnm: TnmStaging[];
  keyLabs: KeyLab[];
  procedures: ProcedureSummary[];
  recentLetters: DocumentReference[];
  since: Date;
  newSince: TimelineDoc[];
}

const DAY = 86_400_000;
const MALIGNANT_ICD10 = /^(C\d|D0\d)/;

/** Each part of a case summary, computed when first asked for; parts that need the same data share its queries. */
export type CaseSummaryParts = { [K in Exclude<keyof CaseSummary, 'newSince'>]: () => Promise<CaseSummary[K]> } & {
  /** With `fields`, only those fields of the events are read (TimelineStore.page). */
  newSince: (fields?: readonly (keyof TimelineEvent)[]) => Promise<TimelineDoc[]>;
};

export interface CaseSummaryOptions { since?: Date; labCodes?: string[]; labUnits?: { code: string; unit: string }[]; letters?: number }
/** `cache: false` reads the store for every part (the kept reads are for views read again and again). */
type Deps = { repo: Repository; timeline: TimelineStore; clock?: () => Date; cache?: boolean };

/** Builds the whole case summary of one patient. */
export async function caseSummary(deps: Deps, ctx: RequestContext, patient: string, options: CaseSummaryOptions = {}): Promise<CaseSummary> {
  const parts = caseSummaryParts(deps, ctx, patient, options);
  const names = Object.keys(parts) as (keyof CaseSummary)[];
  const values = await Promise.all(names.map((k) => parts[k]()));
  return Object.fromEntries(names.map((k, i) => [k, values[i]])) as unknown as CaseSummary;
}

/**
 * The case summary as parts computed on demand: a view asking for the diagnosis and latest
 * pathology runs the Condition and pathology-report queries only, not the lab trends, imaging,
 * letters or recent changes.
 */
export function caseSummaryParts(deps: Deps, ctx: RequestContext, patient: string, options: CaseSummaryOptions = {}): CaseSummaryParts {
  const { repo, timeline } = deps;
  // What the parts read is kept per patient until the record changes (timeline/summary-cache.ts).
  const reads = deps.cache === false ? storeReads(repo, ctx, patient) : timeline.summaryReads.patientReads(repo, ctx, patient);
  const since = options.since ?? new Date((deps.clock?.() ?? new Date()).getTime() - 30 * DAY);
  const groups = options.labCodes?.length ? options.labCodes.map((c) => DEFAULT_KEY_LABS.find((g) => g.includes(c)) ?? [c]) : DEFAULT_KEY_LABS;
  const conditions = once(() => reads.search<Condition>('Condition', {}, 200));
  const liveConditions = once(async () => (await conditions()).filter(isLive).map((c) => conditionItems(c, conditionDate(c) ?? null)));
  const pathology = once(() => pathologyParts(reads));
  const trends = once(async () => (await labTrends(reads, groups, options.labUnits)).filter((t) => t.points.length > 0));
  const imaging = once(() => imagingParts(reads));
  const items = async (): Promise<PathologyItems[]> => (await pathology()).items;
  const histology = once(async () => latestOf('histology', [...(await items()).map((r) => r.items.histology), ...(await liveConditions()).map((c) => c.histology)]));
  const topography = once(async () => latestOf('topography', [...(await items()).map((r) => r.items.topography), ...(await liveConditions()).map((c) => c.topography)]));
  const primaryDiagnosis = once(async () => primaryFromConditions(await conditions()) ?? (await pathology()).earliestMalignant);
  return {
    primaryDiagnosis,
    latestPathology: async () => (await pathology()).latest,
    pathologyFindings: async () => (await pathology()).findings,
    imaging,
    labTrends: trends,
    biomarkers: async () => {
      const reports = await items();
      return MARKERS.map((m) => latestOf(m, reports.map((r) => r.items.markers.get(m)))).filter((x): x is ReportedItem => !!x);
    },
    histology,
    topography,
    tumourSize: async () => latestOf('tumour size', (await items()).map((r) => r.items.size)),
    tnm: async () => {
      const [reports, standalone, top, primary] = await Promise.all([items(), standaloneStaging(reads), topography(), primaryDiagnosis()]);
      return tnmAcross([
        ...reports.map((r) => ({ source: `DiagnosticReport/${r.report.id}`, report: r.report, date: r.date, tnm: r.items.tnm })),
        ...standalone.map((x) => ({ ...x, report: null })),
      ], stageTableFor(top?.latest.code ?? primary?.code ?? undefined));
    },
    keyLabs: async () => (await trends()).map((t) => ({ code: t.code, name: t.name, unit: t.unit, latest: t.points.at(-1) ?? null, trend: t })),
    procedures: async () => {
      const found = await reads.search<Procedure>('Procedure', { _sort: '-date' }, 100);
      return found.filter((p) => p.status !== 'entered-in-error' && p.status !== 'not-done').map(procedureSummary);
    },
    recentLetters: async () => {
      const letters = await reads.search<DocumentReference>('DocumentReference', { _sort: '-date' }, 50);
      return letters.filter((d) => d.status === 'current').slice(0, options.letters ?? 5);
    },
    since: () => Promise.resolve(since),
    newSince: (fields?: readonly (keyof TimelineEvent)[]) => timeline.changedSince(ctx, patient, since, 50, fields),
  };
}

/** A function that runs `fn` on its first call and answers every call with that one promise. */
function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | undefined;
  return () => (running ??= fn());
}

interface PathologyItems { report: DiagnosticReport; date: Date | null; items: ReportItems }
interface PathologyParts { latest: PathologySummary | null; findings: PathologyFinding[]; items: PathologyItems[]; earliestMalignant: Diagnosis | null }

/**
 * The pathology reports of the patient, newest first, with their results read in one query. Only
 * the reports a pathology category or code marks are read, not every report.
 */
async function pathologyParts(reads: PatientReads): Promise<PathologyParts> {
  const marked = await reads.reportsMarkedBy(PATHOLOGY_CODES);
  const pathology = marked
    .filter((r) => reportKind(r) === 'pathology' && eventStatus(r) !== 'entered-in-error' && eventStatus(r) !== 'cancelled')
    .sort((a, b) => (reportDate(b)?.getTime() ?? -Infinity) - (reportDate(a)?.getTime() ?? -Infinity));
  if (!pathology.length) return { latest: null, findings: [], items: [], earliestMalignant: null };
  const results = await reads.readMany(pathology.flatMap((r) => (r.result ?? []).map((x) => x.reference ?? '')));
  const resultsOf = (r: DiagnosticReport): Observation[] => (r.result ?? []).map((x) => results.get(x.reference ?? '')).filter((o): o is Observation => o?.resourceType === 'Observation');
  const read = pathology.map((r) => ({ report: r, date: reportDate(r), results: resultsOf(r) }));
  const stated = read.map((r) => ({ ...r, findings: pathologyFindings(r.report, r.results) }));
  const [newest] = stated;
  let latest: PathologySummary | null = null;
  if (newest) {
    const { malignant: _m, ...f } = newest.findings;
    latest = { ...f, report: newest.report, date: newest.date };
  }
  const first = [...stated].reverse().find((r) => r.findings.malignant && r.findings.histology);
  return {
    latest,
    findings: findingsAcross(stated),
    items: read.map((r) => ({ report: r.report, date: r.date, items: reportItems(r.report, r.results, r.date) })),
    earliestMalignant: first?.findings.histology
      ? { display: first.findings.histology, code: first.findings.morphologyCode ?? null, date: first.date, basis: 'pathology', reference: `DiagnosticReport/${first.report.id}` }
      : null,
  };
}

/** The latest study per modality, with its report's conclusion. */
async function imagingParts(reads: PatientReads): Promise<ImagingSummary[]> {
  const studies = await reads.search<ImagingStudy>('ImagingStudy', { _sort: '-started' }, 200);
  const refs = studies.map((s) => `ImagingStudy/${s.id}`);
  const studyReports = reportsByStudy(refs, await reads.reportsLinkedTo(refs));
  const imaging: ImagingSummary[] = [];
  for (const s of studies) {
    if (s.status === 'entered-in-error' || s.status === 'cancelled') continue;
    for (const m of new Set([...(s.modality ?? []), ...(s.series ?? []).map((x) => x.modality)].map((c) => c?.code).filter((c): c is string => !!c))) {
      if (imaging.some((i) => i.modality === m)) continue;
      const report = studyReports.get(`ImagingStudy/${s.id}`)?.[0];
      imaging.push({ modality: m, study: s, date: firstTime(s.started) ?? null, conclusion: report?.conclusion ?? conceptText(report?.conclusionCode?.[0]) ?? null, report: report ?? null });
    }
  }
  return imaging;
}

/** TNM recorded as Observations that no report lists among its results (an MDT's clinical staging). */
async function standaloneStaging(reads: PatientReads): Promise<ReturnType<typeof standaloneTnm>> {
  const observations = await reads.search<Observation>('Observation', { code: TNM_CODES.map((c) => `http://loinc.org|${c}`).join(',') }, 200);
  if (!observations.length) return [];
  const refs = observations.map((o) => `Observation/${o.id}`);
  const reports = await reads.search<DiagnosticReport>('DiagnosticReport', { result: refs.join(',') }, 500);
  return standaloneTnm(observations, new Set(reports.flatMap((r) => (r.result ?? []).map((x) => x.reference ?? ''))));
}

const isLive = (c: Condition): boolean => eventStatus(c) !== 'entered-in-error' && !c.verificationStatus?.coding?.some((x) => x.code === 'refuted');

/** The findings a board looks for, in the order it reads them, with their display names. */
const KEY_FINDINGS: [keyof PathologyFindings, string][] = [
  ['histology', 'histology'], ['grade', 'grade'], ['er', 'ER'], ['pr', 'PR'], ['her2', 'HER2'], ['ki67', 'Ki-67'],
  ['tnm', 'TNM'], ['stage', 'stage'], ['size', 'tumour size'], ['site', 'site'],
];

/** Each key finding from the newest report stating it, with the other reports' differing values (reports newest first). */
export function findingsAcross(reports: { report: DiagnosticReport; date: Date | null; findings: PathologyFindings }[]): PathologyFinding[] {
  const out: PathologyFinding[] = [];
  for (const [key, item] of KEY_FINDINGS) {
    const stated = reports.filter((r) => typeof r.findings[key] === 'string' && r.findings[key] !== '');
    const [latest, ...earlier] = stated;
    if (!latest) continue;
    const value = latest.findings[key] as string;
    const otherValues = earlier.filter((r) => r.findings[key] !== value).map((r) => ({ value: r.findings[key] as string, date: r.date, report: r.report }));
    out.push({ item, value, date: latest.date, report: latest.report, otherValues });
  }
  return out;
}

function conditionDate(c: Condition): Date | undefined {
  return firstTime(c.onsetDateTime, c.onsetPeriod?.start, c.recordedDate);
}

function procedureSummary(p: Procedure): ProcedureSummary {
  return {
    display: conceptText(p.code) ?? 'Procedure',
    code: p.code?.coding?.[0]?.code ?? null,
    date: firstTime(p.performedDateTime, p.performedPeriod?.start, p.performedString) ?? null,
    status: p.status,
    bodySite: p.bodySite?.map((b) => conceptText(b)).filter(Boolean).join(', ') || null,
    reference: `Procedure/${p.id}`,
    procedure: p,
  };
}

function reportDate(r: DiagnosticReport): Date | null {
  return firstTime(r.effectiveDateTime, r.effectivePeriod?.start, r.issued) ?? null;
}

/** The earliest confirmed malignant Condition (ICD-10 C/D0 or an ICD-O-3 code), else the earliest active one. */
function primaryFromConditions(conditions: Condition[]): Diagnosis | null {
  const live = conditions.filter(isLive);
  const malignant = live.filter((c) => c.code?.coding?.some((x) => (x.system?.includes('icd-10') && MALIGNANT_ICD10.test(x.code ?? '')) || /icd-?o/i.test(x.system ?? '')));
  const pick = (malignant.length ? malignant : live).sort((a, b) => (conditionDate(a)?.getTime() ?? Infinity) - (conditionDate(b)?.getTime() ?? Infinity))[0];
  if (!pick) return null;
  return { display: conceptText(pick.code) ?? 'Diagnosis', code: pick.code?.coding?.[0]?.code ?? null, date: conditionDate(pick) ?? null, basis: 'condition', reference: `Condition/${pick.id}` };
}
