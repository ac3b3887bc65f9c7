import type { Resource } from '@medplum/fhirtypes';
import { forbidden } from '@medplum/core';
import { fail, withText } from '../schema/outcomes.ts';
import { resourceOf } from '../schema/collections.ts';
import { resourceKey } from '../schema/resource-id.ts';
import type { Database } from './db.ts';
import { assertPermits, hiddenBecause, isRestrictedRecord, permits, type Permission } from './access.ts';
import type { RequestContext } from './request-context.ts';

/**
 * The enforcement point: every resource a repository call returns or writes passes here, with the
 * compartments it belongs to. Hidden resources are refused (403, single reads and writes) or left
 * out (searches, includes, several-at-once reads), and what is shown is noted for the audit.
 */

/** A resource as the guard needs it: its type, id and the patients whose compartments hold it. */
export interface Guarded {
  type: string;
  id: string;
  patients: readonly string[];
}

/** Per-request cache of "is this patient's record restricted" (one `_id` lookup per patient). */
const restrictedCache = new WeakMap<RequestContext, Map<string, boolean>>();

async function restrictedPatients(database: Database, ctx: RequestContext, patients: Iterable<string>): Promise<Map<string, boolean>> {
  let cache = restrictedCache.get(ctx);
  if (!cache) restrictedCache.set(ctx, (cache = new Map()));
  for (const p of new Set(patients)) {
    if (cache.has(p)) continue;
    const doc = await database.c.resources.findOne({ _id: resourceKey('Patient', p) }, { projection: { json: 1 } });
    const res = doc ? resourceOf(doc) : undefined;
    cache.set(p, res ? isRestrictedRecord(res) : false);
  }
  return cache;
}

function compartment(g: Guarded): readonly string[] {
  return g.type === 'Patient' ? [g.id] : g.patients;
}

/** Why each resource is hidden from the caller (undefined = visible), resolving restricted records as needed. */
async function reasons(database: Database, ctx: RequestContext, items: readonly Guarded[], permission: Permission): Promise<(string | undefined)[]> {
  const access = ctx.access;
  if (access.unrestricted) return items.map(() => undefined);
  const restricted = access.restrictedNeedsBreakGlass ? await restrictedPatients(database, ctx, items.flatMap(compartment)) : new Map<string, boolean>();
  return items.map((g) => {
    if (!permits(access, g.type, permission)) return `your access does not allow ${permission === 'c' ? 'create' : permission === 'u' ? 'update' : permission === 'd' ? 'delete' : 'read'} on ${g.type}`;
    const why = hiddenBecause(access, g.type, g.id, g.patients, permission, (p) => restricted.get(p) === true);
    if (!why && access.breakGlass) {
      // Would it have been hidden without the stated reason? Then the glass was broken.
      const without = hiddenBecause({ ...access, breakGlass: undefined }, g.type, g.id, g.patients, permission, (p) => restricted.get(p) === true);
      if (without && ctx.seen) ctx.seen.glassBroken = true;
    }
    return why;
  });
}

/** Refuses (403) unless the caller may see/change this one resource; notes it for the audit. */
export async function assertVisible(database: Database, ctx: RequestContext, item: Guarded, permission: Permission, note = true): Promise<void> {
  assertPermits(ctx.access, item.type, permission);
  const [why] = await reasons(database, ctx, [item], permission);
  // Refused or not, the audit names what was asked for (a refusal is audited with its patient).
  if (note) ctx.seen?.add(item.type, item.id, item.patients);
  if (why) fail(withText(forbidden, why));
}

/** Keeps the items the caller may read (in order), notes them for the audit and counts the rest as withheld. */
export async function keepVisible<T>(database: Database, ctx: RequestContext, items: readonly T[], guarded: (item: T) => Guarded, permission: Permission = 'r'): Promise<T[]> {
  if (!items.length) return [];
  const g = items.map(guarded);
  const why = await reasons(database, ctx, g, permission);
  const out: T[] = [];
  items.forEach((item, i) => {
    const gi = g[i] as Guarded;
    if (why[i]) {
      if (ctx.seen) ctx.seen.withheld++;
      return;
    }
    ctx.seen?.add(gi.type, gi.id, gi.patients);
    out.push(item);
  });
  return out;
}

/** Refuses (403) unless the caller may read this patient's record (the timeline, the case summary). */
export async function assertPatientVisible(database: Database, ctx: RequestContext, patient: string): Promise<void> {
  await assertVisible(database, ctx, { type: 'Patient', id: patient, patients: [patient] }, 'r');
}

/** The guard's view of a stored document (its `_id` is "Type/id"). */
export function guardedDoc(doc: { _id: string; patients?: readonly string[] }): Guarded {
  const slash = doc._id.indexOf('/');
  return { type: doc._id.slice(0, slash), id: doc._id.slice(slash + 1), patients: doc.patients ?? [] };
}

/** The guard's view of a resource and the compartments it belongs to. */
export function guardedResource(resource: Resource, patients: readonly string[]): Guarded {
  return { type: resource.resourceType, id: resource.id ?? '', patients };
}
