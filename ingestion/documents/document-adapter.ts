import type { Bundle, DocumentReference, Patient } from '@medplum/fhirtypes';
import type { Repository } from '../../store/repository.ts';
import type { InboxEntry } from '../inbox.ts';
import { systemContext } from '../../store/request-context.ts';
import { assertValidResource } from '../../schema/validate.ts';
import { AdapterError, type AdapterContext, type AdapterOutput } from '../adapters/types.ts';
import { DOCUMENT_ADAPTER_VERSION, detectDocumentKind, documentToBundle, mdmToBundle } from '../adapters/documents/index.ts';
import { requireKnownPatients } from '../imaging/known-patients.ts';
import type { PipelineAdapter } from '../imaging/dicom-adapters.ts';
import type { PdfLimits } from '../adapters/documents/pdf-text.ts';

/** Options of the document adapter (from configuration). */
export interface DocumentAdapterOptions {
  repo: Repository;
  /** Documents larger than this are kept but not read (no text extraction). */
  maxExtractBytes: number;
  /** Limits of PDF text extraction: over one, the PDF is kept without text and a warning names the limit. */
  pdfLimits?: PdfLimits;
  /** Path under which an inbox entry's raw bytes are served (`<rawPath>/<id>/raw`). */
  rawPath?: string;
  /** Decodes HL7 v2 bytes (adapter-registry's decodeHl7Text). */
  decodeHl7: (bytes: Buffer) => string;
}

const UNKNOWN_PATIENT_HINT = 'letters are filed only under a patient IDR knows: it waits, and is filed when that patient arrives (check the patient parameter if it should be known)';

/** Refuses an input too large to read, naming the limit. */
export function checkExtractSize(size: number, limit: number): void {
  if (size > limit) {
    const mb = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MB`;
    throw new AdapterError('file', `the document is ${mb(size)}; text extraction is limited to ${mb(limit)} (IDR_DOCUMENT_MAX_EXTRACT_BYTES), so it was not read; the raw bytes are kept (inbox)`);
  }
}

/**
 * The store-aware document adapter (`document` kind, POST /ingest/documents): PDF, plain text and
 * C-CDA uploads with their metadata (entry.metadata), and HL7 v2 MDM messages sent as files.
 * After the pure adapter: the patient must be known, else the input waits for it (MDM excepted: it carries a full PID), the
 * metadata must not contradict an MDM's PID, and the DocumentReference's original attachment
 * gets `url` = where the stored raw bytes are served.
 */
export function documentAdapter(options: DocumentAdapterOptions): PipelineAdapter {
  const rawPath = options.rawPath ?? '/ingest/messages';
  return {
    version: DOCUMENT_ADAPTER_VERSION,
    run: async (bytes: Buffer, entry: InboxEntry, ctx: AdapterContext): Promise<AdapterOutput> => {
      checkExtractSize(bytes.length, options.maxExtractBytes);
      const repoCtx = systemContext('ingestion', `ingest-${entry._id}`);
      const metadata = entry.metadata ?? {};
      let out: AdapterOutput;
      if (bytes.length && detectDocumentKind(bytes, entry.contentType, entry.filename) === 'hl7v2') {
        out = mdmToBundle(options.decodeHl7(bytes), ctx);
        checkMdmPatient(out.bundle, metadata.patientIdentifier);
      } else {
        out = await documentToBundle({ bytes, contentType: entry.contentType ?? '', metadata, ...(entry.filename ? { filename: entry.filename } : {}), ...(options.pdfLimits ? { pdfLimits: options.pdfLimits } : {}) }, ctx);
        await requireKnownPatients(options.repo, repoCtx, out.bundle, 'patient', UNKNOWN_PATIENT_HINT);
      }
      const { bundle, dropped } = withoutInvalidEntries(out.bundle);
      return { kind: out.kind, warnings: [...out.warnings, ...dropped], bundle: withRawUrl(bundle, `${rawPath}/${entry._id}/raw`) };
    },
  };
}

/**
 * Drops converted entries (C-CDA: Observation, Condition, ...) the FHIR store would refuse, so a
 * conversion gap never loses the letter; each drop is a warning. Patient and DocumentReference stay.
 */
export function withoutInvalidEntries(bundle: Bundle): { bundle: Bundle; dropped: string[] } {
  const dropped: string[] = [];
  const entry = (bundle.entry ?? []).filter((e, i) => {
    const r = e.resource;
    if (!r || r.resourceType === 'Patient' || r.resourceType === 'DocumentReference') return true;
    try {
      assertValidResource(r);
      return true;
    } catch (err) {
      const text = (err as { outcome?: { issue?: { details?: { text?: string }; expression?: string[] }[] } }).outcome?.issue?.[0];
      dropped.push(`entry[${i}] ${r.resourceType} not kept: ${text?.expression?.[0] ?? ''} ${text?.details?.text ?? (err as Error).message}`.trim());
      return false;
    }
  });
  if (!dropped.length) return { bundle, dropped };
  const kept = new Set(entry.map((e) => e.fullUrl));
  // references to a dropped entry are reduced to their display
  const json = JSON.stringify({ ...bundle, entry }, (k, v: unknown) => {
    if (k === 'reference' && typeof v === 'string' && v.startsWith('urn:uuid:') && !kept.has(v)) return undefined;
    return v;
  });
  return { bundle: JSON.parse(json) as Bundle, dropped };
}

function checkMdmPatient(bundle: Bundle, given: unknown): void {
  if (!given || typeof given !== 'object') return;
  const { system, value } = given as { system?: string; value?: string };
  const ids = (bundle.entry ?? []).filter((e) => e.resource?.resourceType === 'Patient').flatMap((e) => (e.resource as Patient).identifier ?? []);
  if (!ids.some((i) => i.system === system && i.value === value)) {
    throw new AdapterError('metadata.patientIdentifier', `${system}|${value} contradicts the message: PID-3 holds ${ids.map((i) => `${i.system}|${i.value}`).join(', ')}`);
  }
}

/** Sets content[0].attachment.url (the original, stored in the inbox) where it has neither data nor url. */
export function withRawUrl(bundle: Bundle, url: string): Bundle {
  return {
    ...bundle,
    entry: (bundle.entry ?? []).map((e) => {
      if (e.resource?.resourceType !== 'DocumentReference') return e;
      const doc = e.resource as DocumentReference;
      const first = doc.content?.[0];
      if (!first || first.attachment.data || first.attachment.url) return e;
      const content = [{ ...first, attachment: { ...first.attachment, url } }, ...doc.content.slice(1)];
      return { ...e, resource: { ...doc, content } };
    }),
  };
}
