import express, { type Request, type Router } from 'express';
import type { IngestResult, Pipeline } from '../../ingestion/pipeline.ts';
import { checkExtractSize } from '../../ingestion/documents/document-adapter.ts';
import { AdapterError } from '../../ingestion/adapters/types.ts';
import { contentTooLarge } from '@medplum/core';
import { fail } from '../../schema/outcomes.ts';
import { noteWritten, reportOf } from './results.ts';
import { ctxOf } from '../http/context.ts';

const METADATA_FIELDS = ['type', 'date', 'author', 'custodian', 'title'] as const;

/**
 * POST /documents: one letter or report as the raw body, its Content-Type saying what it is
 * (application/pdf, text/plain, application/xml or application/hl7-cda+xml for C-CDA,
 * x-application/hl7-v2+er7 for an MDM message), metadata as query parameters:
 * `patient=<system>|<value>` (required for PDF and text; a C-CDA names its patient in recordTarget
 * and an MDM message in PID: there it may be given and must agree), `type` (LOINC code or referral,
 * discharge, consult, mdt, pathology, radiology, progress), `date` (YYYY-MM-DD or a dateTime with
 * offset), `author`, `custodian`, `title`, `filename`.
 * The body is streamed into the inbox first (bounded memory); then it is processed. Missing or
 * contradictory metadata -> 400, a wrong content type -> 415, unreadable content -> 422; the raw
 * bytes are kept as a failed inbox entry in every case. Documents above
 * IDR_DOCUMENT_MAX_EXTRACT_BYTES are kept but not read (422).
 */
export function documentRouter(options: { pipeline: Pipeline; maxBytes: number; maxExtractBytes: number }): Router {
  const router = express.Router();
  router.post('/documents', async (req, res) => {
    const contentType = req.header('content-type') ?? '';
    const filename = typeof req.query.filename === 'string' ? req.query.filename : undefined;
    let entry;
    try {
      entry = await options.pipeline.inbox.storeStream({
        stream: limited(req, options.maxBytes),
        kind: 'document',
        source: 'http',
        origin: req.ip ?? '',
        ...(contentType ? { contentType } : {}),
        ...(filename ? { filename } : {}),
        metadata: metadataOf(req),
      });
    } catch (err) {
      if (err instanceof BodyTooLarge) fail(contentTooLarge(err.message));
      throw err;
    }
    let result: IngestResult;
    try {
      checkExtractSize(entry.size, options.maxExtractBytes);
      result = await options.pipeline.process(entry);
    } catch (err) {
      if (!(err instanceof AdapterError)) throw err;
      const error = { location: err.location, message: err.message };
      await options.pipeline.inbox.markFailed(entry._id, error);
      result = { inboxId: entry._id, status: 'failed', error, outputs: [], warnings: [] };
    }
    await noteWritten(options.pipeline, ctxOf(res), [result]);
    res.status(statusFor(result)).json({ results: [reportOf(result)] });
  });
  return router;
}

/** 201 written, 200 duplicate, 202 waiting for its patient; failures by where they are: metadata 400, content type 415, else 422. */
function statusFor(r: IngestResult): number {
  if (r.status === 'processed') return 201;
  if (r.status === 'duplicate') return 200;
  if (r.status === 'waiting') return 202;
  const where = r.error?.location ?? '';
  if (where.startsWith('metadata')) return 400;
  if (where === 'contentType') return 415;
  return 422;
}

/** Query parameters -> the adapter's metadata shape (validated by the adapter, so the raw is stored first). */
function metadataOf(req: Request): Record<string, unknown> {
  const q = req.query as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  const patient = q.patient;
  if (typeof patient === 'string') {
    const bar = patient.indexOf('|');
    out.patientIdentifier = bar < 0 ? { system: '', value: patient } : { system: patient.slice(0, bar), value: patient.slice(bar + 1) };
  } else if (patient !== undefined) {
    out.patientIdentifier = { system: '', value: '' };
  }
  for (const f of METADATA_FIELDS) if (typeof q[f] === 'string') out[f] = q[f];
  const unknown = Object.keys(q).filter((k) => k !== 'patient' && k !== 'filename' && !(METADATA_FIELDS as readonly string[]).includes(k));
  if (unknown.length) out.unknownParameters = unknown;
  return out;
}

class BodyTooLarge extends Error {}

/** The request body, refusing (mid-stream) more than `max` bytes. */
async function* limited(req: Request, max: number): AsyncGenerator<Uint8Array> {
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) throw new BodyTooLarge(`Document larger than the limit of ${max} bytes (IDR_DOCUMENT_MAX_BYTES)`);
    yield chunk;
  }
}

