import type { DiagnosticReport } from '@medplum/fhirtypes';
import { DERIVED_STAGE_SYSTEM, deriveStageGroup, parseCategory, type StageTable } from './stage-group.ts';
import type { ReportTnm } from './tumour-findings.ts';

/**
 * TNM staging of a case from its pathology reports (and categories recorded outside them): per kind (pathological p, clinical c,
 * post-therapy yp / yc) the categories of the latest report stating them — T, N and M from that one
 * report, never combined across reports — with the stage group the report states, else the one
 * derived from T, N and M (AJCC 8th, breast and colorectal), else why it is not derivable. Earlier
 * reports whose categories differ follow, marked not current.
 */

export interface TnmStaging {
  /** "p", "c", "yp", "yc". */
  prefix: string;
  t: string | null;
  n: string | null;
  m: string | null;
  stageGroup: string | null;
  /** "reported" (stated by the report), "derived" (from T, N, M), "not derivable". */
  stageGroupBasis: 'reported' | 'derived' | 'not derivable';
  /** Why no group could be derived, or a note on the derivation. */
  stageGroupNote: string | null;
  /** The staging system of a derived group; for a reported one, as the report names it (else null). */
  stagingSystem: string | null;
  /** The TNM edition the report states ("8"), null when it states none. */
  edition: string | null;
  date: Date | null;
  /** The stating resource: the DiagnosticReport, or the first Observation of a staging recorded outside a report. */
  source: string;
  report: DiagnosticReport | null;
  /** False for an earlier report whose categories differ from the current ones of the same kind. */
  current: boolean;
}

/** The kind of staging a report's categories are ("p" when T or N is pathological). */
function kindOf(tnm: ReportTnm): string | null {
  const t = parseCategory(tnm.t);
  const n = parseCategory(tnm.n);
  const prefixes = [t?.prefix, n?.prefix].filter((p): p is string => p !== undefined);
  if (!prefixes.length) return tnm.stageGroup ? 'p' : null;
  return prefixes.find((p) => p.endsWith('p')) ?? prefixes[0] ?? null;
}

/** The staging of one report. */
export function stagingOf(tnm: ReportTnm, from: { source: string; report: DiagnosticReport | null; date: Date | null }, table: StageTable | undefined): TnmStaging | null {
  const prefix = kindOf(tnm);
  if (prefix === null) return null;
  const base = { prefix, t: tnm.t ?? null, n: tnm.n ?? null, m: tnm.m ?? null, edition: tnm.edition ?? null, ...from, current: true };
  if (tnm.stageGroup) {
    const stated = tnm.stageGroup.replace(/^stage\s+/i, '');
    const derived = !tnm.edition || tnm.edition === '8' ? deriveStageGroup(table, tnm.t, tnm.n, tnm.m) : undefined;
    const differs = derived && 'group' in derived && derived.group.toUpperCase() !== stated.toUpperCase();
    return { ...base, stageGroup: stated, stageGroupBasis: 'reported', stageGroupNote: differs ? `T, N and M give ${derived.group} by the AJCC 8th edition table` : null, stagingSystem: null };
  }
  if (tnm.edition && tnm.edition !== '8') {
    return { ...base, stageGroup: null, stageGroupBasis: 'not derivable', stageGroupNote: `the report stages by the ${tnm.edition}th edition; IDR holds the AJCC 8th edition tables only`, stagingSystem: null };
  }
  const r = deriveStageGroup(table, tnm.t, tnm.n, tnm.m);
  if ('notDerivable' in r) return { ...base, stageGroup: null, stageGroupBasis: 'not derivable', stageGroupNote: r.notDerivable, stagingSystem: null };
  return {
    ...base,
    stageGroup: r.group,
    stageGroupBasis: 'derived',
    stageGroupNote: tnm.edition ? null : 'the report states no TNM edition; derived with the AJCC 8th edition table',
    stagingSystem: table ? DERIVED_STAGE_SYSTEM[table] : null,
  };
}

/** Current staging per kind (p before c, then post-therapy), each followed by the differing earlier ones, newest first. */
export function tnmAcross(reports: { source: string; report: DiagnosticReport | null; date: Date | null; tnm: ReportTnm }[], table: StageTable | undefined): TnmStaging[] {
  const byKind = new Map<string, TnmStaging[]>();
  for (const r of [...reports].sort((a, b) => (b.date?.getTime() ?? -Infinity) - (a.date?.getTime() ?? -Infinity))) {
    const s = stagingOf(r.tnm, r, table);
    if (!s) continue;
    const list = byKind.get(s.prefix) ?? [];
    const same = (a: TnmStaging): boolean => a.t === s.t && a.n === s.n && a.m === s.m && a.stageGroup === s.stageGroup;
    if (!list.some(same)) list.push({ ...s, current: list.length === 0 });
    byKind.set(s.prefix, list);
  }
  const order = (p: string): number => ['p', 'c', 'yp', 'yc'].indexOf(p) + 1 || 9;
  return [...byKind.entries()].sort((a, b) => order(a[0]) - order(b[0])).flatMap(([, list]) => list);
}
