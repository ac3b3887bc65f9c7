import express, { type Router } from 'express';
import type { Logger } from 'pino';
import type { Pipeline } from '../../ingestion/pipeline.ts';
import { splitHl7Batch } from '../../ingestion/adapters/hl7v2/index.ts';
import { decodeHl7Text, hl7Encoding } from '../../ingestion/adapter-registry.ts';
import { INBOX_STATUS, type InboxEntry, type InboxStatus } from '../../ingestion/inbox.ts';
import { badRequest, contentTooLarge, forbidden, notFound } from '@medplum/core';
import type { RequestContext } from '../../store/request-context.ts';
import { fail, withText } from '../../schema/outcomes.ts';
import { noteWritten, reportOf, statusOf } from './results.ts';
import { patientReportRouter } from './patient-routes.ts';
import type { AsyncJobs } from '../async-jobs.ts';
import { deleteJob, sendAccepted, sendJobStatus, wantsAsync } from '../async-status.ts';
import { ctxOf } from '../http/context.ts';

const HL7_TYPES = ['text/plain', 'x-application/hl7-v2+er7', 'application/hl7-v2', 'application/hl7-v2+er7', 'application/edi-hl7', 'application/octet-stream'];

/**
 * The ingestion HTTP API: POST raw inputs, list/inspect/download stored inputs, reprocess failures.
 * Every body is stored in the inbox before it is processed. POST /hl7v2 takes at most
 * `maxMessages` messages (413 above it, nothing stored), stores all of them, then processes them
 * in groups (Pipeline.processMany) until done or until the client goes away; what is left stays
 * in the inbox as received, to be reprocessed.
 */
export function ingestRouter(options: { pipeline: Pipeline; maxBodyBytes: number; maxMessages: number; logger?: Logger; asyncJobs?: AsyncJobs }): Router {
  const { pipeline } = options;
  const router = express.Router();
  const jobs = options.asyncJobs;
  if (jobs) {
    router.get('/jobs/:id', (req, res) => sendJobStatus(jobs, req, res, 'application/json'));
    router.delete('/jobs/:id', (req, res) => deleteJob(jobs, req, res));
  }

  router.post('/hl7v2', express.raw({ type: () => true, limit: options.maxBodyBytes }), async (req, res) => {
    const type = (req.header('content-type') ?? 'text/plain').split(';')[0]?.trim().toLowerCase() ?? '';
    if (!HL7_TYPES.includes(type)) fail({ ...badRequest(`Content-Type ${type} is not accepted here; send HL7 v2 as text/plain or x-application/hl7-v2+er7`), id: 'unsupported-media-type' });
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    if (body.length === 0) fail(badRequest('Empty body: expected one or more HL7 v2 messages'));
    const messages = splitBody(body);
    if (messages.length > options.maxMessages) {
      fail(contentTooLarge(`The body holds ${messages.length} HL7 v2 messages; at most ${options.maxMessages} are taken per request (IDR_INGEST_MAX_MESSAGES): send them in several requests. Nothing was stored.`));
    }
    const entries = await pipeline.receiveMany(messages.map((bytes) => ({ bytes, kind: 'hl7v2', source: 'http', origin: req.ip ?? '' })));
    if (jobs && wantsAsync(req)) {
      // Every message is stored; they are processed in the background, the results at the status URL.
      const id = await jobs.start('hl7v2-batch', ctxOf(res).actor, entries.length, async (control) => {
        const results = await pipeline.processMany(entries, { progress: (done) => control.progress(done, entries.length) });
        return { status: statusOf(results), body: { results: results.map(reportOf) } };
      });
      sendAccepted(res, `${req.baseUrl}/jobs/${id}`, 'application/json');
      return;
    }
    const gone = clientGone(res);
    const results = await pipeline.processMany(entries, { stop: () => gone.aborted });
    if (results.length < entries.length) {
      options.logger?.warn({ requestId: res.locals.ctx?.requestId, stored: entries.length, processed: results.length }, 'client went away: the rest of the batch stays in the inbox as received');
      return;
    }
    await noteWritten(pipeline, ctxOf(res), results);
    res.status(statusOf(results)).json({ results: results.map(reportOf) });
  });

  router.use(patientReportRouter({ pipeline }));

  router.get('/messages', async (req, res) => {
    const status = typeof req.query.status === 'string' ? req.query.status : undefined;
    if (status && !Object.values(INBOX_STATUS).includes(status as InboxStatus)) fail(badRequest(`status must be one of ${Object.values(INBOX_STATUS).join(', ')}`, 'status'));
    const kind = typeof req.query.kind === 'string' ? req.query.kind : undefined;
    const limit = Math.min(Number(req.query._count ?? 50), 500);
    const offset = Number(req.query._offset ?? 0);
    if (!Number.isInteger(limit) || limit < 0 || !Number.isInteger(offset) || offset < 0) fail(badRequest('_count and _offset must be non-negative integers'));
    const page = await pipeline.inbox.list({ ...(status ? { status: status as InboxStatus } : {}), ...(kind ? { kind } : {}) }, { limit, offset });
    res.json({ total: page.total, entries: page.entries });
  });

  router.post('/messages/_reprocess-failed', async (_req, res) => {
    const results = await pipeline.reprocessFailed();
    await noteWritten(pipeline, ctxOf(res), results);
    res.json({ results: results.map(reportOf) });
  });

  router.get('/messages/:id', async (req, res) => {
    const entry = await pipeline.inbox.get(req.params.id);
    if (!entry) fail(withText(notFound, `Inbox entry ${req.params.id} not found`));
    const { bytes: _bytes, ...summary } = entry;
    res.json(summary);
  });

  router.get('/messages/:id/raw', async (req, res) => {
    const entry = await pipeline.inbox.get(req.params.id);
    if (!entry) fail(withText(notFound, `Inbox entry ${req.params.id} not found`));
    await assertMayDownload(pipeline, ctxOf(res), entry);
    const bytes = await pipeline.inbox.bytes(entry);
    res.status(200).type(entry.contentType ?? (entry.kind === 'hl7v2' ? 'x-application/hl7-v2+er7' : 'application/octet-stream')).send(bytes);
  });

  router.post('/messages/:id/reprocess', async (req, res) => {
    const result = await pipeline.reprocess(req.params.id);
    if (!result) fail(withText(notFound, `Inbox entry ${req.params.id} not found`));
    await noteWritten(pipeline, ctxOf(res), [result]);
    res.status(result.status === 'failed' ? 422 : 200).json(reportOf(result));
  });

  return router;
}

/** A signal that aborts when the connection closes before the response was sent. */
function clientGone(res: express.Response): AbortSignal {
  const controller = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  return controller.signal;
}

/**
 * One body may hold several messages (MLLP-framed, FHS/BHS batch, back to back). A body with a
 * single message is stored byte for byte; a batch is stored message by message. A body that
 * cannot even be split (not text, no MSH) is stored whole, so its failure is kept too.
 */
export function splitBody(body: Buffer): Buffer[] {
  let messages: string[];
  try {
    messages = splitHl7Batch(decodeHl7Text(body));
  } catch {
    return [body];
  }
  if (messages.length <= 1) return [body];
  // Encoded back as the body was decoded: a Latin-1 batch stays Latin-1, as its MSH-18 says.
  const encoding = hl7Encoding(body);
  return messages.map((m) => Buffer.from(m, encoding));
}

/**
 * The original bytes of an input: for interface engines and administrators (idr/ingest), and for
 * whoever may read a document or report made from it (a letter's PDF is its DocumentReference's
 * attachment). Either way the patients it is about are noted for the audit.
 */
async function assertMayDownload(pipeline: Pipeline, ctx: RequestContext, entry: InboxEntry): Promise<void> {
  const written = [...new Set((entry.outputs ?? []).map((r) => r.split('/_history/')[0] ?? r))];
  if (ctx.access.unrestricted || ctx.access.otherScopes?.includes('idr/ingest')) {
    for (const ref of written) if (ref.startsWith('Patient/')) ctx.seen?.add('Patient', ref.slice('Patient/'.length), []);
    return;
  }
  const documents = written.filter((r) => r.startsWith('DocumentReference/') || r.startsWith('DiagnosticReport/'));
  const readable = await pipeline.repo.readMany(ctx, documents);
  if (!readable.size) fail(withText(forbidden, `The original of inbox entry ${entry._id} is for interface engines and administrators (scope idr/ingest), or for readers of a document made from it`));
}
