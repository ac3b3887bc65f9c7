import { contentTooLarge } from '@medplum/core';
import { fail } from '../../schema/outcomes.ts';

/** The default of IDR_BUNDLE_MAX_ENTRIES. */
export const DEFAULT_MAX_BUNDLE_ENTRIES = 1000;

/**
 * Refuses, before any entry is processed, a batch or transaction Bundle (POST to the FHIR base)
 * with more than `max` entries: 413 with an OperationOutcome naming the count and the limit.
 * Anything else passes untouched (the FHIR router judges it).
 * See: https://hl7.org/fhir/R4/http.html#transaction
 */
export function checkBundleEntryCount(body: unknown, max: number): void {
  if (!body || typeof body !== 'object') return;
  const bundle = body as { resourceType?: unknown; type?: unknown; entry?: unknown };
  if (bundle.resourceType !== 'Bundle' || !Array.isArray(bundle.entry) || bundle.entry.length <= max) return;
  const type = typeof bundle.type === 'string' ? `${bundle.type} ` : '';
  fail(contentTooLarge(`The ${type}Bundle has ${bundle.entry.length} entries; at most ${max} are processed per request (IDR_BUNDLE_MAX_ENTRIES): split it into several Bundles. Nothing was written.`));
}
