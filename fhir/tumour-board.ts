import type { Bundle, ClinicalImpression, CodeableConcept, Parameters, Reference, Resource, Task, TaskOutput } from '@medplum/fhirtypes';
import { badRequest } from '@medplum/core';
import { fail } from '../schema/outcomes.ts';
import { assertPermits } from '../store/access.ts';
import type { RequestContext } from '../store/request-context.ts';
import { caseSummary } from '../timeline/case-summary.ts';
import { casePackBundle, packSections, TUMOR_BOARD_NOTE } from './case-pack.ts';
import { patientEverything } from './everything.ts';
import { fhirUrl, type FhirDeps } from './request.ts';

/**
 * The tumour board's workflow on a case (docs/tumour-board.md). A meeting is an Appointment; a
 * case on its agenda is a Task ("Tumour board review", `for` the Patient, `basedOn` the meeting,
 * the question as input). `$prepare` freezes the case pack (a document Bundle), `$changes` lists
 * what was written about the patient since, `$decide` records the board's decision as a
 * ClinicalImpression (lane "decision" of the timeline) and completes the Task. Every read and
 * write goes through the repository with the caller's context: preparing and deciding need write
 * access.
 */

/** Task.output types, by their text. */
export const OUTPUT = { pack: 'Case pack', prepared: 'Prepared at', decision: 'Decision' } as const;
const CLOSED = new Set(['completed', 'cancelled', 'failed', 'rejected', 'entered-in-error']);

interface BoardCase {
  task: Task & { id: string };
  patient: string;
}

/** Reads the Task and checks it is a case of a patient, still open. */
async function boardCase(deps: FhirDeps, ctx: RequestContext, id: string, open: boolean): Promise<BoardCase> {
  const task = (await deps.repo.read(ctx, 'Task', id)) as Task & { id: string };
  const m = /^Patient\/([A-Za-z0-9\-.]{1,64})$/.exec(task.for?.reference ?? '');
  if (!m) fail(badRequest(`Task/${id} is not a case: Task.for must reference the Patient`, 'Task.for'));
  if (open && CLOSED.has(task.status)) fail(badRequest(`Task/${id} is ${task.status}: the case is closed`, 'Task.status'));
  return { task, patient: m[1] as string };
}

function requirePost(method: string | undefined, op: string): void {
  if (method !== 'POST') fail(badRequest(`${op} changes data: use POST`, op));
}

/** The question for the board: the first string input of the Task. */
function question(task: Task): string {
  return task.input?.find((i) => typeof i.valueString === 'string' && i.valueString.trim())?.valueString?.trim() ?? 'No question stated';
}

/** The latest case pack of a Task: its Bundle reference and preparation time, if prepared. */
export function latestPack(task: Task): { bundle: string; prepared: Date } | undefined {
  const out = task.output ?? [];
  const bundle = out.find((o) => o.type?.text === OUTPUT.pack)?.valueReference?.reference;
  const prepared = out.find((o) => o.type?.text === OUTPUT.prepared)?.valueDateTime;
  return bundle && prepared ? { bundle, prepared: new Date(prepared) } : undefined;
}

/**
 * `POST Task/{id}/$prepare`: builds and stores the case pack — a document Bundle of the case
 * summary's sections with the exact versions shown — and sets it as the Task's output (status
 * in-progress). The pack is a new Bundle each time; an earlier one is never rewritten.
 */
export async function prepareCase(deps: FhirDeps, ctx: RequestContext, id: string, method: string | undefined): Promise<Parameters> {
  requirePost(method, '$prepare');
  if (!deps.timeline) throw new Error('$prepare needs the timeline store');
  // Refused before any work (the repository checks each write again, with the compartment).
  assertPermits(ctx.access, 'Bundle', 'c');
  assertPermits(ctx.access, 'Task', 'u');
  const { task, patient } = await boardCase(deps, ctx, id, true);
  // Taken before anything is read: whatever is written from now on shows in $changes.
  const prepared = new Date();
  const summary = await caseSummary({ repo: deps.repo, timeline: deps.timeline }, ctx, patient, { since: prepared });
  const sections = packSections(summary);
  const snapshots = await deps.repo.readMany(ctx, [`Patient/${patient}`, ...sections.flatMap((s) => s.lines.flatMap((l) => l.refs))]);
  const subject = snapshots.get(`Patient/${patient}`) ?? (await deps.repo.read(ctx, 'Patient', patient));
  const meeting = task.basedOn?.find((r) => r.reference?.startsWith('Appointment/'));
  const pack = casePackBundle({
    patient: subject, question: question(task), prepared, sections, snapshots,
    ...(meeting ? { meeting: { reference: meeting.reference } as Reference } : {}),
    fullUrl: (key) => (deps.baseUrl ? fhirUrl(deps, key) : `urn:idr:${key}`),
  });
  const stored = (await deps.repo.create(ctx, pack)).resource as Bundle;
  const output: TaskOutput[] = [
    ...(task.output ?? []).filter((o) => o.type?.text !== OUTPUT.pack && o.type?.text !== OUTPUT.prepared),
    { type: { text: OUTPUT.pack }, valueReference: { reference: `Bundle/${stored.id}`, display: 'Tumour board case pack' } },
    { type: { text: OUTPUT.prepared }, valueDateTime: prepared.toISOString() },
  ];
  const updated = await deps.repo.update(ctx, { ...task, status: task.status === 'requested' || task.status === 'received' || task.status === 'accepted' || task.status === 'ready' ? 'in-progress' : task.status, lastModified: new Date().toISOString(), output }, { ifMatch: task.meta?.versionId });
  return { resourceType: 'Parameters', parameter: [{ name: 'pack', resource: stored }, { name: 'task', resource: updated.resource }] };
}

/**
 * `GET Task/{id}/$changes`: the patient's resources written since the case pack was prepared
 * (newer versions of what the pack shows, and what arrived after it), as a searchset Bundle;
 * the Task and its own packs are left out. Parameters: _count (default 100, at most 1000).
 */
export async function caseChanges(deps: FhirDeps, ctx: RequestContext, id: string, query: URLSearchParams): Promise<Bundle> {
  const { task, patient } = await boardCase(deps, ctx, id, false);
  const pack = latestPack(task);
  if (!pack) fail(badRequest(`Task/${id} has no case pack yet: POST Task/${id}/$prepare first`, 'Task.output'));
  const count = Number(query.get('_count') ?? 100);
  const page = await patientEverything(deps.repo, ctx, patient, { since: pack.prepared, count: Number.isInteger(count) && count > 0 ? count : 100 });
  const own = new Set([`Task/${id}`, ...(task.output ?? []).map((o) => o.valueReference?.reference ?? '')]);
  const changed = page.resources.filter((r) => !own.has(`${r.resourceType}/${r.id}`) && new Date(r.meta?.lastUpdated ?? 0) >= pack.prepared);
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    ...(page.hasMore ? {} : { total: changed.length }),
    link: [{ relation: 'self', url: fhirUrl(deps, `Task/${id}/$changes`) }],
    entry: changed.map((r) => ({ fullUrl: fhirUrl(deps, `${r.resourceType}/${r.id}`), resource: r, search: { mode: 'match' } })),
  };
}

/** The decision's inputs, from a Parameters body. */
function decisionInput(body: unknown): { decision: string; recommendation: string; intent?: CodeableConcept } {
  const params = (body as Parameters | undefined)?.resourceType === 'Parameters' ? ((body as Parameters).parameter ?? []) : fail(badRequest('$decide takes a Parameters body (decision, recommendation, optional intent)', 'Parameters'));
  const text = (name: string): string => params.find((p) => p.name === name)?.valueString?.trim() ?? '';
  const decision = text('decision');
  const recommendation = text('recommendation');
  if (!decision) fail(badRequest('$decide needs the decision (valueString)', 'Parameters.parameter.where(name=\'decision\')'));
  if (!recommendation) fail(badRequest('$decide needs the recommendation (valueString)', 'Parameters.parameter.where(name=\'recommendation\')'));
  const p = params.find((x) => x.name === 'intent');
  const intent = p?.valueCodeableConcept ?? (p?.valueCoding ? { coding: [p.valueCoding] } : undefined);
  return { decision, recommendation, ...(intent ? { intent } : {}) };
}

/**
 * `POST Task/{id}/$decide`: stores the board's decision as a ClinicalImpression of the patient
 * (summary = decision, note = recommendation, finding = the coded intent; supportingInfo = the
 * case pack it was based on), links it from the Task and completes the Task.
 */
export async function decideCase(deps: FhirDeps, ctx: RequestContext, id: string, body: unknown, method: string | undefined): Promise<Parameters> {
  requirePost(method, '$decide');
  assertPermits(ctx.access, 'ClinicalImpression', 'c');
  assertPermits(ctx.access, 'Task', 'u');
  const input = decisionInput(body);
  const { task, patient } = await boardCase(deps, ctx, id, true);
  const now = new Date().toISOString();
  const pack = latestPack(task);
  const meeting = task.basedOn?.find((r) => r.reference?.startsWith('Appointment/'));
  const impression: ClinicalImpression = {
    resourceType: 'ClinicalImpression',
    status: 'completed',
    code: { coding: [TUMOR_BOARD_NOTE], text: 'Tumour board decision' },
    description: question(task),
    subject: { reference: `Patient/${patient}` },
    effectiveDateTime: now,
    date: now,
    summary: input.decision,
    note: [{ text: `Recommendation: ${input.recommendation}`, time: now }],
    ...(input.intent ? { finding: [{ itemCodeableConcept: input.intent, basis: 'Treatment intent agreed by the tumour board' }] } : {}),
    supportingInfo: [...(pack ? [{ reference: pack.bundle, display: 'Case pack' }] : []), ...(meeting?.reference ? [{ reference: meeting.reference, display: 'Tumour board meeting' }] : [])],
  };
  if (!impression.supportingInfo?.length) delete impression.supportingInfo;
  const stored = (await deps.repo.create(ctx, impression)).resource as ClinicalImpression;
  const output: TaskOutput[] = [
    ...(task.output ?? []).filter((o) => o.type?.text !== OUTPUT.decision),
    { type: { text: OUTPUT.decision }, valueReference: { reference: `ClinicalImpression/${stored.id}`, display: input.decision } },
  ];
  const updated = await deps.repo.update(ctx, { ...task, status: 'completed', lastModified: now, output }, { ifMatch: task.meta?.versionId });
  return { resourceType: 'Parameters', parameter: [{ name: 'decision', resource: stored as Resource }, { name: 'task', resource: updated.resource }] };
}
