import { z } from 'zod';
import type { Repository } from '../../store/repository.ts';
import type { InboxEntry } from '../inbox.ts';
import { systemContext } from '../../store/request-context.ts';
import { AdapterError, type AdapterContext, type AdapterOutput } from '../adapters/types.ts';
import { DICOM_ADAPTER_VERSION, dicomInstancesToBundle, qidoStudiesToBundle, readDicomHeader, type DicomAdapterOptions, type QidoSeries, type QidoStudy } from '../adapters/dicom/index.ts';
import { requireKnownPatients } from './known-patients.ts';
import { mergeWithStoredStudies } from './merge-stored.ts';

/** An adapter as the pipeline runs it (the shape of adapter-registry's RegisteredAdapter). */
export interface PipelineAdapter {
  version: string;
  run: (bytes: Buffer, entry: InboxEntry, ctx: AdapterContext) => Promise<AdapterOutput>;
}

/** Options of the imaging adapters (from configuration). */
export interface ImagingAdapterOptions {
  repo: Repository;
  /** Zone for DICOM times without TimezoneOffsetFromUTC. */
  defaultTimezone?: string;
  /** Namespace of WSI specimen ids that come without an issuer. */
  specimenNamespace?: string;
}

/** What POST /ingest/dicomweb stores per study: the QIDO-RS study and its series, as received. */
export const dicomwebEntrySchema = z.object({
  baseUrl: z.string(),
  wadoRsBase: z.string(),
  study: z.record(z.string(), z.unknown()),
  series: z.array(z.record(z.string(), z.unknown())),
});
export type DicomwebEntry = z.infer<typeof dicomwebEntrySchema>;

const UNKNOWN_PATIENT_HINT = 'a study is filed only under a patient IDR knows: it waits, and is filed when that patient arrives (an HL7 v2 message or a FHIR write with that identifier; check IssuerOfPatientID and IDR_IDENTIFIER_SYSTEMS if it should be known)';

/**
 * The store-aware imaging adapters: the pure DICOM adapters, then (a) a study of an unknown
 * patient waits for that patient (PatientNotKnownError), (b) the study is merged with what is stored (series/instances united).
 *  - `dicom`: one DICOM Part 10 file (or its header part); entry.metadata.wadoRsBase optional.
 *  - `dicomweb`: one QIDO-RS study with its series as stored by the DICOMweb import.
 */
export function imagingAdapters(options: ImagingAdapterOptions): Record<'dicom' | 'dicomweb', PipelineAdapter> {
  const base: DicomAdapterOptions = {
    ...(options.defaultTimezone ? { defaultTimezone: options.defaultTimezone } : {}),
    ...(options.specimenNamespace ? { specimenNamespace: options.specimenNamespace } : {}),
  };
  const finish = async (out: AdapterOutput, entry: InboxEntry): Promise<AdapterOutput> => {
    const ctx = systemContext('ingestion', `ingest-${entry._id}`);
    await requireKnownPatients(options.repo, ctx, out.bundle, '(0010,0020)', UNKNOWN_PATIENT_HINT);
    return { ...out, bundle: await mergeWithStoredStudies(options.repo, ctx, out.bundle) };
  };
  return {
    dicom: {
      version: DICOM_ADAPTER_VERSION,
      run: async (bytes, entry, ctx) => {
        const warnings: string[] = [];
        const header = readDicomHeader(bytes, warnings);
        const wadoRsBase = typeof entry.metadata?.wadoRsBase === 'string' ? entry.metadata.wadoRsBase : undefined;
        const out = dicomInstancesToBundle([header], ctx, { ...base, ...(wadoRsBase ? { wadoRsBase } : {}) });
        return finish({ ...out, warnings: [...warnings, ...out.warnings] }, entry);
      },
    },
    dicomweb: {
      version: DICOM_ADAPTER_VERSION,
      run: async (bytes, entry, ctx) => {
        let parsed: DicomwebEntry;
        try {
          parsed = dicomwebEntrySchema.parse(JSON.parse(bytes.toString('utf8')));
        } catch (err) {
          throw new AdapterError('json', `not a stored QIDO-RS study ({ baseUrl, wadoRsBase, study, series }): ${(err as Error).message.slice(0, 200)}`);
        }
        const study = parsed.study as QidoStudy;
        const uid = (parsed.study['0020000D'] as { Value?: unknown[] } | undefined)?.Value?.[0];
        const out = qidoStudiesToBundle([study], typeof uid === 'string' ? { [uid]: parsed.series as QidoSeries[] } : {}, ctx, { ...base, wadoRsBase: parsed.wadoRsBase });
        return finish(out, entry);
      },
    },
  };
}
