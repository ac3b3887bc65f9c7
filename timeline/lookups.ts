import type { DiagnosticReport, Resource } from '@medplum/fhirtypes';
import { guardedDoc, keepVisible } from '../store/access-guard.ts';
import type { Repository } from '../store/repository.ts';
import type { RequestContext } from '../store/request-context.ts';
import { parseFhirSearch } from '../store/search-to-mongo.ts';
import { findAnyOf } from '../store/find-any-of.ts';
import { compartmentKey, IMAGING_STUDY_KEY, searchKey } from '../schema/search-index.ts';
import { resourceOf } from '../schema/collections.ts';

/** Read helpers the timeline views share: compartment searches through the Repository. */

/** Searches one type in a patient's compartment; `params` are further FHIR search parameters. */
export async function searchPatient<T extends Resource>(repo: Repository, ctx: RequestContext, type: T['resourceType'], patient: string, params: Record<string, string | undefined>, count = 100): Promise<T[]> {
  const q = new URLSearchParams({ patient: `Patient/${patient}` });
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.append(k, v);
  q.set('_count', String(count));
  const request = parseFhirSearch(type, q.toString());
  request.total = 'none';
  const result = await repo.search(ctx, request);
  return result.resources as T[];
}

/**
 * The patient's reports whose category or code is one of `codes` (in any system), in one indexed
 * query (a FHIR search cannot ask for "this category or this code").
 */
export async function reportsMarkedBy(repo: Repository, ctx: RequestContext, patient: string, codes: readonly string[]): Promise<DiagnosticReport[]> {
  const marks = codes.flatMap((c) => [searchKey('category', c), searchKey('code', c)]);
  const found = await repo.database.c.resources.find({ rt: 'DiagnosticReport', deleted: false, patients: patient, keys: compartmentKey('DiagnosticReport', patient), $and: [{ keys: { $in: marks } }] }, { projection: { json: 1, patients: 1 } }).toArray();
  const docs = await keepVisible(repo.database, ctx, found, guardedDoc);
  return docs.map((d) => resourceOf<DiagnosticReport>(d) as DiagnosticReport);
}

/**
 * The reports linked to any of the given ImagingStudies ("ImagingStudy/id"), in one indexed query
 * (R4 has no search parameter for DiagnosticReport.imagingStudy: IDR keeps its own key).
 */
export async function reportsLinkedTo(repo: Repository, ctx: RequestContext, studies: readonly string[]): Promise<DiagnosticReport[]> {
  if (!studies.length) return [];
  const keys = studies.map((s) => searchKey(IMAGING_STUDY_KEY, s));
  const found = await findAnyOf(repo.database.c.resources, { rt: 'DiagnosticReport', deleted: false }, 'keys', keys, { projection: { json: 1, patients: 1 } });
  const docs = await keepVisible(repo.database, ctx, found, guardedDoc);
  return docs.map((d) => resourceOf<DiagnosticReport>(d) as DiagnosticReport);
}

/** The reports of each study (from reportsLinkedTo), newest first, leaving out those entered in error. */
export function reportsByStudy(studies: readonly string[], reports: readonly DiagnosticReport[]): Map<string, DiagnosticReport[]> {
  const out = new Map<string, DiagnosticReport[]>(studies.map((s) => [s, []]));
  for (const r of reports) {
    if (r.status === 'entered-in-error') continue;
    for (const s of r.imagingStudy ?? []) out.get(s.reference ?? '')?.push(r);
  }
  for (const list of out.values()) list.sort((a, b) => (b.issued ?? '').localeCompare(a.issued ?? ''));
  return out;
}

/** The radiology reports linked to each of the given ImagingStudies, newest first. */
export async function reportsForStudies(repo: Repository, ctx: RequestContext, studies: readonly string[]): Promise<Map<string, DiagnosticReport[]>> {
  return reportsByStudy(studies, await reportsLinkedTo(repo, ctx, studies));
}

/**
 * The reads a view of one patient's record makes: answered by the store (`storeReads`), or from
 * what an earlier request read while the record has not changed since (timeline/summary-cache.ts).
 */
export interface PatientReads {
  /** searchPatient for this patient. */
  search<T extends Resource>(type: T['resourceType'], params: Record<string, string | undefined>, count: number): Promise<T[]>;
  /** reportsMarkedBy for this patient. */
  reportsMarkedBy(codes: readonly string[]): Promise<DiagnosticReport[]>;
  /** reportsLinkedTo. */
  reportsLinkedTo(studies: readonly string[]): Promise<DiagnosticReport[]>;
  /** Repository.readMany. */
  readMany(references: readonly string[]): Promise<Map<string, Resource>>;
}

/** The reads of one patient's record, each a query of the store. */
export function storeReads(repo: Repository, ctx: RequestContext, patient: string): PatientReads {
  return {
    search: (type, params, count) => searchPatient(repo, ctx, type, patient, params, count),
    reportsMarkedBy: (codes) => reportsMarkedBy(repo, ctx, patient, codes),
    reportsLinkedTo: (studies) => reportsLinkedTo(repo, ctx, studies),
    readMany: (references) => repo.readMany(ctx, [...references]),
  };
}
