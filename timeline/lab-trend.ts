import { createRequire } from 'node:module';
import type { Observation, Quantity } from '@medplum/fhirtypes';
import type { Repository } from '../store/repository.ts';
import type { RequestContext } from '../store/request-context.ts';
import { storeReads, type PatientReads } from './lookups.ts';
import { molarMassOf } from './molar-mass.ts';
import { firstTime, formatValue, isAbnormalFlag, observationFlag, shortName } from './format.ts';
import { badRequest } from '@medplum/core';
import { fail } from '../schema/outcomes.ts';

/**
 * Lab trends: the results of one analyte over time, values and reference ranges converted to one
 * UCUM unit where UCUM allows (e.g. mmol/L <-> umol/L, g/L <-> g/dL, 10*9/L <-> 10*3/uL), and
 * between substance and mass concentration where the analyte's molar mass is known
 * (Hb mmol/L <-> g/dL, creatinine umol/L <-> mg/dL; see molar-mass.ts).
 */

export interface LabPoint {
  time: Date;
  value: number | null;
  unit: string | null;
  originalValue: number | null;
  originalUnit: string | null;
  comparator: string | null;
  text: string;
  referenceLow: number | null;
  referenceHigh: number | null;
  referenceText: string | null;
  flag: string | null;
  abnormal: boolean;
  status: string;
  reference: string;
}

export interface LabTrend {
  code: string;
  name: string | null;
  unit: string | null;
  points: LabPoint[];
}

interface UcumUtils {
  convertUnitTo(from: string, value: number, to: string, options?: { molecularWeight?: number }): { status: string; toVal?: number };
}
// @lhncbc/ucum-lhc is CommonJS without type declarations: load it with require and type what is used.
const ucum = (createRequire(import.meta.url)('@lhncbc/ucum-lhc') as { UcumLhcUtils: { getInstance(): UcumUtils } }).UcumLhcUtils.getInstance();

/**
 * Converts a value between UCUM units; null when UCUM cannot (different dimensions, not UCUM).
 * With `molarMass` (g/mol), also between substance and mass concentrations.
 */
export function convertUcum(value: number, from: string, to: string, molarMass?: number): number | null {
  if (from === to) return value;
  try {
    const r = ucum.convertUnitTo(from, value, to, molarMass ? { molecularWeight: molarMass } : undefined);
    return r.status === 'succeeded' && typeof r.toVal === 'number' ? Number.parseFloat(r.toVal.toPrecision(10)) : null;
  } catch {
    return null;
  }
}

function unitOf(q: Quantity | undefined): string | null {
  return q?.code ?? q?.unit ?? null;
}

/** The trend of the analytes with any of `codes` ("code" or "system|code"), oldest first. */
export async function labTrend(repo: Repository, ctx: RequestContext, patient: string, options: { codes: string[]; from?: Date; to?: Date; unit?: string }): Promise<LabTrend> {
  if (!options.codes.length || options.codes.some((c) => !c.trim() || c.includes(','))) fail(badRequest('code: give one code ("718-7" or "http://loinc.org|718-7")', 'code'));
  if (options.from && options.to && options.from > options.to) fail(badRequest('from is after to', 'from'));
  return buildTrend(await fetchResults(storeReads(repo, ctx, patient), options.codes, options.from), options);
}

/** Several trends (one per group of equivalent codes) from one query; `units` names the UCUM unit of a group by any of its codes. */
export async function labTrends(reads: PatientReads, groups: string[][], units: { code: string; unit: string }[] = []): Promise<LabTrend[]> {
  const all = await fetchResults(reads, groups.flat());
  const matches = (o: Observation, codes: string[]): boolean => (o.code.coding ?? []).some((c) => codes.includes(c.code ?? '') || codes.includes(`${c.system}|${c.code}`));
  return groups.map((codes) => {
    const unit = units.find((u) => codes.includes(u.code))?.unit;
    return buildTrend(all.filter((o) => matches(o, codes)), { codes, ...(unit ? { unit } : {}) });
  });
}

async function fetchResults(reads: PatientReads, codes: string[], from?: Date): Promise<Observation[]> {
  const params: Record<string, string> = { code: codes.join(','), _sort: 'date', ...(from ? { date: `ge${from.toISOString()}` } : {}) };
  const found = await reads.search<Observation>('Observation', params, 1000);
  return found.filter((o) => o.status !== 'entered-in-error' && o.status !== 'cancelled');
}

/** Builds a trend from the results of one analyte (pure). */
export function buildTrend(results: Observation[], options: { codes: string[]; to?: Date; unit?: string }): LabTrend {
  const observations = results.filter((o) => !options.to || (timeOf(o) ?? new Date(0)) <= options.to);
  const latest = [...observations].sort((a, b) => (timeOf(a)?.getTime() ?? 0) - (timeOf(b)?.getTime() ?? 0)).reverse().find((o) => unitOf(o.valueQuantity));
  const target = options.unit ?? unitOf(latest?.valueQuantity);
  const molarMass = molarMassOf([...options.codes, ...observations.flatMap((o) => (o.code.coding ?? []).filter((c) => c.system === 'http://loinc.org').map((c) => c.code ?? ''))]);
  const conv = (q: Quantity | undefined): number | null => {
    if (q?.value === undefined) return null;
    const from = unitOf(q);
    if (!target || !from) return from === target ? q.value : null;
    return convertUcum(q.value, from, target, molarMass);
  };
  const points: LabPoint[] = observations.flatMap((o) => {
    const time = timeOf(o);
    if (!time) return [];
    const q = o.valueQuantity;
    const range = o.referenceRange?.[0];
    const flag = observationFlag(o) ?? null;
    return [{
      time,
      value: conv(q),
      unit: target ?? null,
      originalValue: q?.value ?? null,
      originalUnit: unitOf(q),
      comparator: q?.comparator ?? null,
      text: formatValue(o),
      referenceLow: conv(range?.low),
      referenceHigh: conv(range?.high),
      referenceText: range?.text ?? null,
      flag,
      abnormal: isAbnormalFlag(flag ?? undefined),
      status: o.status,
      reference: `Observation/${o.id}`,
    }];
  });
  points.sort((a, b) => a.time.getTime() - b.time.getTime());
  return { code: options.codes[0] as string, name: latest ? shortName(latest.code) : observations[0] ? shortName(observations[0].code) : null, unit: target ?? null, points };
}

function timeOf(o: Observation): Date | undefined {
  return firstTime(o.effectiveDateTime, o.effectivePeriod?.start, o.effectiveInstant, o.issued);
}
