import type { Bundle, BundleEntry, Identifier, Patient } from '@medplum/fhirtypes';
import type { Repository } from '../store/repository.ts';
import type { RequestContext } from '../store/request-context.ts';
import { AdapterError } from './adapters/types.ts';

/**
 * Patient matching for ingestion, by identifier only (never by name): a Patient entry matches an
 * existing Patient that shares ANY of its identifiers (system + value). One match: the entry
 * becomes an update of that Patient with the incoming demographics (elements the input lacks are
 * kept) and the union of identifiers (so an MRN-only message never drops a known BSN). No match: a new Patient. Identifiers that
 * point at two different Patients: refused, since merging records is a human decision.
 */
export async function resolvePatients(repo: Repository, ctx: RequestContext, bundle: Bundle): Promise<Bundle> {
  const entries: BundleEntry[] = [];
  for (const entry of bundle.entry ?? []) {
    if (entry.resource?.resourceType !== 'Patient') {
      entries.push(entry);
      continue;
    }
    const incoming = entry.resource as Patient;
    const identifiers = (incoming.identifier ?? []).filter((i) => i.system && i.value);
    if (!identifiers.length) throw new AdapterError('Patient.identifier', 'the patient has no identifier with a system and value; IDR never matches patients on name');
    const query = `identifier=${identifiers.map((i) => `${esc(i.system as string)}|${esc(i.value as string)}`).join(',')}`;
    const matches = await repo.searchByQuery(ctx, 'Patient', query, 3);
    if (matches.length > 1) {
      throw new AdapterError('Patient.identifier', `identifiers ${identifiers.map(show).join(', ')} belong to ${matches.length} different patients (${matches.map((m) => `Patient/${m.id}`).join(', ')}); refusing to guess — merge or correct the records first`);
    }
    const existing = matches[0] as Patient | undefined;
    if (!existing) {
      entries.push({ ...entry, request: { method: 'PUT', url: `Patient?${query}` } });
      continue;
    }
    // Elements the input carries replace the stored ones; elements it lacks are kept (a DICOM
    // header or an upload that only names the patient must not wipe the demographics).
    const { meta: _meta, ...stored } = existing;
    const merged: Patient = { ...stored, ...incoming, id: existing.id as string, identifier: mergeIdentifiers(existing.identifier ?? [], incoming.identifier ?? []) };
    entries.push({ ...entry, resource: merged, request: { method: 'PUT', url: `Patient/${existing.id}` } });
  }
  return { ...bundle, entry: entries };
}

function mergeIdentifiers(known: Identifier[], incoming: Identifier[]): Identifier[] {
  const key = (i: Identifier): string => `${i.system ?? ''}|${i.value ?? ''}`;
  const out = [...incoming];
  const seen = new Set(incoming.map(key));
  for (const i of known) if (!seen.has(key(i))) out.push(i);
  return out;
}

function esc(s: string): string {
  return encodeURIComponent(s.replace(/([\\,])/g, '\\$1'));
}

function show(i: Identifier): string {
  return `${i.system}|${i.value}`;
}
