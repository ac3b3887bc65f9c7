import type { OperationOutcome } from '@medplum/fhirtypes';
import type { IngestResult, Pipeline } from '../../ingestion/pipeline.ts';
import type { RequestContext } from '../../store/request-context.ts';
import { findAnyOf } from '../../store/find-any-of.ts';
import { AccessLog } from '../../store/request-context.ts';

/** One ingestion result as the HTTP API reports it: the pipeline result plus an OperationOutcome. */
export interface IngestReport extends IngestResult {
  outcome: OperationOutcome;
}

/** Describes a pipeline result as an OperationOutcome (informational, or an error naming where). */
export function reportOf(r: IngestResult): IngestReport {
  let outcome: OperationOutcome;
  if (r.status === 'failed') {
    outcome = {
      resourceType: 'OperationOutcome',
      issue: [
        {
          severity: 'error',
          code: 'processing',
          details: { text: `${r.error?.location ? `${r.error.location}: ` : ''}${r.error?.message ?? 'failed'} (raw input kept as inbox entry ${r.inboxId})` },
          ...(r.error?.location ? { expression: [r.error.location] } : {}),
        },
      ],
    };
  } else if (r.status === 'waiting') {
    outcome = {
      resourceType: 'OperationOutcome',
      issue: [
        {
          severity: 'information',
          code: 'informational',
          details: { text: `waiting for a patient with identifier ${(r.waitingFor ?? []).join(' or ')}: kept as inbox entry ${r.inboxId} and filed when that patient is written` },
          ...(r.error?.location ? { expression: [r.error.location] } : {}),
        },
      ],
    };
  } else {
    const text = r.status === 'duplicate' ? `duplicate of inbox entry ${r.duplicateOf}: nothing new written` : `${r.label ?? 'input'} ingested: ${r.outputs.length} resources written`;
    outcome = {
      resourceType: 'OperationOutcome',
      issue: [
        { severity: 'information', code: 'informational', details: { text } },
        ...r.warnings.map((w) => ({ severity: 'warning' as const, code: 'informational' as const, details: { text: w } })),
      ],
    };
  }
  return { ...r, outcome };
}

/** HTTP status for a set of results: 201 all written, 200 all duplicates, 422 all failed, 202 all waiting for their patient, 207 mixed. */
export function statusOf(results: IngestResult[]): number {
  if (results.every((r) => r.status === 'failed')) return 422;
  if (results.some((r) => r.status === 'failed')) return 207;
  if (results.every((r) => r.status === 'waiting')) return 202;
  if (results.some((r) => r.status === 'waiting')) return 207;
  if (results.every((r) => r.status === 'duplicate')) return 200;
  return 201;
}

/**
 * Notes what an ingestion request wrote (and the patients it is about) for the request's audit
 * record: the pipeline writes as IDR itself, so the repository did not see the caller.
 */
export async function noteWritten(pipeline: Pipeline, ctx: RequestContext, results: IngestResult[]): Promise<void> {
  if (!ctx.seen) return;
  const refs = [...new Set(results.flatMap((r) => r.outputs).map((o) => o.split('/_history/')[0] ?? o))].slice(0, AccessLog.MAX_LISTED);
  if (!refs.length) return;
  const db = pipeline.repo.database;
  const docs = await findAnyOf(db.c.resources, {}, '_id', refs, { projection: { patients: 1 } });
  for (const d of docs) {
    const slash = d._id.indexOf('/');
    ctx.seen.add(d._id.slice(0, slash), d._id.slice(slash + 1), d.patients ?? []);
  }
}
