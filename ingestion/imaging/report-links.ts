import type { DiagnosticReport, ImagingStudy, Reference, Resource, Specimen } from '@medplum/fhirtypes';
import type { Repository } from '../../store/repository.ts';
import { systemContext, type RequestContext } from '../../store/request-context.ts';
import { DICOM_EXTENSIONS, DICOM_SYSTEMS } from '../adapters/dicom/index.ts';
import { IDR_SYSTEMS } from '../adapters/hl7v2/index.ts';
import type { ImagingLinkIndex } from './link-index.ts';

/** The derived-data outbox task that links the reports and studies it names. */
export const IMAGING_LINKS_TASK = 'imaging-links';

/**
 * Links reports to the imaging they describe, whichever arrives first. After a write that touched
 * an ImagingStudy or a radiology/pathology DiagnosticReport, its link keys (per patient) are
 * recorded, and every report sharing a key with a study gets `DiagnosticReport.imagingStudy`
 * pointing at that study. Keys:
 *  - accession number: the study's `urn:idr:accession` identifier; the report's
 *    `urn:idr:accession` identifier or the id part of its filler order number;
 *  - StudyInstanceUID: the study's identifier; the report's logical imagingStudy reference;
 *  - specimen id (pathology): a whole-slide series' specimen (R5 series.specimen extension);
 *    the id part of the identifiers of the report's specimens.
 * All lookups are by `_id` (ImagingLinkIndex, repository reads), answered from an index on
 * MongoDB and the embedded store alike.
 */
export async function linkReportsToImaging(repo: Repository, index: ImagingLinkIndex, written: string[]): Promise<number> {
  const refs = written.map((w) => w.split('/_history/')[0] as string).filter((r) => r.startsWith('ImagingStudy/') || r.startsWith('DiagnosticReport/'));
  if (!refs.length) return 0;
  const ctx = systemContext('imaging-links');
  // Read in one query (a group of lab messages names dozens of reports, none of them imaging).
  const current = await repo.readMany(ctx, refs);
  let updated = 0;
  for (const ref of new Set(refs)) {
    const id = ref.slice(ref.indexOf('/') + 1);
    const res = current.get(ref);
    if (!res) continue;
    const pid = (res as ImagingStudy | DiagnosticReport).subject?.reference?.replace(/^Patient\//, '');
    if (!pid) continue;
    if (res.resourceType === 'ImagingStudy') {
      const docs = await index.add('studies', id, studyKeys(res as ImagingStudy).map((k) => `${pid}|${k}`));
      const reports = new Set(docs.flatMap((d) => d.reports));
      for (const rid of reports) updated += await linkReport(repo, ctx, rid, docs.filter((d) => d.reports.includes(rid)).flatMap((d) => d.studies));
    } else if (isImagingRelevant(res)) {
      const docs = await index.add('reports', id, (await reportKeys(repo, ctx, res)).map((k) => `${pid}|${k}`));
      updated += await linkReport(repo, ctx, id, docs.flatMap((d) => d.studies));
    }
  }
  return updated;
}

function codes(report: DiagnosticReport): string[] {
  return [...(report.category ?? []), report.code].flatMap((c) => (c?.coding ?? []).map((x) => x.code ?? ''));
}

/** Radiology or pathology reports (lab reports are never linked to imaging). */
function isImagingRelevant(r: Resource): r is DiagnosticReport {
  if (r.resourceType !== 'DiagnosticReport') return false;
  const c = codes(r);
  return c.includes('RAD') || c.includes('PAT') || c.includes('18748-4') || c.includes('60567-5') || c.includes('11526-1');
}

/** The last "/"-separated part of an identifier value (`UMCX_PA/T25-00011` -> `T25-00011`). */
function idPart(value: string | undefined): string {
  return (value ?? '').split('/').pop() ?? '';
}

function studyKeys(study: ImagingStudy): string[] {
  const keys: string[] = [];
  for (const i of study.identifier ?? []) {
    if (i.system === DICOM_SYSTEMS.accession && i.value) keys.push(`acc:${i.value}`);
    if (i.system === DICOM_SYSTEMS.dicomUid && i.value) keys.push(`uid:${i.value}`);
  }
  for (const s of study.series ?? []) {
    for (const e of s.extension ?? []) {
      const id = e.url === DICOM_EXTENSIONS.seriesSpecimenR5 ? idPart(e.valueReference?.identifier?.value) : '';
      if (id) keys.push(`spec:${id}`);
    }
  }
  return keys;
}

async function reportKeys(repo: Repository, ctx: RequestContext, report: DiagnosticReport): Promise<string[]> {
  const keys: string[] = [];
  for (const i of report.identifier ?? []) {
    if (i.system === DICOM_SYSTEMS.accession && i.value) keys.push(`acc:${i.value}`);
    if (i.system === IDR_SYSTEMS.fillerOrder && i.value) keys.push(`acc:${idPart(i.value)}`);
  }
  for (const r of report.imagingStudy ?? []) if (r.identifier?.system === DICOM_SYSTEMS.dicomUid && r.identifier.value) keys.push(`uid:${r.identifier.value}`);
  for (const r of report.specimen ?? []) {
    const [type, id] = (r.reference ?? '').split('/');
    if (type !== 'Specimen' || !id) continue;
    const specimen = (await repo.read(ctx, 'Specimen', id).catch(() => undefined)) as Specimen | undefined;
    for (const i of specimen?.identifier ?? []) if (i.value) keys.push(`spec:${idPart(i.value)}`);
  }
  return keys;
}

/** Adds the given studies to a report's imagingStudy (literal references, replacing logical ones by UID). */
async function linkReport(repo: Repository, ctx: RequestContext, reportId: string, studyIds: string[]): Promise<number> {
  if (!studyIds.length) return 0;
  const report = (await repo.read(ctx, 'DiagnosticReport', reportId).catch(() => undefined)) as DiagnosticReport | undefined;
  if (!report) return 0;
  const studies: ImagingStudy[] = [];
  for (const sid of new Set(studyIds)) {
    const s = (await repo.read(ctx, 'ImagingStudy', sid).catch(() => undefined)) as ImagingStudy | undefined;
    if (s && s.subject?.reference === report.subject?.reference) studies.push(s);
  }
  const next = linkedRefs(report.imagingStudy ?? [], studies);
  if (!next) return 0;
  await repo.update(ctx, { ...report, imagingStudy: next });
  return 1;
}

/** The report's imagingStudy list with the studies as literal references; undefined when nothing changes. */
function linkedRefs(current: Reference<ImagingStudy>[], studies: ImagingStudy[]): Reference<ImagingStudy>[] | undefined {
  const uids = new Set(studies.flatMap((s) => (s.identifier ?? []).filter((i) => i.system === DICOM_SYSTEMS.dicomUid).map((i) => i.value)));
  const kept = current.filter((r) => r.reference || !(r.identifier?.value && uids.has(r.identifier.value)));
  const have = new Set(kept.map((r) => r.reference));
  const added = studies.filter((s) => !have.has(`ImagingStudy/${s.id}`)).map((s) => ({ reference: `ImagingStudy/${s.id}`, ...(s.description ? { display: s.description } : {}) }));
  if (!added.length && kept.length === current.length) return undefined;
  return [...kept, ...added];
}
