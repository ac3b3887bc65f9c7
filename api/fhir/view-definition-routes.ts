import type { NextFunction, Request, Response } from 'express';
import { allOk, badRequest } from '@medplum/core';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { fail } from '../../schema/outcomes.ts';
import type { Repository } from '../../store/repository.ts';
import { readyMadeView, readyMadeViews, viewResultRows, viewRunRequest } from '../../fhir/view-run.ts';
import { CONTENT_TYPES, encodeRows } from '../../fhir/view-output.ts';
import type { Row } from '../../fhir/view-definition.ts';
import { ctxOf } from '../http/context.ts';
import { sendResult } from './result.ts';

/**
 * SQL on FHIR under /fhir: `GET ViewDefinition` (IDR's ready-made views), `GET ViewDefinition/{name}`,
 * `POST ViewDefinition/$run` (Parameters: viewResource or viewReference, _format, patient, _limit)
 * and `GET|POST ViewDefinition/{name}/$run`. ViewDefinition is not an R4 resource type, so these are
 * served here rather than by the FHIR router; the rows are streamed as they are produced.
 * See: https://sql-on-fhir.org/ig/OperationDefinition-ViewDefinitionRun.html
 */

const ROUTE = /^\/ViewDefinition(?:\/([A-Za-z0-9\-.]{1,64}))?(?:\/(\$run))?\/?$/;
/** Rows computed before the answer's status is sent: an error among them is still a clean 4xx. */
const PREFETCH_ROWS = 1000;
const EXTENSIONS = { csv: 'csv', ndjson: 'ndjson', json: 'json', parquet: 'parquet' } as const;

/** Express middleware answering the ViewDefinition paths; passes anything else on. */
export function viewDefinitionRoutes(options: { repo: Repository; baseUrl: string; onStreamError?: (err: unknown, req: Request) => void; pseudonymKey?: () => Promise<Buffer> }) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const m = ROUTE.exec(req.path);
    if (!m) {
      next();
      return;
    }
    const [, name, run] = m;
    if (name === '$run' || run) {
      if (req.method !== 'GET' && req.method !== 'POST') fail(badRequest('$run answers GET and POST', '$run'));
      await runView(options, req, res, name === '$run' ? undefined : name);
      return;
    }
    if (req.method !== 'GET') fail(badRequest(`ViewDefinitions are IDR's own (fhir/views/): they can be read and run, not ${req.method === 'DELETE' ? 'deleted' : 'written'}; POST ViewDefinition/$run runs one of your own`, 'ViewDefinition'));
    const resource = name ? asResource(name, readyMadeView(name)) : readyMadeBundle(options.baseUrl);
    sendResult(res, { outcome: allOk, resource }, { baseUrl: options.baseUrl });
  };
}

function asResource(name: string, view: object): Resource {
  return { resourceType: 'ViewDefinition', id: name, ...view } as unknown as Resource;
}

function readyMadeBundle(baseUrl: string): Bundle {
  const entry = [...readyMadeViews()].map(([name, view]) => ({ fullUrl: `${baseUrl}/ViewDefinition/${name}`, resource: asResource(name, view), search: { mode: 'match' as const } }));
  return { resourceType: 'Bundle', type: 'searchset', total: entry.length, entry };
}

async function runView(options: { repo: Repository; onStreamError?: (err: unknown, req: Request) => void; pseudonymKey?: () => Promise<Buffer> }, req: Request, res: Response, name: string | undefined): Promise<void> {
  const query = new URLSearchParams(req.originalUrl.includes('?') ? req.originalUrl.slice(req.originalUrl.indexOf('?') + 1) : '');
  const body = req.method === 'POST' && req.body && Object.keys(req.body as object).length ? (req.body as unknown) : undefined;
  const accept = req.header('accept');
  const request = viewRunRequest({ body, query, ...(name ? { name } : {}), ...(accept ? { accept } : {}) });
  const rows = viewResultRows(options.repo, ctxOf(res), request, options.pseudonymKey ? { pseudonymKey: options.pseudonymKey } : {});
  // The first rows (and with them the first page, where a refusal would come) before the status.
  const first: Row[] = [];
  let done = false;
  while (first.length < PREFETCH_ROWS) {
    const next = await rows.next();
    if (next.done) {
      done = true;
      break;
    }
    first.push(next.value);
  }
  const all = (async function* () {
    yield* first;
    if (!done) yield* rows;
  })();
  res.status(200).setHeader('content-type', CONTENT_TYPES[request.format]);
  res.setHeader('content-disposition', `attachment; filename="${(request.view.name ?? name ?? 'view').replace(/[^\w.-]/g, '_')}.${EXTENSIONS[request.format]}"`);
  const chunks = encodeRows(request.format, request.view.columns, all);
  try {
    for await (const chunk of chunks) {
      if (res.destroyed) break;
      if (!res.write(chunk)) await new Promise((resolve) => res.once('drain', resolve).once('close', resolve));
    }
  } catch (err) {
    // The status is sent: the answer is cut off (no final chunk), so the client cannot take it as complete.
    options.onStreamError?.(err, req);
    res.socket?.destroy();
  } finally {
    await chunks.return(undefined);
    // Ends the answer (its access record is written then), also when it was cut off.
    res.end();
  }
}
