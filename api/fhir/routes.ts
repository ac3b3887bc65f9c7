import express, { type Request, type Response, type Router } from 'express';
import type { SearchRequest } from '@medplum/core';
import { parseFhirSearch } from '../../store/search-to-mongo.ts';
import type { Repository } from '../../store/repository.ts';
import { badRequest, notFound } from '@medplum/core';
import { fail, withText } from '../../schema/outcomes.ts';
import { ctxOf } from '../http/context.ts';
import { FHIR_JSON } from '../http/errors.ts';
import { capabilityStatement } from './capability.ts';
import {
  bundleHandler,
  conditionalDeleteHandler,
  conditionalUpdateHandler,
  createHandler,
  deleteHandler,
  readHandler,
  searchHandler,
  updateHandler,
  vreadHandler,
} from './handlers.ts';
import { patientEverything } from './everything.ts';
import { patientTimeline } from './timeline.ts';
import type { TimelineStore } from '../../timeline/projection.ts';
import { sendResult } from './result.ts';
import { searchsetBundle } from './search-bundle.ts';
import { subsetResource } from './elements.ts';
import { historyBundle } from './history-bundle.ts';

type Summary = 'true' | 'text' | 'data' | 'false';

/** The FHIR R4 REST API, mounted at /fhir. */
export function fhirRouter(options: { repo: Repository; baseUrl: string; version: string; maxBodyBytes: number; timeline?: TimelineStore }): Router {
  const { repo, baseUrl } = options;
  const router = express.Router();
  router.use(express.json({ type: ['application/json', 'application/fhir+json', 'application/json-patch+json'], limit: options.maxBodyBytes, strict: true }));
  router.use(express.urlencoded({ extended: false, limit: options.maxBodyBytes, type: 'application/x-www-form-urlencoded' }));

  const prefer = (req: Request): { minimal: boolean; outcome: boolean; lenient: boolean } => {
    const p = req.header('prefer') ?? '';
    return { minimal: /return=minimal/.test(p), outcome: /return=OperationOutcome/i.test(p), lenient: /handling=lenient/.test(p) };
  };
  const send = (req: Request, res: Response, r: Parameters<typeof sendResult>[1]): void => {
    const p = prefer(req);
    sendResult(res, r, { preferMinimal: p.minimal, preferOutcome: p.outcome });
  };
  const sendJson = (res: Response, body: unknown): void => {
    res.status(200).type(FHIR_JSON).send(JSON.stringify(body));
  };

  router.get('/metadata', (_req, res) => sendJson(res, capabilityStatement(baseUrl, options.version)));

  router.post('/', async (req, res) => send(req, res, await bundleHandler(repo, ctxOf(res), req.body)));

  const runSearch = async (req: Request, res: Response, type: string, query: URLSearchParams): Promise<void> => {
    const request = parseQuery(type, query);
    const result = await searchHandler(repo, ctxOf(res), request, prefer(req).lenient);
    const summary = query.get('_summary') as Summary | null;
    if (summary === ('count' as Summary)) {
      sendJson(res, { resourceType: 'Bundle', type: 'searchset', total: result.total ?? 0, link: [{ relation: 'self', url: `${baseUrl}/${type}?${query.toString()}` }] });
      return;
    }
    sendJson(res, searchsetBundle({ baseUrl, path: type, query, result, ...(request.fields ? { elements: request.fields } : {}), ...(summary ? { summary } : {}) }));
  };

  router.get('/:type', async (req, res) => runSearch(req, res, req.params.type, new URLSearchParams(queryString(req))));
  router.post('/:type/_search', async (req, res) => {
    const q = new URLSearchParams(queryString(req));
    if (req.body && typeof req.body === 'object') for (const [k, v] of Object.entries(req.body as Record<string, string | string[]>)) for (const x of [v].flat()) q.append(k, x);
    await runSearch(req, res, req.params.type, q);
  });
  router.post('/:type', async (req, res) =>
    send(req, res, await createHandler(repo, ctxOf(res), req.params.type, req.body, baseUrl, req.header('if-none-exist')?.replace(/^[A-Za-z]+\?/, '') || undefined)),
  );
  router.put('/:type', async (req, res) => {
    const q = queryString(req);
    if (!q) fail(badRequest('PUT needs an id (Type/id) or search criteria (Type?criteria)'));
    send(req, res, await conditionalUpdateHandler(repo, ctxOf(res), req.params.type, q, req.body, baseUrl));
  });
  router.get('/:type/_history', async (req, res) => {
    const page = historyPage(req);
    const h = await repo.history(ctxOf(res), req.params.type, undefined, page);
    sendJson(res, historyBundle(baseUrl, `${req.params.type}/_history`, new URLSearchParams(queryString(req)), h, page));
  });
  router.get('/:type/:id', async (req, res) => {
    const r = await readHandler(repo, ctxOf(res), req.params.type, req.params.id);
    const elements = typeof req.query._elements === 'string' ? req.query._elements.split(',') : undefined;
    const summary = typeof req.query._summary === 'string' ? (req.query._summary as Summary) : undefined;
    if (r.resource && (elements || summary)) r.resource = subsetResource(r.resource, { ...(elements ? { elements } : {}), ...(summary ? { summary } : {}) });
    send(req, res, r);
  });
  router.put('/:type/:id', async (req, res) => send(req, res, await updateHandler(repo, ctxOf(res), req.params.type, req.params.id, req.body, baseUrl, req.header('if-match') ?? undefined)));
  router.delete('/:type', async (req, res) => {
    const q = queryString(req);
    if (!q) fail(badRequest('DELETE needs an id (Type/id) or search criteria (Type?criteria)'));
    send(req, res, await conditionalDeleteHandler(repo, ctxOf(res), req.params.type, q));
  });
  router.delete('/:type/:id', async (req, res) => send(req, res, await deleteHandler(repo, ctxOf(res), req.params.type, req.params.id)));
  router.get('/:type/:id/_history', async (req, res) => {
    const page = historyPage(req);
    const h = await repo.history(ctxOf(res), req.params.type, req.params.id, page);
    sendJson(res, historyBundle(baseUrl, `${req.params.type}/${req.params.id}/_history`, new URLSearchParams(queryString(req)), h, page));
  });
  router.get('/:type/:id/_history/:vid', async (req, res) => send(req, res, await vreadHandler(repo, ctxOf(res), req.params.type, req.params.id, req.params.vid)));
  router.get('/:type/:id/:operation', async (req, res) => {
    const { type, id, operation } = req.params;
    if (type === 'Patient' && operation === '$timeline' && options.timeline) {
      sendJson(res, await patientTimeline({ repo, timeline: options.timeline }, ctxOf(res), { baseUrl, patient: id, query: new URLSearchParams(queryString(req)) }));
      return;
    }
    if (type !== 'Patient' || operation !== '$everything') fail(withText(notFound, `Unknown operation ${type}/${id}/${operation}`));
    const q = new URLSearchParams(queryString(req));
    const page = historyPage(req);
    const result = await patientEverything(repo, ctxOf(res), id, page);
    sendJson(res, searchsetBundle({ baseUrl, path: `Patient/${id}/$everything`, query: q, result }));
  });
  return router;
}

function queryString(req: Request): string {
  const i = req.originalUrl.indexOf('?');
  return i < 0 ? '' : req.originalUrl.slice(i + 1);
}

function parseQuery(type: string, query: URLSearchParams): SearchRequest {
  try {
    const request = parseFhirSearch(type, query.toString());
    const summary = query.get('_summary');
    if (summary === 'count') request.total = 'accurate';
    for (const k of ['_count', '_offset']) {
      const v = query.get(k);
      if (v !== null && !/^\d+$/.test(v)) fail(badRequest(`${k} must be a non-negative integer, got "${v}"`, k));
    }
    return request;
  } catch (err) {
    if (err instanceof Error && err.name !== 'OperationOutcomeError' && !('outcome' in err)) throw err;
    const text = (err as { outcome?: { issue?: { details?: { text?: string } }[] } }).outcome?.issue?.[0]?.details?.text ?? (err as Error).message;
    return fail(badRequest(text));
  }
}

function historyPage(req: Request): { count: number; offset: number; since?: Date } {
  const count = req.query._count === undefined ? 20 : Number(req.query._count);
  const offset = req.query._offset === undefined ? 0 : Number(req.query._offset);
  if (!Number.isInteger(count) || count < 0 || count > 1000) fail(badRequest('_count must be an integer between 0 and 1000', '_count'));
  if (!Number.isInteger(offset) || offset < 0) fail(badRequest('_offset must be a non-negative integer', '_offset'));
  const since = typeof req.query._since === 'string' ? new Date(req.query._since) : undefined;
  if (since && Number.isNaN(since.getTime())) fail(badRequest(`_since must be an instant, got "${String(req.query._since)}"`, '_since'));
  return { count, offset, ...(since ? { since } : {}) };
}
