import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandStartedEvent } from 'mongodb';
import type { DocumentReference, Resource } from '@medplum/fhirtypes';
import { fhirFetch, startMonitoredTestServer, type TestServer } from './support/server.ts';
import { create, ICD10, LOINC, patient, UCUM } from './support/factory.ts';
import { caseSummary, type CaseSummary } from '../timeline/case-summary.ts';
import { AccessLog, type RequestContext } from '../store/request-context.ts';
import { parseScopes } from '../store/access.ts';
import { COLLECTION_NAMES } from '../schema/collections.ts';

/**
 * A case summary read again while the patient's record has not changed is answered from what the
 * first one read (timeline/summary-cache.ts): the same answer and the same access audit as reading
 * the store, for every caller's access, and a write about the patient, or moving a resource away
 * from it, makes the next summary read the store again.
 */

let server: TestServer;
const ids: Record<'a' | 'b', string> = { a: '', b: '' };
const V2_0074 = 'http://terminology.hl7.org/CodeSystem/v2-0074';

beforeAll(async () => {
  server = await startMonitoredTestServer();
  ids.a = (await create(server.fhir, patient('999966670'))).id;
  ids.b = (await create(server.fhir, patient('999977780'))).id;
  for (const p of [ids.a, ids.b]) {
    const subject = { reference: `Patient/${p}` };
    await create(server.fhir, { resourceType: 'Condition', subject, code: { coding: [{ system: ICD10, code: 'C50.4', display: 'Malignant neoplasm of upper-outer quadrant of breast' }] }, onsetDateTime: '2024-03-05' });
    const er = await create(server.fhir, { resourceType: 'Observation', status: 'final', subject, code: { coding: [{ system: LOINC, code: '16112-5', display: 'Estrogen receptor [Interpretation] in Tissue' }] }, effectiveDateTime: '2024-03-06', valueString: 'positive (90%)' });
    await create(server.fhir, { resourceType: 'DiagnosticReport', status: 'final', subject, category: [{ coding: [{ system: V2_0074, code: 'PAT' }] }], code: { coding: [{ system: LOINC, code: '60567-5' }] }, effectiveDateTime: '2024-03-06', result: [{ reference: `Observation/${er.id}` }], conclusion: 'Invasive ductal carcinoma, grade 2.' });
    await create(server.fhir, hb(p, '2024-03-01', 7.9));
  }
}, 120_000);
afterAll(async () => {
  await server?.close();
});

function hb(p: string, date: string, value: number): Resource {
  return { resourceType: 'Observation', status: 'final', subject: { reference: `Patient/${p}` }, code: { coding: [{ system: LOINC, code: '718-7', display: 'Hemoglobin' }] }, effectiveDateTime: date, valueQuantity: { value, unit: 'mmol/L', system: UCUM, code: 'mmol/L' } };
}

function caller(scope: string): RequestContext {
  return {
    actor: 'oncologist', purpose: 'treatment', requestId: `summary-${Math.random()}`, seen: new AccessLog(),
    access: { principal: { subject: 'oncologist', issuer: '', role: 'clinician' }, unrestricted: false, scopes: parseScopes(scope), restrictedNeedsBreakGlass: false },
  };
}

/** Every part of the summary (or the error it failed with), what it noted for the audit, and how many queries of current resources it sent. */
async function summarise(p: string, scope = 'user/*.rs', cache = true): Promise<{ parts: Partial<CaseSummary> | string; seen: string[]; withheld: number; resourceQueries: number }> {
  const ctx = caller(scope);
  let resourceQueries = 0;
  const listener = (e: CommandStartedEvent): void => {
    // Reads of current resources. The audit trail, chaining the records of the writes above
    // meanwhile, reads the agents by id without `deleted`, and what a record names always with its Patient.
    const filter = e.command.filter as Record<string, unknown> | undefined;
    if (e.commandName === 'find' && e.command.find === COLLECTION_NAMES.resources && filter && 'deleted' in filter && !JSON.stringify(filter._id ?? '').includes('Patient/')) resourceQueries++;
  };
  server.services.database.client.on('commandStarted', listener);
  try {
    const { newSince: _n, since: _s, ...parts } = await caseSummary({ repo: server.services.repo, timeline: server.services.timeline, cache }, ctx, p);
    // What was read is kept just after the answer.
    await server.services.timeline.summaryReads.settled();
    return { parts, seen: [...(ctx.seen?.resources ?? [])].sort(), withheld: ctx.seen?.withheld ?? 0, resourceQueries };
  } catch (err) {
    return { parts: (err as Error).message, seen: [...(ctx.seen?.resources ?? [])].sort(), withheld: ctx.seen?.withheld ?? 0, resourceQueries };
  } finally {
    server.services.database.client.off('commandStarted', listener);
  }
}

describe('case summary reads kept while the record does not change', () => {
  it('answers a second summary without reading the resources, with the same parts and audit as the store', async () => {
    const first = await summarise(ids.a);
    expect(first.parts).toMatchObject({ primaryDiagnosis: { code: 'C50.4' }, latestPathology: { er: expect.stringMatching(/positive/) } });
    expect(first.resourceQueries).toBeGreaterThan(0);
    const again = await summarise(ids.a);
    expect(again.resourceQueries).toBe(0);
    const store = await summarise(ids.a, 'user/*.rs', false);
    expect(store.resourceQueries).toBeGreaterThan(0);
    for (const kept of [first, again]) {
      expect(kept.parts).toEqual(store.parts);
      expect(kept.seen).toEqual(store.seen);
    }
    expect(again.seen).toContain(`Condition/${(first.parts as CaseSummary).primaryDiagnosis?.reference.split('/')[1]}`);
  });

  it('reads the store again after a write about the patient, and only for that patient', async () => {
    await summarise(ids.a);
    await summarise(ids.b);
    expect((await summarise(ids.b)).resourceQueries).toBe(0);
    await create(server.fhir, hb(ids.a, '2024-04-01', 6.1));
    const after = await summarise(ids.a);
    expect(after.resourceQueries).toBeGreaterThan(0);
    const trend = (after.parts as CaseSummary).labTrends.find((t) => t.code === '59260-0' || t.code === '718-7');
    expect(trend?.points.map((x) => x.value)).toEqual([7.9, 6.1]);
    expect((await summarise(ids.b)).resourceQueries).toBe(0);
  });

  it('gives a caller with less access what the store would give it, whoever read first', async () => {
    await summarise(ids.a);
    // Conditions only: the pathology reports are withheld, the lab search refused, as by the store.
    for (const scope of ['user/Condition.rs user/Patient.rs', 'user/Condition.rs user/Patient.rs user/Observation.rs user/ImagingStudy.rs user/Procedure.rs user/DocumentReference.rs']) {
      const kept = await summarise(ids.a, scope);
      const store = await summarise(ids.a, scope, false);
      expect(kept.parts).toEqual(store.parts);
      expect(kept.seen).toEqual(store.seen);
      expect(kept.withheld).toBe(store.withheld);
      expect(kept.seen.some((r) => r.startsWith('DiagnosticReport/'))).toBe(false);
    }
    const narrow = await summarise(ids.a, 'user/Condition.rs user/Patient.rs');
    expect(narrow.parts).toMatch(/does not allow search/);
    const wider = await summarise(ids.a, 'user/Condition.rs user/Patient.rs user/Observation.rs user/ImagingStudy.rs user/Procedure.rs user/DocumentReference.rs');
    expect(wider.withheld).toBeGreaterThan(0);
    expect((wider.parts as CaseSummary).latestPathology).toBeNull();
  });

  it('forgets a resource moved to another patient, also one in no timeline event', async () => {
    // A superseded letter is in no event: only its previous version says whose it was.
    const letter = await create<DocumentReference>(server.fhir, { resourceType: 'DocumentReference', status: 'superseded', subject: { reference: `Patient/${ids.a}` }, type: { text: 'Discharge letter' }, date: '2024-03-10T10:00:00Z', content: [{ attachment: { contentType: 'text/plain', data: 'eA==' } }] });
    expect((await summarise(ids.a)).seen).toContain(`DocumentReference/${letter.id}`);
    expect((await summarise(ids.a)).resourceQueries).toBe(0);
    const moved = await fhirFetch(`${server.fhir}/DocumentReference/${letter.id}`, { method: 'PUT', json: { ...letter, subject: { reference: `Patient/${ids.b}` } } });
    expect(moved.status).toBe(200);
    expect((await summarise(ids.a)).seen).not.toContain(`DocumentReference/${letter.id}`);
    expect((await summarise(ids.b)).seen).toContain(`DocumentReference/${letter.id}`);
  });

  it('keeps what is read for a record whose month list predates stamps from its second summary on', async () => {
    const months = server.services.database.db.collection<{ _id: string; stamp?: string }>(COLLECTION_NAMES.timelineMonths);
    await months.updateOne({ _id: ids.b }, { $unset: { stamp: '' } });
    expect((await summarise(ids.b)).resourceQueries).toBeGreaterThan(0);
    expect((await months.findOne({ _id: ids.b }))?.stamp).toBeTruthy();
    expect((await summarise(ids.b)).resourceQueries).toBeGreaterThan(0);
    expect((await summarise(ids.b)).resourceQueries).toBe(0);
  });
});
