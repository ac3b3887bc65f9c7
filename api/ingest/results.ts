import type { OperationOutcome } from '@medplum/fhirtypes';
import type { IngestResult } from '../../ingestion/pipeline.ts';

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
