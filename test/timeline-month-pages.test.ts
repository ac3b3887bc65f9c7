import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Resource } from '@medplum/fhirtypes';
import { authFetch, startTestServer, type TestServer } from './support/server.ts';
import { create, labObservation, patient } from './support/factory.ts';
import { writeBenchPatient } from '../bench/timeline-data.ts';
import { systemContext } from '../store/request-context.ts';
import { COLLECTION_NAMES } from '../schema/collections.ts';
import type { TimelineDoc, TimelineMonthsDoc } from '../schema/timeline-event.ts';
import { MONTH_PAGING_FROM } from '../timeline/projection.ts';
import { matchesTimelineFilter, encodeCursor, type TimelinePageRequest } from '../timeline/query.ts';

/**
 * A long record's timeline read month by month (the embedded store's pages of a patient spanning
 * many months): every page equals the same page of the whole record sorted at once — newest first,
 * strictly after the cursor, with lanes, dates and text filters — and the month lists are kept by
 * both ways events are written (projection after a write, rebuild of a patient).
 */

let server: TestServer;
const LONG = 'timeline-long-record';
const ctx = systemContext('test');

beforeAll(async () => {
  // Command monitoring, to see which queries a page sends.
  const url = new URL(inject('mongoUrl'));
  url.searchParams.set('monitorCommands', 'true');
  server = await startTestServer({ MONGODB_URL: url.toString() });
  // 2,000 events, one every 7 hours: about 19 months.
  await writeBenchPatient(server.services.database, LONG, 2000);
  await server.services.timeline.rebuildPatient(LONG);
}, 120_000);
afterAll(async () => {
  await server?.close();
});

const months = () => server.services.database.db.collection<TimelineMonthsDoc>(COLLECTION_NAMES.timelineMonths);

/** Every event of the patient that matches, newest first: what the pages must add up to. */
async function expected(patient: string, req: Omit<TimelinePageRequest, 'first' | 'after'>): Promise<string[]> {
  const all = await server.services.database.db.collection<TimelineDoc>(COLLECTION_NAMES.timeline).find({ patient }).toArray();
  return all.filter((e) => matchesTimelineFilter(e, req)).sort((a, b) => b.time.getTime() - a.time.getTime() || (a._id < b._id ? 1 : -1)).map((e) => e._id);
}

/** The pages of `first` events, walked by their cursors. */
async function walk(patient: string, req: Omit<TimelinePageRequest, 'first' | 'after'>, first: number): Promise<string[]> {
  const seen: string[] = [];
  let after: string | undefined;
  for (let n = 0; n < 500; n++) {
    const page = await server.services.timeline.page(ctx, patient, { ...req, first, ...(after ? { after } : {}) });
    seen.push(...page.events.map((e) => e._id));
    if (!page.hasNextPage) return seen;
    const last = page.events.at(-1) as TimelineDoc;
    after = encodeCursor(last);
  }
  throw new Error('paging does not end');
}

describe('a long record, paged month by month', () => {
  it('has a complete month list after a rebuild, and more events than the month-paging threshold', async () => {
    const doc = await months().findOne({ _id: LONG });
    expect(doc?.complete).toBe(true);
    expect(doc?.events).toBe(2000);
    expect(doc?.events).toBeGreaterThan(MONTH_PAGING_FROM);
    expect(doc?.months.length).toBeGreaterThan(12);
  });

  it('reads a first page from the newest months only (the embedded store), each an indexed equality', async () => {
    const finds: Record<string, unknown>[] = [];
    const listener = (e: { commandName: string; command: Record<string, unknown> }): void => {
      if (e.commandName === 'find' && e.command['find'] === COLLECTION_NAMES.timeline) finds.push(e.command['filter'] as Record<string, unknown>);
    };
    server.services.database.client.on('commandStarted', listener);
    await server.services.timeline.page(ctx, LONG, { first: 20 });
    server.services.database.client.off('commandStarted', listener);
    if (!server.services.database.equalityIndexOnly) {
      // MongoDB reads the page from its {patient, time, _id} index in one query.
      expect(finds).toHaveLength(1);
      return;
    }
    expect(finds.length).toBeGreaterThan(0);
    expect(finds.length).toBeLessThanOrEqual(2);
    for (const f of finds) expect(f['pm']).toMatch(new RegExp(`^${LONG}\\|\\d{4}-\\d{2}$`));
  });

  it('pages through every event exactly once, in the order of the whole record sorted at once', async () => {
    const want = await expected(LONG, {});
    expect(want).toHaveLength(2000);
    expect(await walk(LONG, {}, 37)).toEqual(want);
    expect(await walk(LONG, {}, 200)).toEqual(want);
  });

  it('with lanes, a date range and text, the pages hold exactly the matches', async () => {
    const cases: Omit<TimelinePageRequest, 'first' | 'after'>[] = [
      { lanes: ['imaging'] },
      { lanes: ['document', 'imaging'], from: new Date('2010-04-01T00:00:00Z'), to: new Date('2011-02-15T12:00:00Z') },
      { from: new Date('2011-01-31T23:00:00Z') },
      { to: new Date('2010-03-01T00:00:00Z') },
      { text: 'visit 1' },
    ];
    for (const c of cases) {
      const want = await expected(LONG, c);
      expect(want.length, JSON.stringify(c)).toBeGreaterThan(0);
      expect(await walk(LONG, c, 25), JSON.stringify(c)).toEqual(want);
    }
  });
});

describe('month lists kept by the projection after each write', () => {
  it('a new patient written through the API gets a complete list with its count, and its pages match the whole record', async () => {
    const p = await create(server.fhir, patient('999944498'));
    const pid = p.id as string;
    // One result a month for 16 months, written out of order.
    const dates = Array.from({ length: 16 }, (_, i) => `20${i < 12 ? 23 : 24}-${String((i % 12) + 1).padStart(2, '0')}-15T10:00:00Z`).reverse();
    for (const [i, date] of dates.entries()) await create(server.fhir, labObservation(pid, `M${i}`, { effectiveDateTime: date, valueQuantity: { value: 7 + i / 10, unit: 'mmol/L' } }) as Resource);
    // The projection runs after the write: wait until every event is there.
    for (let n = 0; n < 100 && (await expected(pid, {})).length < 16; n++) await new Promise((r) => setTimeout(r, 100));
    const doc = await months().findOne({ _id: pid });
    expect(doc?.complete).toBe(true);
    expect(doc?.events).toBe(16);
    expect([...(doc?.months ?? [])].sort()).toEqual([...new Set(dates.map((d) => d.slice(0, 7)))].sort());
    const want = await expected(pid, {});
    expect(want).toHaveLength(16);
    expect(await walk(pid, {}, 5)).toEqual(want);
    // GraphQL answers the same pages.
    const res = await authFetch(`${server.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: `{ patient(id: "${pid}") { timeline(first: 3) { edges { node { time } } } } }` }) });
    const gql = (await res.json()) as { data: { patient: { timeline: { edges: { node: { time: string } }[] } } } };
    expect(gql.data.patient.timeline.edges.map((e) => e.node.time.slice(0, 7))).toEqual(['2024-04', '2024-03', '2024-02']);
  });

  it('a patient whose events predate the month buckets is read whole until rebuilt', async () => {
    const pid = LONG;
    // As an older IDR left it: no month on the events, no list.
    const events = server.services.database.db.collection<TimelineDoc>(COLLECTION_NAMES.timeline);
    await events.updateMany({ patient: pid }, { $unset: { pm: '' } });
    await months().deleteOne({ _id: pid });
    // A new write projects its events and starts a list, marked incomplete.
    await create(server.fhir, labObservation(pid, 'new', { effectiveDateTime: '2030-01-01T10:00:00Z' }) as Resource);
    for (let n = 0; n < 100 && !(await months().findOne({ _id: pid })); n++) await new Promise((r) => setTimeout(r, 100));
    expect((await months().findOne({ _id: pid }))?.complete).toBe(false);
    const want = await expected(pid, {});
    expect(await walk(pid, {}, 100)).toEqual(want);
    await server.services.timeline.rebuildPatient(pid);
    expect((await months().findOne({ _id: pid }))?.complete).toBe(true);
    expect(await walk(pid, {}, 100)).toEqual(await expected(pid, {}));
  });
});
