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
 * The radiology reports linked to each of the given ImagingStudies ("ImagingStudy/id"), in one
 * indexed query (R4 has no search parameter for DiagnosticReport.imagingStudy: IDR keeps its own key).
 */
export async function reportsForStudies(repo: Repository, ctx: RequestContext, studies: readonly string[]): Promise<Map<string, DiagnosticReport[]>> {
  const out = new Map<string, DiagnosticReport[]>(studies.map((s) => [s, []]));
  if (!studies.length) return out;
  const keys = studies.map((s) => searchKey(IMAGING_STUDY_KEY, s));
  const found = await findAnyOf(repo.database.c.resources, { rt: 'DiagnosticReport', deleted: false }, 'keys', keys, { projection: { json: 1, patients: 1 } });
  const docs = await keepVisible(repo.database, ctx, found, guardedDoc);
  for (const d of docs) {
    const r = resourceOf<DiagnosticReport>(d) as DiagnosticReport;
    if (r.status === 'entered-in-error') continue;
    for (const s of r.imagingStudy ?? []) out.get(s.reference ?? '')?.push(r);
  }
  for (const list of out.values()) list.sort((a, b) => (b.issued ?? '').localeCompare(a.issued ?? ''));
  return out;
}
