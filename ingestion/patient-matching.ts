import type { Bundle, BundleEntry, Identifier, Patient } from '@medplum/fhirtypes';
import type { Repository } from '../store/repository.ts';
import type { WriteScope } from '../store/version-store.ts';
import type { RequestContext } from '../store/request-context.ts';
import { AdapterError } from './adapters/types.ts';
import { patientScope } from './adapters/hl7v2/patient-scope.ts';

/**
 * Patient matching for ingestion, by identifier only (never by name): a Patient entry matches an
 * existing Patient that shares ANY of its identifiers (system + value). One match: the entry
 * becomes an update of that Patient with the incoming demographics (elements the input lacks are
 * kept) and the union of identifiers (so an MRN-only message never drops a known BSN; known
 * identifiers keep their place, new ones are added after them). No match: a new Patient.
 * Identifiers that point at two different Patients: refused, since merging records is a human decision.
 *
 * Patient scope: adapters scope the identities they derive (reports, observations, documents...)
 * by the Patient entry's first identifier (see patientScope). A known patient's scope is that of
 * its stored first identifier, so when a later input names the patient by another identifier
 * first (an MRN-only message, a BSN added later), its derived identities are rewritten to the
 * stored patient's scope: the same order or document keeps updating the same resources.
 * `scope`: lookups a caller has read ahead (a WriteBatch's prefetch), consulted before the store.
 */
export async function resolvePatients(repo: Repository, ctx: RequestContext, bundle: Bundle, scope?: WriteScope): Promise<Bundle> {
  const entries: BundleEntry[] = [];
  const rescoped = new Map<string, string>();
  for (const entry of bundle.entry ?? []) {
    if (entry.resource?.resourceType !== 'Patient') {
      entries.push(entry);
      continue;
    }
    const incoming = entry.resource as Patient;
    const identifiers = (incoming.identifier ?? []).filter((i) => i.system && i.value);
    if (!identifiers.length) throw new AdapterError('Patient.identifier', 'the patient has no identifier with a system and value; IDR never matches patients on name');
    const query = `identifier=${identifiers.map((i) => `${esc(i.system as string)}|${esc(i.value as string)}`).join(',')}`;
    const matches = await repo.searchByQuery(ctx, 'Patient', query, 3, scope);
    if (matches.length > 1) {
      throw new AdapterError('Patient.identifier', `identifiers ${identifiers.map(show).join(', ')} belong to ${matches.length} different patients (${matches.map((m) => `Patient/${m.id}`).join(', ')}); refusing to guess — merge or correct the records first`);
    }
    const existing = matches[0] as Patient | undefined;
    if (!existing) {
      entries.push({ ...entry, request: { method: 'PUT', url: `Patient?${query}` } });
      continue;
    }
    const [adapterKey] = incoming.identifier ?? [];
    const [storedKey] = existing.identifier ?? [];
    if (adapterKey && storedKey) {
      const from = patientScope(adapterKey);
      const to = patientScope(storedKey);
      if (from !== to) rescoped.set(from, to);
    }
    // Elements the input carries replace the stored ones; elements it lacks are kept (a DICOM
    // header or an upload that only names the patient must not wipe the demographics).
    const { meta: _meta, ...stored } = existing;
    const merged: Patient = { ...stored, ...incoming, id: existing.id as string, identifier: mergeIdentifiers(existing.identifier ?? [], incoming.identifier ?? []) };
    entries.push({ ...entry, resource: merged, request: { method: 'PUT', url: `Patient/${existing.id}` } });
  }
  return { ...bundle, entry: rescoped.size ? entries.map((e) => (e.resource?.resourceType === 'Patient' ? e : rescope(e, rescoped))) : entries };
}

/** Known identifiers first, in their order (the incoming version of each where both have it), then the new ones. */
function mergeIdentifiers(known: Identifier[], incoming: Identifier[]): Identifier[] {
  const key = (i: Identifier): string => `${i.system ?? ''}|${i.value ?? ''}`;
  const byKey = new Map(incoming.map((i) => [key(i), i]));
  const out = known.map((i) => byKey.get(key(i)) ?? i);
  const seen = new Set(known.map(key));
  for (const i of incoming) if (!seen.has(key(i))) out.push(i);
  return out;
}

/** The entry with every derived identity under an adapter's patient scope moved to the stored patient's scope. */
function rescope(entry: BundleEntry, scopes: Map<string, string>): BundleEntry {
  let json = JSON.stringify(entry);
  for (const [from, to] of scopes) json = json.replaceAll(`${from}/`, `${to}/`);
  return JSON.parse(json) as BundleEntry;
}

function esc(s: string): string {
  return encodeURIComponent(s.replace(/([\\,])/g, '\\$1'));
}

function show(i: Identifier): string {
  return `${i.system}|${i.value}`;
}
