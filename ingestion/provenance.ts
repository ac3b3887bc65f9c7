import type { Bundle, BundleEntry, Provenance, Reference } from '@medplum/fhirtypes';

/** The identifier system of inbox entries (raw inputs), as used in Provenance.entity. */
export const INBOX_SYSTEM = 'urn:idr:inbox';

/**
 * Adds to a transaction Bundle a Provenance that names every resource the Bundle writes as its
 * target and the raw inbox entry (with the adapter version) as its source. It is written in the
 * same transaction, so a resource never exists without its trace back to the raw input. Its id is
 * the inbox entry's id: one Provenance per raw input, so reprocessing an entry makes a new version
 * of its Provenance instead of a second one.
 * See: https://hl7.org/fhir/R4/provenance.html
 */
export function withProvenance(bundle: Bundle, source: { inboxId: string; label: string; adapterVersion: string; recorded: Date; newId: () => string }): Bundle {
  const targets: Reference[] = [];
  for (const e of bundle.entry ?? []) {
    if (!e.fullUrl || !e.resource || e.request?.method === 'DELETE' || e.request?.method === 'GET') continue;
    targets.push({ reference: e.fullUrl });
  }
  if (!targets.length) return bundle;
  const provenance: Provenance = {
    resourceType: 'Provenance',
    id: source.inboxId,
    target: targets,
    recorded: source.recorded.toISOString(),
    activity: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-DataOperation', code: 'CREATE', display: 'create' }], text: source.label },
    agent: [
      {
        type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type', code: 'assembler', display: 'Assembler' }] },
        who: { display: `IDR ingestion, adapter ${source.adapterVersion}` },
      },
    ],
    entity: [
      {
        role: 'source',
        what: { identifier: { system: INBOX_SYSTEM, value: source.inboxId }, display: `raw input ${source.inboxId} (${source.label}); GET /ingest/messages/${source.inboxId}/raw` },
      },
    ],
  };
  const entry: BundleEntry = {
    fullUrl: `urn:uuid:${source.newId()}`,
    resource: provenance,
    request: { method: 'PUT', url: `Provenance/${source.inboxId}` },
  };
  return { ...bundle, entry: [...(bundle.entry ?? []), entry] };
}
