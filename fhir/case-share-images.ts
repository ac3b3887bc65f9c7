import type { Bundle, Endpoint, ImagingStudy } from '@medplum/fhirtypes';
import type { Repository } from '../store/repository.ts';
import { systemContext } from '../store/request-context.ts';
import type { Deidentifier } from './deidentify.ts';

/**
 * The images of a shared case (docs/tumour-board.md, "Images of a shared case"). A recipient sees
 * the instances of the case pack's ImagingStudies under the pack's remapped UIDs only; IDR fetches
 * each image rendered (a JPEG, no DICOM header) from the PACS the study came from and passes it
 * on, so the PACS, its address and the real UIDs never reach the recipient. Only studies whose
 * WADO-RS Endpoint is a PACS IDR is configured to read from (IDR_DICOMWEB_SOURCES /
 * IDR_DICOMWEB_URL) are offered: an Endpoint written through the API cannot make IDR fetch from
 * anywhere else.
 */

/** One instance a recipient may view: its remapped UIDs (what the link names) and the real ones. */
export interface SharedImage {
  /** The remapped StudyInstanceUID / SeriesInstanceUID / SOPInstanceUID, as the shared pack shows them. */
  study: string;
  series: string;
  instance: string;
  modality?: string;
  /** Position in its series (1-based), for captions. */
  number: number;
  seriesNumber: number;
  /** What IDR needs to fetch it; never shown to the recipient. */
  source: { imagingStudy: string; studyUid: string; seriesUid: string; instanceUid: string; wadoRoot: string };
}

/** Why a study of the pack has no viewable images (for the page: said plainly, not hidden). */
export interface UnviewableStudy {
  study: string;
  reason: string;
}

const normalise = (url: string): string => url.replace(/\/+$/, '');

function studyInstanceUid(study: ImagingStudy): string | undefined {
  const id = study.identifier?.find((i) => i.system === 'urn:dicom:uid')?.value;
  return id?.replace(/^urn:oid:/, '');
}

/**
 * Asks the PACS for what a study holds when the stored ImagingStudy does not list it (a DICOMweb
 * import records series, not instances): QIDO-RS series of a study, instances of a series.
 */
export interface PacsIndex {
  series(root: string, studyUid: string): Promise<{ uid: string; number?: number; modality?: string }[]>;
  instances(root: string, studyUid: string, seriesUid: string): Promise<{ uid: string; number?: number }[]>;
}

/** At most this many images of one shared case are offered. */
export const MAX_SHARED_IMAGES = 500;

/**
 * The viewable images of a (stored, not de-identified) case pack, and the studies without any.
 * `allowedRoots` are the DICOMweb roots of the configured PACS; `pacs` fills in the series and
 * instances a stored study does not list.
 */
export async function sharedImages(repo: Repository, pack: Bundle, deid: Deidentifier, allowedRoots: readonly string[], pacs: PacsIndex): Promise<{ images: SharedImage[]; unviewable: UnviewableStudy[] }> {
  const allowed = new Set(allowedRoots.map(normalise));
  const images: SharedImage[] = [];
  const unviewable: UnviewableStudy[] = [];
  const studies = (pack.entry ?? []).flatMap((e) => (e.resource?.resourceType === 'ImagingStudy' ? [e.resource] : []));
  for (const study of studies) {
    const studyUid = studyInstanceUid(study);
    if (!studyUid) continue;
    const remapped = deid.dicomUid(studyUid);
    const endpointRef = study.endpoint?.[0]?.reference;
    const endpoint = endpointRef?.startsWith('Endpoint/') ? ((await repo.readMany(systemContext('case-share'), [endpointRef])).get(endpointRef) as Endpoint | undefined) : undefined;
    const root = endpoint?.address ? normalise(endpoint.address) : undefined;
    if (!root) {
      unviewable.push({ study: remapped, reason: 'no PACS is known for this study (it was not imported over DICOMweb)' });
      continue;
    }
    if (!allowed.has(root)) {
      unviewable.push({ study: remapped, reason: 'the PACS of this study is not one IDR is configured to read from' });
      continue;
    }
    const before = images.length;
    type Listed = { uid: string; number?: number | undefined };
    const stored: (Listed & { modality?: string | undefined; instance?: Listed[] | undefined })[] = study.series?.length ? study.series.map((x) => ({ uid: x.uid, number: x.number, modality: x.modality?.code, instance: x.instance })) : await pacs.series(root, studyUid);
    for (const [s, series] of stored.entries()) {
      const listed: Listed[] = series.instance?.length ? series.instance : await pacs.instances(root, studyUid, series.uid);
      for (const [i, instance] of listed.entries()) {
        if (images.length >= MAX_SHARED_IMAGES) break;
        images.push({
          study: remapped,
          series: deid.dicomUid(series.uid),
          instance: deid.dicomUid(instance.uid),
          ...(series.modality ? { modality: series.modality } : {}),
          number: instance.number ?? i + 1,
          seriesNumber: series.number ?? s + 1,
          source: { imagingStudy: `ImagingStudy/${study.id ?? ''}`, studyUid, seriesUid: series.uid, instanceUid: instance.uid, wadoRoot: root },
        });
      }
    }
    if (images.length === before) unviewable.push({ study: remapped, reason: images.length >= MAX_SHARED_IMAGES ? `more than ${MAX_SHARED_IMAGES} images in this case` : 'the PACS holds no instances of this study' });
  }
  return { images, unviewable };
}

/** The WADO-RS URL of an instance rendered as JPEG (PS3.18 §10.4.1.1.3). */
export function renderedUrl(image: SharedImage): string {
  const { wadoRoot, studyUid, seriesUid, instanceUid } = image.source;
  return `${wadoRoot}/studies/${encodeURIComponent(studyUid)}/series/${encodeURIComponent(seriesUid)}/instances/${encodeURIComponent(instanceUid)}/rendered`;
}

/** The WADO-RS URL of an instance's metadata (DICOM JSON). */
export function metadataUrl(image: SharedImage): string {
  const { wadoRoot, studyUid, seriesUid, instanceUid } = image.source;
  return `${wadoRoot}/studies/${encodeURIComponent(studyUid)}/series/${encodeURIComponent(seriesUid)}/instances/${encodeURIComponent(instanceUid)}/metadata`;
}

/**
 * Whether an instance's metadata says its pixels may identify the patient: Burned In Annotation
 * (0028,0301) YES, or a Recognizable Visual Features (0028,0709) YES (PS3.15 Annex E). Such an
 * image is not shown to a recipient.
 */
export function identifyingPixels(metadata: unknown): string | undefined {
  const dataset = Array.isArray(metadata) ? (metadata[0] as Record<string, { Value?: unknown[] }> | undefined) : undefined;
  const yes = (tag: string): boolean => String(dataset?.[tag]?.Value?.[0] ?? '').toUpperCase() === 'YES';
  if (yes('00280301')) return 'the image has burned-in annotation (0028,0301), which may identify the patient';
  if (yes('00280709')) return 'the image has recognisable visual features (0028,0709)';
  return undefined;
}
