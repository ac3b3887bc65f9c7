import type { DiagnosticReport, Resource } from '@medplum/fhirtypes';
import type { Repository } from '../store/repository.ts';
import type { RequestContext } from '../store/request-context.ts';
import { parseFhirSearch } from '../store/search-to-mongo.ts';

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
 * The radiology reports linked to each of the given ImagingStudies ("ImagingStudy/id"), in one
 * query (R4 has no search parameter for DiagnosticReport.imagingStudy, so this reads the field).
 */
export async function reportsForStudies(repo: Repository, _ctx: RequestContext, studies: readonly string[]): Promise<Map<string, DiagnosticReport[]>> {
  const out = new Map<string, DiagnosticReport[]>(studies.map((s) => [s, []]));
  if (!studies.length) return out;
  const docs = await repo.database.c.resources
    .find({ rt: 'DiagnosticReport', deleted: false, 'res.imagingStudy.reference': { $in: [...studies] } }, { projection: { res: 1 } })
    .toArray();
  for (const d of docs) {
    const r = d.res as DiagnosticReport;
    if (r.status === 'entered-in-error') continue;
    for (const s of r.imagingStudy ?? []) out.get(s.reference ?? '')?.push(r);
  }
  for (const list of out.values()) list.sort((a, b) => (b.issued ?? '').localeCompare(a.issued ?? ''));
  return out;
}
