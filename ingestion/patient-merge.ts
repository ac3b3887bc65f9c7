import type { Identifier, Patient, PatientLink, Provenance, Resource } from '@medplum/fhirtypes';
import { badRequest, conflict } from '@medplum/core';
import type { Repository } from '../store/repository.ts';
import type { RequestContext } from '../store/request-context.ts';
import type { TimelineStore } from '../timeline/projection.ts';
import { resourceOf } from '../schema/collections.ts';
import { fail } from '../schema/outcomes.ts';
import { patientScope } from './adapters/hl7v2/patient-scope.ts';

/**
 * Merges a duplicate patient record (source) into the one that stays (target): a human decision,
 * never taken by ingestion. Every resource of the source's compartment is moved to the target as
 * a new version (its references to the source now name the target, and the identities IDR
 * derived under the source's patient scope move to the target's scope, so later corrections of
 * the source's orders update the moved resources). The source's identifiers move to the target
 * (one patient per identifier), the source becomes inactive with a `replaced-by` link, the target
 * gets a `replaces` link; a Provenance records who merged what and when; both timelines are
 * rebuilt. Earlier versions stay in the history. Not atomic: a merge interrupted half-way is
 * finished by running it again (what was moved is no longer in the source's compartment).
 */

export interface MergeResult {
  source: Patient;
  target: Patient;
  /** "Type/id/_history/vid" of every resource moved to the target. */
  moved: string[];
  provenance: string;
}

/** Merges Patient/`sourceId` into Patient/`targetId`. */
export async function mergePatients(deps: { repo: Repository; timeline?: TimelineStore }, ctx: RequestContext, sourceId: string, targetId: string): Promise<MergeResult> {
  const { repo } = deps;
  if (sourceId === targetId) fail(badRequest('A patient cannot be merged into itself', 'target-patient'));
  const source = (await repo.read(ctx, 'Patient', sourceId)) as Patient;
  const target = (await repo.read(ctx, 'Patient', targetId)) as Patient;
  const replacedBy = source.link?.find((l) => l.type === 'replaced-by');
  if (replacedBy && replacedBy.other.reference !== `Patient/${targetId}`) fail(conflict(`Patient/${sourceId} was merged into ${replacedBy.other.reference} already`));
  if (target.link?.some((l) => l.type === 'replaced-by')) fail(conflict(`Patient/${targetId} was itself merged into another patient; merge into that one`));

  const fromScope = source.identifier?.[0] ? patientScope(source.identifier[0]) : undefined;
  const toScope = target.identifier?.[0] ? patientScope(target.identifier[0]) : undefined;
  const moved: string[] = [];
  const docs = await repo.database.c.resources.find({ patients: sourceId, deleted: false }, { projection: { json: 1, rt: 1 } }).toArray();
  for (const doc of docs) {
    const resource = resourceOf(doc);
    // Provenance records what happened to the source's versions: history, not moved.
    if (!resource || resource.resourceType === 'Patient' || resource.resourceType === 'Provenance') continue;
    const next = retarget(resource, sourceId, targetId, fromScope, toScope);
    const written = await repo.update(ctx, next);
    moved.push(`${next.resourceType}/${next.id}/_history/${written.resource.meta?.versionId}`);
  }

  // The source gives up its identifiers first: one patient per identifier, at every moment.
  const keep = (links: PatientLink[] | undefined, link: PatientLink): PatientLink[] => [...(links ?? []).filter((l) => l.other.reference !== link.other.reference), link];
  const { meta: _sm, ...sourceRest } = source;
  const retired: Patient = { ...sourceRest, active: false, identifier: undefined, link: keep(source.link, { other: { reference: `Patient/${targetId}` }, type: 'replaced-by' }) };
  delete retired.identifier;
  const sourceWritten = await repo.update(ctx, retired);
  const { meta: _tm, ...targetRest } = target;
  const merged: Patient = { ...targetRest, identifier: unionOf(target.identifier ?? [], source.identifier ?? []), link: keep(target.link, { other: { reference: `Patient/${sourceId}` }, type: 'replaces' }) };
  const targetWritten = await repo.update(ctx, merged);

  const provenance: Provenance = {
    resourceType: 'Provenance',
    target: [
      { reference: `Patient/${sourceId}/_history/${sourceWritten.resource.meta?.versionId}` },
      { reference: `Patient/${targetId}/_history/${targetWritten.resource.meta?.versionId}` },
      ...moved.map((reference) => ({ reference })),
    ],
    recorded: new Date().toISOString(),
    activity: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-DataOperation', code: 'UPDATE', display: 'revise' }], text: `patient merge: Patient/${sourceId} into Patient/${targetId}` },
    agent: [{ who: { display: ctx.actor } }],
  };
  const prov = await repo.create(ctx, provenance);
  await deps.timeline?.rebuildPatient(sourceId);
  await deps.timeline?.rebuildPatient(targetId);
  return { source: sourceWritten.resource as Patient, target: targetWritten.resource as Patient, moved, provenance: `Provenance/${prov.resource.id}` };
}

/** The resource with its references to the source naming the target, and its derived identities in the target's scope. */
function retarget(resource: Resource, sourceId: string, targetId: string, fromScope: string | undefined, toScope: string | undefined): Resource {
  const { meta: _meta, ...rest } = resource;
  let json = JSON.stringify(rest);
  json = json.replace(new RegExp(`"Patient/${escapeRegex(sourceId)}(/_history/[^"]*)?"`, 'g'), `"Patient/${targetId}"`);
  if (fromScope && toScope && fromScope !== toScope) json = json.replaceAll(`${fromScope}/`, `${toScope}/`);
  return JSON.parse(json) as Resource;
}

function unionOf(a: Identifier[], b: Identifier[]): Identifier[] {
  const key = (i: Identifier): string => `${i.system ?? ''}|${i.value ?? ''}`;
  const seen = new Set(a.map(key));
  return [...a, ...b.filter((i) => !seen.has(key(i)))];
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
