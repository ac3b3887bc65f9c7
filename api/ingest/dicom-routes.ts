import express, { type Request, type Router } from 'express';
import { z } from 'zod';
import type { Pipeline } from '../../ingestion/pipeline.ts';
import { DicomwebRequestError, isPacsError, type DicomwebImporter } from '../../ingestion/listeners/dicomweb-import.ts';
import { badRequest, unsupportedMediaType } from '@medplum/core';
import { fail, withText } from '../../schema/outcomes.ts';
import { sendOutcome } from '../http/errors.ts';
import { noteWritten, reportOf, statusOf } from './results.ts';
import { ctxOf } from '../http/context.ts';

const DICOM_TYPES = ['application/dicom', 'application/octet-stream'];
const DATE_RANGE = /^(\d{8}|\d{8}-|-\d{8}|\d{8}-\d{8})$/;

const dicomwebBody = z.object({
  source: z.string().trim().min(1).default('default'),
  patientId: z.string().trim().min(1).optional(),
  issuerOfPatientId: z.string().trim().min(1).optional(),
  studyDate: z.string().regex(DATE_RANGE, 'must be YYYYMMDD or a range YYYYMMDD-YYYYMMDD (either side may be open)').optional(),
  studyUid: z.string().regex(/^[0-9]+(\.[0-9]+)*$/, 'must be a DICOM UID').max(64).optional(),
  since: z.string().regex(/^(last|\d{4}-?\d{2}-?\d{2})$/, 'must be a date (YYYY-MM-DD) or "last"').optional(),
});

/**
 * Imaging ingestion:
 *  - POST /dicom: one DICOM Part 10 file as the body (application/dicom). Only the first
 *    IDR_DICOM_HEADER_BYTES are kept (the header; pixel data is read past and dropped). Query:
 *    `wadoRsBase` (the PACS the file comes from, for the Endpoint), `filename`.
 *  - POST /dicomweb: JSON { source?, patientId?, issuerOfPatientId?, studyDate?, studyUid?, since? }.
 *    `source` names a PACS configured in IDR_DICOMWEB_SOURCES ("default": IDR_DICOMWEB_URL); a
 *    URL in the body is refused, so a client can never make IDR fetch an address of its choosing.
 */
export function dicomRouter(options: { pipeline: Pipeline; importer: DicomwebImporter; headerBytes: number }): Router {
  const router = express.Router();

  router.post('/dicom', async (req, res) => {
    const type = (req.header('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
    if (!DICOM_TYPES.includes(type)) fail(withText(unsupportedMediaType, `Content-Type ${JSON.stringify(type)} is not accepted here; send one DICOM Part 10 file as application/dicom`));
    const wadoRsBase = typeof req.query.wadoRsBase === 'string' ? req.query.wadoRsBase : undefined;
    if (wadoRsBase && !/^https?:\/\/\S+$/.test(wadoRsBase)) fail(badRequest('wadoRsBase must be an http(s) URL', 'wadoRsBase'));
    const filename = typeof req.query.filename === 'string' ? req.query.filename : undefined;
    const { head, size } = await readHead(req, options.headerBytes);
    if (size === 0) fail(badRequest('Empty body: expected one DICOM Part 10 file'));
    const result = await options.pipeline.ingest({
      bytes: head,
      kind: 'dicom',
      source: 'http',
      origin: req.ip ?? '',
      contentType: 'application/dicom',
      ...(filename ? { filename } : {}),
      metadata: { size, truncated: size > head.length, ...(wadoRsBase ? { wadoRsBase } : {}) },
    });
    await noteWritten(options.pipeline, ctxOf(res), [result]);
    res.status(statusOf([result])).json({ results: [reportOf(result)] });
  });

  router.post('/dicomweb', express.json({ limit: '64kb', type: ['application/json', 'application/fhir+json'] }), async (req, res) => {
    const body: unknown = req.body ?? {};
    if (typeof body === 'object' && body !== null && 'url' in body) {
      fail(badRequest('url: not accepted; name a PACS with "source" instead (the PACS IDR may import from are configured in IDR_DICOMWEB_SOURCES, and IDR_DICOMWEB_URL as "default")', 'url'));
    }
    const parsed = dicomwebBody.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      fail(badRequest(`${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}`, issue?.path.join('.')));
    }
    try {
      const { source, ...query } = parsed.data;
      const r = await options.importer.import({ ...query, url: options.importer.sourceUrl(source) }, 'http');
      const status = r.results.length ? statusOf(r.results) : 200;
      await noteWritten(options.pipeline, ctxOf(res), r.results);
      res.status(status).json({ ...r, results: r.results.map(reportOf) });
    } catch (err) {
      if (err instanceof DicomwebRequestError) fail(badRequest(err.message, err.field));
      if (isPacsError(err)) {
        if (err.kind === 'invalid-request') fail(badRequest(err.message));
        const status = err.kind === 'timeout' ? 504 : 502;
        sendOutcome(res, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: err.kind === 'timeout' ? 'timeout' : 'transient', details: { text: `DICOMweb import failed, nothing was imported: ${err.message}` }, diagnostics: `kind=${err.kind} attempts=${err.attempts}${err.status ? ` status=${err.status}` : ''}` }] }, status);
        return;
      }
      throw err;
    }
  });

  return router;
}

/** Reads the first `limit` bytes of a request body and drains (counts) the rest, with bounded memory. */
async function readHead(req: Request, limit: number): Promise<{ head: Buffer; size: number }> {
  const chunks: Buffer[] = [];
  let kept = 0;
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (kept < limit) {
      const part = chunk.subarray(0, limit - kept);
      chunks.push(part);
      kept += part.length;
    }
  }
  return { head: Buffer.concat(chunks), size };
}
