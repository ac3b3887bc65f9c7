import type { Condition, DiagnosticReport, DocumentReference, ImagingStudy, Patient, Resource } from '@medplum/fhirtypes';
import type { GraphqlContext } from './context.ts';
import { badUserInput, guarded } from './errors.ts';
import { parseFhirSearch } from '../../store/search-to-mongo.ts';
import { encodeCursor, type TimelineFilter } from '../../timeline/query.ts';
import type { Lane, TimelineEvent } from '../../schema/timeline-event.ts';
import type { GraphQLResolveInfo } from 'graphql';
import { fieldsAt } from './selection.ts';
import { searchPatient } from '../../timeline/lookups.ts';
import { labTrend } from '../../timeline/lab-trend.ts';
import { caseSummaryParts } from '../../timeline/case-summary.ts';
import { getStatus, OperationOutcomeError } from '@medplum/core';

/** Resolvers of Query and Patient: each reads through the Repository or the TimelineStore with the caller's RequestContext. */

const MAX_LIST = 200;

function listSize(first: number | undefined, name = 'first'): number {
  const n = first ?? 50;
  if (!Number.isInteger(n) || n < 0 || n > MAX_LIST) throw badUserInput(`${name} must be an integer between 0 and ${MAX_LIST}`, name);
  return n;
}

function offsetCursor(offset: number): string {
  return Buffer.from(`offset:${offset}`, 'utf8').toString('base64url');
}

function decodeOffset(after: string | undefined): number {
  if (!after) return 0;
  const m = /^offset:(\d{1,9})$/.exec(Buffer.from(after, 'base64url').toString('utf8'));
  if (!m) throw badUserInput('after: not a cursor returned by patients', 'after');
  return Number(m[1]);
}

interface TimelineArgs { lanes?: Lane[]; from?: Date; to?: Date; codes?: string[]; text?: string; first?: number; after?: string }

function formatName(p: Patient): string | null {
  const n = p.name?.find((x) => x.use === 'official') ?? p.name?.[0];
  if (!n) return null;
  return n.text ?? [n.prefix?.join(' '), n.given?.join(' '), n.family].filter(Boolean).join(' ');
}

export const queryResolvers = {
  Query: {
    patient: (_: unknown, args: { id: string }, c: GraphqlContext) => guarded(() => readOrNull(c, 'Patient', args.id)),
    cohort: (_: unknown, args: { id: string }, c: GraphqlContext) => guarded(() => readOrNull(c, 'Group', args.id)),
    patients: (_: unknown, args: { identifier?: string; name?: string; first?: number; after?: string }, c: GraphqlContext) =>
      guarded(async () => {
        const first = listSize(args.first);
        const offset = decodeOffset(args.after);
        const q = new URLSearchParams();
        if (args.identifier) q.set('identifier', args.identifier);
        if (args.name) q.set('name', args.name);
        q.set('_count', String(first));
        q.set('_offset', String(offset));
        q.set('_total', 'accurate');
        const result = await c.repo.search(c.ctx, parseFhirSearch('Patient', q.toString()));
        const edges = result.resources.map((node, i) => ({ cursor: offsetCursor(offset + i + 1), node }));
        return {
          edges,
          totalCount: result.total ?? edges.length,
          pageInfo: { hasNextPage: result.hasMore, hasPreviousPage: offset > 0, startCursor: edges[0]?.cursor ?? null, endCursor: edges.at(-1)?.cursor ?? null },
        };
      }),
  },
  Patient: {
    reference: (p: Patient) => `Patient/${p.id}`,
    name: formatName,
    family: (p: Patient) => (p.name?.find((x) => x.use === 'official') ?? p.name?.[0])?.family ?? null,
    given: (p: Patient) => (p.name?.find((x) => x.use === 'official') ?? p.name?.[0])?.given ?? [],
    deceased: (p: Patient) => p.deceasedBoolean ?? (p.deceasedDateTime ? true : null),
    identifiers: (p: Patient) => (p.identifier ?? []).map((i) => ({ system: i.system, value: i.value, type: i.type?.coding?.[0]?.code ?? i.type?.text })),
    resource: (p: Patient) => p,
    timeline: (p: Patient, args: TimelineArgs, c: GraphqlContext, info: GraphQLResolveInfo) =>
      guarded(async () => {
        const filter: TimelineFilter = {
          ...(args.lanes ? { lanes: args.lanes } : {}), ...(args.from ? { from: args.from } : {}), ...(args.to ? { to: args.to } : {}),
          ...(args.codes ? { codes: args.codes } : {}), ...(args.text ? { text: args.text } : {}),
        };
        const page = await c.timeline.page(c.ctx, p.id as string, { ...filter, first: args.first ?? 20, ...(args.after ? { after: args.after } : {}) }, eventFields(fieldsAt(info, ['edges', 'node'])));
        const edges = page.events.map((e) => ({ cursor: encodeCursor(e), node: e }));
        return {
          edges,
          pageInfo: { hasNextPage: page.hasNextPage, hasPreviousPage: !!args.after, startCursor: edges[0]?.cursor ?? null, endCursor: edges.at(-1)?.cursor ?? null },
          // Counted only when asked for.
          totalCount: () => c.timeline.count(c.ctx, p.id as string, filter),
        };
      }),
    labTrend: (p: Patient, args: { code: string; from?: Date; to?: Date; unit?: string }, c: GraphqlContext) =>
      guarded(() => labTrend(c.repo, c.ctx, p.id as string, { codes: [args.code], ...(args.from ? { from: args.from } : {}), ...(args.to ? { to: args.to } : {}), ...(args.unit ? { unit: args.unit } : {}) })),
    reports: (p: Patient, args: { category?: string; first?: number }, c: GraphqlContext) =>
      guarded(() => searchPatient<DiagnosticReport>(c.repo, c.ctx, 'DiagnosticReport', p.id as string, { category: args.category, _sort: '-date' }, listSize(args.first))),
    imagingStudies: (p: Patient, args: { modality?: string; first?: number }, c: GraphqlContext) =>
      guarded(() => searchPatient<ImagingStudy>(c.repo, c.ctx, 'ImagingStudy', p.id as string, { modality: args.modality, _sort: '-started' }, listSize(args.first))),
    documents: (p: Patient, args: { type?: string; first?: number }, c: GraphqlContext) =>
      guarded(() => searchPatient<DocumentReference>(c.repo, c.ctx, 'DocumentReference', p.id as string, { type: args.type, _sort: '-date' }, listSize(args.first))),
    conditions: (p: Patient, args: { first?: number }, c: GraphqlContext) =>
      guarded(() => searchPatient<Condition>(c.repo, c.ctx, 'Condition', p.id as string, {}, listSize(args.first))),
    caseSummary: (p: Patient, args: { since?: Date; labCodes?: string[]; labUnits?: { code: string; unit: string }[] }, c: GraphqlContext) =>
      guarded(() => {
        if (args.labUnits?.some((u) => !u.code.trim() || !u.unit.trim())) throw badUserInput('labUnits: every entry needs a code and a UCUM unit', 'labUnits');
        const parts = caseSummaryParts({ repo: c.repo, timeline: c.timeline }, c.ctx, p.id as string, {
          ...(args.since ? { since: args.since } : {}), ...(args.labCodes ? { labCodes: args.labCodes } : {}), ...(args.labUnits ? { labUnits: args.labUnits } : {}),
        });
        // Each field the query selects runs its part (the default resolver calls a function-valued field).
        return Promise.resolve({
          ...Object.fromEntries(Object.entries(parts).map(([k, part]: [string, () => Promise<unknown>]) => [k, () => guarded(part)])),
          newSince: (_: unknown, _c: unknown, info: GraphQLResolveInfo) => guarded(() => parts.newSince(eventFields(fieldsAt(info, [])))),
        });
      }),
  },
};

/** The stored event fields behind each TimelineEvent field of the GraphQL schema. */
const EVENT_FIELDS: Record<string, (keyof TimelineEvent)[]> = {
  id: ['anchor'], reference: ['anchor'], resource: ['anchor'], references: ['refs'], resources: ['refs'],
  time: ['time'], lane: ['lane'], title: ['title'], summary: ['summary'], abnormal: ['abnormal'], status: ['status'],
  codes: ['codes'], source: ['source'], lastUpdated: ['lastUpdated'], __typename: [],
};

/** The event fields a page (or a list of events) must read for the selected TimelineEvent fields; undefined (all) for one this map does not know. */
function eventFields(selected: Set<string>): (keyof TimelineEvent)[] | undefined {
  const out = new Set<keyof TimelineEvent>();
  for (const name of selected) {
    const fields = EVENT_FIELDS[name];
    if (!fields) return undefined;
    for (const f of fields) out.add(f);
  }
  return [...out];
}

/** A resource by id, or null when it is unknown or deleted (other errors, 403 included, stay errors). */
async function readOrNull(c: GraphqlContext, type: string, id: string): Promise<Resource | null> {
  try {
    return await c.repo.read(c.ctx, type, id);
  } catch (err) {
    if (err instanceof OperationOutcomeError && [404, 410].includes(getStatus(err.outcome))) return null;
    throw err;
  }
}
