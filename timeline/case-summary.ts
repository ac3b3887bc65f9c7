import type { Condition, DiagnosticReport, DocumentReference, ImagingStudy, Observation, Procedure } from '@medplum/fhirtypes';
import type { Repository } from '../store/repository.ts';
import type { RequestContext } from '../store/request-context.ts';
import type { TimelineStore } from './projection.ts';
import type { TimelineDoc } from '../schema/timeline-event.ts';
import { searchPatient, reportsForStudies } from './lookups.ts';
import { labTrends, type LabPoint, type LabTrend } from './lab-trend.ts';
import { pathologyFindings, type PathologyFindings } from './pathology.ts';
import { reportKind } from './events.ts';
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

/** Builds the case summary of one patient. */
export async function caseSummary(
  deps: { repo: Repository; timeline: TimelineStore; clock?: () => Date },
  ctx: RequestContext,
  patient: string,
  options: { since?: Date; labCodes?: string[]; labUnits?: { code: string; unit: string }[]; letters?: number } = {},
): Promise<CaseSummary> {
  const { repo, timeline } = deps;
  const since = options.since ?? new Date((deps.clock?.() ?? new Date()).getTime() - 30 * DAY);
  const groups = options.labCodes?.length ? options.labCodes.map((c) => DEFAULT_KEY_LABS.find((g) => g.includes(c)) ?? [c]) : DEFAULT_KEY_LABS;
  const [conditions, reports, studies, letters, newSince, trends, procedures, tnmObservations] = await Promise.all([
    searchPatient<Condition>(repo, ctx, 'Condition', patient, {}, 200),
    searchPatient<DiagnosticReport>(repo, ctx, 'DiagnosticReport', patient, { _sort: '-date' }, 500),
    searchPatient<ImagingStudy>(repo, ctx, 'ImagingStudy', patient, { _sort: '-started' }, 200),
    searchPatient<DocumentReference>(repo, ctx, 'DocumentReference', patient, { _sort: '-date' }, 50),
    timeline.changedSince(ctx, patient, since, 50),
    labTrends(repo, ctx, patient, groups, options.labUnits),
    searchPatient<Procedure>(repo, ctx, 'Procedure', patient, { _sort: '-date' }, 100),
    searchPatient<Observation>(repo, ctx, 'Observation', patient, { code: TNM_CODES.map((c) => `http://loinc.org|${c}`).join(',') }, 200),
  ]);
  const pathology = reports.filter((r) => reportKind(r) === 'pathology' && eventStatus(r) !== 'entered-in-error' && eventStatus(r) !== 'cancelled');
  const latest = pathology[0];
  let latestPathology: PathologySummary | null = null;
  let earliestMalignant: Diagnosis | null = null;
  let keyFindings: PathologyFinding[] = [];
  let items: { report: DiagnosticReport; date: Date | null; items: ReportItems }[] = [];
  if (pathology.length) {
    const refs = pathology.flatMap((r) => (r.result ?? []).map((x) => x.reference ?? ''));
    const results = await repo.readMany(ctx, refs);
    const resultsOf = (r: DiagnosticReport): Observation[] => (r.result ?? []).map((x) => results.get(x.reference ?? '')).filter((o): o is Observation => o?.resourceType === 'Observation');
    const findings = (r: DiagnosticReport): PathologyFindings => pathologyFindings(r, resultsOf(r));
    if (latest) {
      const { malignant: _m, ...f } = findings(latest);
      latestPathology = { ...f, report: latest, date: reportDate(latest) };
    }
    keyFindings = findingsAcross(pathology.map((r) => ({ report: r, date: reportDate(r), findings: findings(r) })));
    items = pathology.map((r) => ({ report: r, date: reportDate(r), items: reportItems(r, resultsOf(r), reportDate(r)) }));
    for (const r of [...pathology].reverse()) {
      const f = findings(r);
      if (f.malignant && f.histology) {
        earliestMalignant = { display: f.histology, code: f.morphologyCode ?? null, date: reportDate(r), basis: 'pathology', reference: `DiagnosticReport/${r.id}` };
        break;
      }
    }
  }
  const studyReports = await reportsForStudies(repo, ctx, studies.map((s) => `ImagingStudy/${s.id}`));
  const imaging: ImagingSummary[] = [];
  for (const s of studies) {
    if (s.status === 'entered-in-error' || s.status === 'cancelled') continue;
    for (const m of new Set([...(s.modality ?? []), ...(s.series ?? []).map((x) => x.modality)].map((c) => c?.code).filter((c): c is string => !!c))) {
      if (imaging.some((i) => i.modality === m)) continue;
      const report = studyReports.get(`ImagingStudy/${s.id}`)?.[0];
      imaging.push({ modality: m, study: s, date: firstTime(s.started) ?? null, conclusion: report?.conclusion ?? conceptText(report?.conclusionCode?.[0]) ?? null, report: report ?? null });
    }
  }
  const primaryDiagnosis = primaryFromConditions(conditions) ?? earliestMalignant;
  const liveConditions = conditions.filter((c) => eventStatus(c) !== 'entered-in-error' && !c.verificationStatus?.coding?.some((x) => x.code === 'refuted')).map((c) => conditionItems(c, conditionDate(c) ?? null));
  const histology = latestOf('histology', [...items.map((r) => r.items.histology), ...liveConditions.map((c) => c.histology)]);
  const topography = latestOf('topography', [...items.map((r) => r.items.topography), ...liveConditions.map((c) => c.topography)]);
  const shown = trends.filter((t) => t.points.length > 0);
  return {
    primaryDiagnosis,
    latestPathology,
    pathologyFindings: keyFindings,
    imaging,
    labTrends: shown,
    biomarkers: MARKERS.map((m) => latestOf(m, items.map((r) => r.items.markers.get(m)))).filter((x): x is ReportedItem => !!x),
    histology,
    topography,
    tumourSize: latestOf('tumour size', items.map((r) => r.items.size)),
    tnm: tnmAcross([
      ...items.map((r) => ({ source: `DiagnosticReport/${r.report.id}`, report: r.report, date: r.date, tnm: r.items.tnm })),
      ...standaloneTnm(tnmObservations, new Set(reports.flatMap((r) => (r.result ?? []).map((x) => x.reference ?? '')))).map((x) => ({ ...x, report: null })),
    ], stageTableFor(topography?.latest.code ?? primaryDiagnosis?.code ?? undefined)),
    keyLabs: shown.map((t) => ({ code: t.code, name: t.name, unit: t.unit, latest: t.points.at(-1) ?? null, trend: t })),
    procedures: procedures.filter((p) => p.status !== 'entered-in-error' && p.status !== 'not-done').map(procedureSummary),
    recentLetters: letters.filter((d) => d.status === 'current').slice(0, options.letters ?? 5),
    since,
    newSince,
  };
}

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
  const live = conditions.filter((c) => eventStatus(c) !== 'entered-in-error' && !c.verificationStatus?.coding?.some((x) => x.code === 'refuted'));
  const when = (c: Condition): Date | undefined => firstTime(c.onsetDateTime, c.onsetPeriod?.start, c.recordedDate);
  const malignant = live.filter((c) => c.code?.coding?.some((x) => (x.system?.includes('icd-10') && MALIGNANT_ICD10.test(x.code ?? '')) || /icd-?o/i.test(x.system ?? '')));
  const pick = (malignant.length ? malignant : live).sort((a, b) => (when(a)?.getTime() ?? Infinity) - (when(b)?.getTime() ?? Infinity))[0];
  if (!pick) return null;
  return { display: conceptText(pick.code) ?? 'Diagnosis', code: pick.code?.coding?.[0]?.code ?? null, date: when(pick) ?? null, basis: 'condition', reference: `Condition/${pick.id}` };
}
