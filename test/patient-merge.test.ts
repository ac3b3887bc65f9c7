import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fhirFetch, startTestServer, type TestServer } from './support/server.ts';
import { ingestOk, patientIdByBsn, searchOf } from './fixtures/ingest/clients.ts';
import { BSN_SYSTEM, HB, labMessage, newBsn, uid } from './fixtures/ingest/messages.ts';

/**
 * Two records of one person (a duplicate created under a second BSN, say) merged with
 * Patient/{id}/$merge: the duplicate's results move to the record that stays, with their history,
 * and what arrives later under the duplicate's identifier is filed under the record that stays.
 */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

const merge = (source: string, body: unknown): ReturnType<typeof fhirFetch> => fhirFetch(`${server.fhir}/Patient/${source}/$merge`, { method: 'POST', json: body });
const target = (id: string): unknown => ({ resourceType: 'Parameters', parameter: [{ name: 'target-patient', valueReference: { reference: `Patient/${id}` } }] });

describe('Patient/{id}/$merge', () => {
  it('moves the source patient\'s results to the target, keeps their history, retires the source', async () => {
    const [keepBsn, dupBsn] = [newBsn(), newBsn()];
    const filler = `F-${uid()}`;
    await ingestOk(server.url, labMessage({ controlId: uid(), bsn: keepBsn, filler: `F-${uid()}` }));
    await ingestOk(server.url, labMessage({ controlId: uid(), bsn: dupBsn, filler }));
    const [keep, dup] = [await patientIdByBsn(server.fhir, keepBsn), await patientIdByBsn(server.fhir, dupBsn)];
    const dupObservations = await searchOf(server.fhir, `Observation?subject=Patient/${dup}`);
    expect(dupObservations.length).toBeGreaterThan(0);

    const r = await merge(dup, target(keep));
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.resourceType).toBe('Parameters');
    const moved = r.body.parameter.find((p: { name: string }) => p.name === 'moved').valueInteger as number;
    expect(moved).toBeGreaterThanOrEqual(dupObservations.length);

    // every result now belongs to the target, as a new version; the old version still names the source
    expect(await searchOf(server.fhir, `Observation?subject=Patient/${dup}`)).toHaveLength(0);
    const obs = dupObservations[0];
    const now = (await fhirFetch(`${server.fhir}/Observation/${obs.id}`)).body;
    expect(now.subject.reference).toBe(`Patient/${keep}`);
    expect(Number(now.meta.versionId)).toBe(Number(obs.meta.versionId) + 1);
    const before = (await fhirFetch(`${server.fhir}/Observation/${obs.id}/_history/${obs.meta.versionId}`)).body;
    expect(before.subject.reference).toBe(`Patient/${dup}`);

    // the source is retired and points at the target; the target holds both identifiers
    const source = (await fhirFetch(`${server.fhir}/Patient/${dup}`)).body;
    expect(source.active).toBe(false);
    expect(source.link).toEqual([{ other: { reference: `Patient/${keep}` }, type: 'replaced-by' }]);
    expect(source.identifier).toBeUndefined();
    const kept = (await fhirFetch(`${server.fhir}/Patient/${keep}`)).body;
    expect(kept.identifier.map((i: { value: string }) => i.value)).toEqual(expect.arrayContaining([keepBsn, dupBsn]));
    expect(kept.link).toEqual([{ other: { reference: `Patient/${dup}` }, type: 'replaces' }]);

    // the merge is recorded
    const prov = r.body.parameter.find((p: { name: string }) => p.name === 'provenance').valueReference.reference as string;
    expect((await fhirFetch(`${server.fhir}/${prov}`)).body.activity.text).toContain('patient merge');

    // the timeline of the target shows the moved results; the source's is empty
    const timeline = await fhirFetch(`${server.fhir}/Patient/${keep}/$timeline?_count=200`);
    expect(JSON.stringify(timeline.body)).toContain(`Observation/${obs.id}`);

    // a correction sent later under the duplicate's BSN updates the moved result, under the target
    const corrected = await ingestOk(server.url, labMessage({ controlId: uid(), bsn: dupBsn, filler, orderStatus: 'C', results: [{ ...HB, value: '7.4', status: 'C' }] }));
    expect(corrected.outputs.some((o: string) => o.startsWith(`Patient/${keep}/`))).toBe(true);
    const hb = dupObservations.find((o) => o.code.coding.some((c: { code: string }) => c.code === HB.loinc));
    const hbNow = (await fhirFetch(`${server.fhir}/Observation/${hb.id}`)).body;
    expect(hbNow.valueQuantity.value).toBe(7.4);
    expect(hbNow.subject.reference).toBe(`Patient/${keep}`);
    expect(await searchOf(server.fhir, `Observation?subject=Patient/${dup}`)).toHaveLength(0);
    expect(await patientIdByBsn(server.fhir, dupBsn)).toBe(keep);
  });

  it('refuses what cannot be merged, with a reason', async () => {
    const a = (await fhirFetch(`${server.fhir}/Patient`, { method: 'POST', json: { resourceType: 'Patient', identifier: [{ system: BSN_SYSTEM, value: newBsn() }] } })).body.id as string;
    expect((await merge(a, target(a))).status).toBe(400);
    expect((await merge(a, target('does-not-exist'))).status).toBe(404);
    expect((await merge(a, { resourceType: 'Parameters', parameter: [] })).status).toBe(400);
    expect((await fhirFetch(`${server.fhir}/Patient/${a}/$merge?target-patient=Patient/${a}`)).status).toBe(400);
  });
});
