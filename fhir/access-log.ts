import type { AuditEvent } from '@medplum/fhirtypes';
import { forbidden } from '@medplum/core';
import { fail, withText } from '../schema/outcomes.ts';
import type { Repository } from '../store/repository.ts';
import { systemContext, type RequestContext } from '../store/request-context.ts';
import type { SearchResult } from '../store/repository-search.ts';
import { parseFhirSearch } from '../store/search-to-mongo.ts';

/**
 * Patient/{id}/$access-log: who accessed this patient's record — for the patient themselves
 * (Wabvpz / NEN 7513: patients may see the log) and for administrators. Each entry is the stored
 * AuditEvent reduced to what concerns this patient: when, who (name, role, client), what action
 * and resource types, why, and the outcome. Other patients an access also touched, query texts and
 * the hash chain are left out, so one patient's view never tells of another.
 */
export async function patientAccessLog(repo: Repository, ctx: RequestContext, id: string, page: { count: number; offset: number; since?: Date }): Promise<SearchResult> {
  // The caller must be able to read the Patient (this audits the look at the log too).
  await repo.read(ctx, 'Patient', id);
  const own = ctx.access.patient === id;
  if (!own && !ctx.access.unrestricted && !ctx.access.otherScopes?.includes('idr/audit')) {
    fail(withText(forbidden, 'The access log of a record is for the patient themselves and for auditors (scope idr/audit)'));
  }
  const query = new URLSearchParams({ patient: `Patient/${id}`, _sort: '-date', _count: String(page.count), _offset: String(page.offset) });
  if (page.since) query.set('date', `ge${page.since.toISOString()}`);
  const found = await repo.search(systemContext('access-log', ctx.requestId), parseFhirSearch('AuditEvent', query.toString()));
  return { ...found, resources: found.resources.map((e) => reduce(e as AuditEvent, id)), included: [] };
}

/** The AuditEvent as this patient may see it: a whitelist of fields (no free text, which may name other records). */
function reduce(e: AuditEvent, patient: string): AuditEvent {
  const mine = `Patient/${patient}`;
  return {
    resourceType: 'AuditEvent',
    ...(e.id ? { id: e.id } : {}),
    type: e.type,
    ...(e.subtype ? { subtype: e.subtype } : {}),
    ...(e.action ? { action: e.action } : {}),
    recorded: e.recorded,
    ...(e.outcome ? { outcome: e.outcome } : {}),
    ...(e.purposeOfEvent ? { purposeOfEvent: e.purposeOfEvent.map((p) => ({ ...(p.coding ? { coding: p.coding } : {}) })) } : {}),
    agent: e.agent.map((a) => ({
      ...(a.type ? { type: a.type } : {}),
      ...(a.role ? { role: a.role } : {}),
      ...(a.who ? { who: a.who } : {}),
      ...(a.name ? { name: a.name } : {}),
      requestor: a.requestor,
    })),
    source: { observer: e.source.observer, ...(e.source.type ? { type: e.source.type } : {}) },
    entity: (e.entity ?? []).filter((x) => x.what?.reference === mine).map((x) => ({ what: { reference: mine }, ...(x.type ? { type: x.type } : {}), ...(x.role ? { role: x.role } : {}) })),
    ...(e.meta?.tag ? { meta: { tag: e.meta.tag } } : {}),
  };
}
