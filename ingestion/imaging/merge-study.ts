import type { Coding, Extension, Identifier, ImagingStudy, ImagingStudySeries, ImagingStudySeriesInstance } from '@medplum/fhirtypes';

/**
 * Merges a freshly mapped ImagingStudy into the stored one, so a study can arrive in pieces
 * (Part 10 files one request at a time, or a DICOMweb import after a Part 10 upload) without a
 * later piece dropping what an earlier one brought:
 *  - series are united by uid; within a series the instances are united by uid;
 *  - what the incoming study says wins; what it lacks is kept (e.g. the WSI specimen extension
 *    and the instance list from Part 10 headers, which QIDO-RS results do not carry);
 *  - counts: a series with an instance list counts its instances; one without (QIDO-RS) keeps the
 *    count the PACS gave; study counts are at least the sums over the merged series.
 * Pure; `incoming` keeps its own subject and (if it has one) endpoint references.
 */
export function mergeImagingStudy(stored: ImagingStudy, incoming: ImagingStudy): ImagingStudy {
  const merged: ImagingStudy = { ...stripStored(stored), ...incoming };
  merged.identifier = unionBy([...(incoming.identifier ?? []), ...(stored.identifier ?? [])], identifierKey);
  const modality = unionBy([...(incoming.modality ?? []), ...(stored.modality ?? [])], codingKey);
  if (modality.length) merged.modality = modality;
  if (!incoming.endpoint?.length && stored.endpoint?.length) merged.endpoint = stored.endpoint;
  const byUid = new Map<string, ImagingStudySeries>();
  for (const s of stored.series ?? []) byUid.set(s.uid, s);
  for (const s of incoming.series ?? []) {
    const old = byUid.get(s.uid);
    byUid.set(s.uid, old ? mergeSeries(old, s) : s);
  }
  const series = [...byUid.values()].sort((a, b) => (a.number ?? 0) - (b.number ?? 0) || a.uid.localeCompare(b.uid));
  if (series.length) merged.series = series;
  const seriesCount = series.length;
  const instanceCount = series.reduce((n, s) => n + (s.numberOfInstances ?? 0), 0);
  const nSeries = Math.max(seriesCount, incoming.numberOfSeries ?? 0);
  if (nSeries) merged.numberOfSeries = nSeries;
  const nInstances = Math.max(instanceCount, incoming.numberOfInstances ?? 0);
  if (nInstances) merged.numberOfInstances = nInstances;
  return merged;
}

/** The stored study without server-managed elements (id and meta come from the writer). */
function stripStored(stored: ImagingStudy): ImagingStudy {
  const { id: _id, meta: _meta, ...rest } = stored;
  return rest;
}

function mergeSeries(stored: ImagingStudySeries, incoming: ImagingStudySeries): ImagingStudySeries {
  const merged: ImagingStudySeries = { ...stored, ...incoming };
  const ext = unionBy([...(incoming.extension ?? []), ...(stored.extension ?? [])], (e: Extension) => e.url);
  if (ext.length) merged.extension = ext;
  if (incoming.instance?.length) {
    const instances = unionBy([...incoming.instance, ...(stored.instance ?? [])], (i: ImagingStudySeriesInstance) => i.uid);
    instances.sort((a, b) => (a.number ?? 0) - (b.number ?? 0) || a.uid.localeCompare(b.uid));
    merged.instance = instances;
    merged.numberOfInstances = Math.max(instances.length, incoming.numberOfInstances ?? 0);
  } else {
    if (stored.instance?.length) merged.instance = stored.instance;
    const count = incoming.numberOfInstances ?? stored.numberOfInstances;
    if (count !== undefined) merged.numberOfInstances = count;
  }
  return merged;
}

function unionBy<T>(items: T[], key: (t: T) => string): T[] {
  const seen = new Set<string>();
  const out: T[] = [];
  for (const item of items) {
    const k = key(item);
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(item);
  }
  return out;
}

function identifierKey(i: Identifier): string {
  return `${i.system ?? ''}|${i.value ?? ''}`;
}

function codingKey(c: Coding): string {
  return `${c.system ?? ''}|${c.code ?? ''}`;
}
