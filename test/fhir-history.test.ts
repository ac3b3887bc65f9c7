import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle } from '@medplum/fhirtypes';
import { fhirFetch, startTestServer, type TestServer } from './support/server.ts';
import { BSN, create, patient, search } from './support/factory.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

const put = (path: string, json: unknown, headers: Record<string, string> = {}) => fhirFetch(`${server.fhir}/${path}`, { method: 'PUT', json, headers });
const versions = (b: Bundle): string[] => (b.entry ?? []).map((e) => e.response?.etag as string);

describe('history and vread', () => {
  it('instance history lists every version newest first, with the deletion', async () => {
    const p = await create(server.fhir, patient('999966670'));
    await put(`Patient/${p.id}`, { ...p, gender: 'other' });
    await put(`Patient/${p.id}`, { ...p, gender: 'unknown' });
    await fhirFetch(`${server.fhir}/Patient/${p.id}`, { method: 'DELETE' });
    const h = (await fhirFetch(`${server.fhir}/Patient/${p.id}/_history`)).body as Bundle;
    expect(h.type).toBe('history');
    expect(h.total).toBe(4);
    expect(versions(h)).toEqual(['W/"4"', 'W/"3"', 'W/"2"', 'W/"1"']);
    expect(h.entry?.map((e) => e.request?.method)).toEqual(['DELETE', 'PUT', 'PUT', 'POST']);
    expect(h.entry?.[0]?.resource).toBeUndefined();
    expect((h.entry?.[1]?.resource as { gender: string }).gender).toBe('unknown');

    const v2 = await fhirFetch(`${server.fhir}/Patient/${p.id}/_history/2`);
    expect(v2.status).toBe(200);
    expect(v2.body.gender).toBe('other');
    expect(v2.body.meta.versionId).toBe('2');
    expect(v2.headers.get('etag')).toBe('W/"2"');
    expect((await fhirFetch(`${server.fhir}/Patient/${p.id}/_history/1`)).body.gender).toBe('female');
    expect((await fhirFetch(`${server.fhir}/Patient/${p.id}/_history/4`)).status).toBe(410);
    expect((await fhirFetch(`${server.fhir}/Patient/${p.id}/_history/5`)).status).toBe(404);
    expect((await fhirFetch(`${server.fhir}/Patient/${p.id}/_history/x`)).status).toBe(404);
    expect((await fhirFetch(`${server.fhir}/Patient/${p.id}`)).status).toBe(410);

    // re-created by PUT after delete: version 5, 201
    const again = await put(`Patient/${p.id}`, { ...p, gender: 'female' });
    expect(again.status).toBe(201);
    expect(again.body.meta.versionId).toBe('5');
  });

  it('an identical update makes no new version', async () => {
    const p = await create(server.fhir, patient('999966681'));
    const same = await put(`Patient/${p.id}`, p);
    expect(same.status).toBe(200);
    expect(same.body.meta.versionId).toBe('1');
    expect(same.body.meta.lastUpdated).toBe(p.meta?.lastUpdated);
    const noMeta = await put(`Patient/${p.id}`, { ...p, meta: undefined });
    expect(noMeta.body.meta.versionId).toBe('1');
    const h = (await fhirFetch(`${server.fhir}/Patient/${p.id}/_history`)).body as Bundle;
    expect(h.total).toBe(1);
  });

  it('type history with _count paging and _since', async () => {
    const before = await create(server.fhir, { resourceType: 'Organization', name: 'Before' });
    await new Promise((r) => setTimeout(r, 30));
    const since = new Date().toISOString();
    const o1 = await create(server.fhir, { resourceType: 'Organization', name: 'A' });
    const o2 = await create(server.fhir, { resourceType: 'Organization', name: 'B' });
    await put(`Organization/${o1.id}`, { ...o1, name: 'A2' });
    const all = (await fhirFetch(`${server.fhir}/Organization/_history`)).body as Bundle;
    expect(all.total).toBe(4);
    const recent = (await fhirFetch(`${server.fhir}/Organization/_history?_since=${encodeURIComponent(since)}`)).body as Bundle;
    expect(recent.total).toBe(3);
    expect(recent.entry?.map((e) => `${e.resource?.id}/${e.response?.etag}`)).toEqual([`${o1.id}/W/"2"`, `${o2.id}/W/"1"`, `${o1.id}/W/"1"`]);
    expect(recent.entry?.some((e) => e.resource?.id === before.id)).toBe(false);

    const seen: string[] = [];
    let url: string | undefined = `${server.fhir}/Organization/_history?_count=3`;
    while (url) {
      const page = (await fhirFetch(url)).body as Bundle;
      seen.push(...(page.entry ?? []).map((e) => `${e.resource?.id}/${e.response?.etag}`));
      url = page.link?.find((l) => l.relation === 'next')?.url;
    }
    expect(seen).toHaveLength(4);
    expect(new Set(seen).size).toBe(4);
    expect((await fhirFetch(`${server.fhir}/Organization/_history?_since=yesterday`)).status).toBe(400);
  });

  it('history of an unknown id is 404', async () => {
    const r = await fhirFetch(`${server.fhir}/Patient/no-such-id/_history`);
    expect(r.status).toBe(404);
    expect(r.body.resourceType).toBe('OperationOutcome');
  });
});

describe('conditional create (If-None-Exist)', () => {
  it('0 matches creates, 1 match returns the existing one with 200, 2 matches is 412', async () => {
    const body = patient('999977780');
    const first = await fhirFetch(`${server.fhir}/Patient`, { method: 'POST', json: body, headers: { 'if-none-exist': `identifier=${BSN}|999977780` } });
    expect(first.status).toBe(201);
    const second = await fhirFetch(`${server.fhir}/Patient`, { method: 'POST', json: { ...body, gender: 'male' }, headers: { 'if-none-exist': `Patient?identifier=${BSN}|999977780` } });
    expect(second.status).toBe(200);
    expect(second.body.id).toBe(first.body.id);
    expect(second.body.gender).toBe('female');
    expect((await search(server.fhir, `Patient?identifier=${BSN}|999977780`)).total).toBe(1);

    await create(server.fhir, patient('999977791', { name: [{ family: 'Dubbel' }] }));
    await create(server.fhir, patient('999977802', { name: [{ family: 'Dubbel' }] }));
    const many = await fhirFetch(`${server.fhir}/Patient`, { method: 'POST', json: body, headers: { 'if-none-exist': 'family=Dubbel' } });
    expect(many.status).toBe(412);
    expect(many.body.resourceType).toBe('OperationOutcome');
    expect((await search(server.fhir, 'Patient?family=Dubbel')).total).toBe(2);
  });

  it('concurrent conditional creates of the same patient make exactly one', async () => {
    for (const bsn of ['999977846', '999977857', '999977868']) {
      const header = { 'if-none-exist': `identifier=${BSN}|${bsn}` };
      const results = await Promise.all(Array.from({ length: 8 }, () => fhirFetch(`${server.fhir}/Patient`, { method: 'POST', json: patient(bsn), headers: header })));
      const statuses = results.map((r) => r.status);
      expect(statuses.filter((s) => s === 201)).toHaveLength(1);
      expect(statuses.every((s) => s === 200 || s === 201 || s === 409)).toBe(true);
      expect((await search(server.fhir, `Patient?identifier=${BSN}|${bsn}`)).total).toBe(1);
    }
  });

  it('creates again after the match was deleted', async () => {
    const body = patient('999977813');
    const header = { 'if-none-exist': `identifier=${BSN}|999977813` };
    const first = await fhirFetch(`${server.fhir}/Patient`, { method: 'POST', json: body, headers: header });
    expect(first.status).toBe(201);
    await fhirFetch(`${server.fhir}/Patient/${first.body.id}`, { method: 'DELETE' });
    const again = await fhirFetch(`${server.fhir}/Patient`, { method: 'POST', json: body, headers: header });
    expect(again.status).toBe(201);
    expect((await search(server.fhir, `Patient?identifier=${BSN}|999977813`)).total).toBe(1);
  });

  it('creates when the earlier match no longer matches', async () => {
    const header = { 'if-none-exist': `identifier=${BSN}|999977824` };
    const first = await fhirFetch(`${server.fhir}/Patient`, { method: 'POST', json: patient('999977824'), headers: header });
    await put(`Patient/${first.body.id}`, { ...first.body, identifier: [{ system: BSN, value: '999977835' }] });
    const again = await fhirFetch(`${server.fhir}/Patient`, { method: 'POST', json: patient('999977824'), headers: header });
    expect(again.status).toBe(201);
    expect(again.body.id).not.toBe(first.body.id);
    expect((await fhirFetch(`${server.fhir}/Patient/${first.body.id}`)).body.identifier[0].value).toBe('999977835');
  });
});

describe('conditional delete (DELETE Type?criteria)', () => {
  it('deletes the one match, does nothing on none, 412 on several', async () => {
    const p = await create(server.fhir, patient('999988923'));
    const del = await fhirFetch(`${server.fhir}/Patient?identifier=${BSN}|999988923`, { method: 'DELETE' });
    expect(del.status).toBe(200);
    expect((await fhirFetch(`${server.fhir}/Patient/${p.id}`)).status).toBe(410);
    expect((await fhirFetch(`${server.fhir}/Patient?identifier=${BSN}|999988923`, { method: 'DELETE' })).status).toBe(200);
    const several = await fhirFetch(`${server.fhir}/Patient?family=Dubbel`, { method: 'DELETE' });
    expect(several.status).toBe(412);
    expect((await search(server.fhir, 'Patient?family=Dubbel')).total).toBe(2);
    expect((await fhirFetch(`${server.fhir}/Patient`, { method: 'DELETE' })).status).toBe(400);
  });
});

describe('conditional update (PUT Type?criteria)', () => {
  it('creates on no match, updates the one match, 412 on several', async () => {
    const url = `Patient?identifier=${BSN}|999988890`;
    const created = await put(url, patient('999988890'));
    expect(created.status).toBe(201);
    const updated = await put(url, patient('999988890', { gender: 'other' }));
    expect(updated.status).toBe(200);
    expect(updated.body.id).toBe(created.body.id);
    expect(updated.body.meta.versionId).toBe('2');
    expect((await search(server.fhir, url)).total).toBe(1);
    const several = await put('Patient?family=Dubbel', patient('999977791', { name: [{ family: 'Dubbel' }] }));
    expect(several.status).toBe(412);
    const mismatch = await put(url, { ...patient('999988890'), id: 'some-other-id' });
    expect(mismatch.status).toBe(400);
  });

  it('concurrent conditional updates of a new patient make exactly one', async () => {
    const url = `Patient?identifier=${BSN}|999988934`;
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => put(url, patient('999988934', { telecom: [{ system: 'phone', value: String(i) }] }))));
    expect(results.every((r) => [200, 201, 409].includes(r.status))).toBe(true);
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    const found = await search(server.fhir, url);
    expect(found.total).toBe(1);
    const okCount = results.filter((r) => r.status < 300).length;
    expect(Number(found.entry?.[0]?.resource?.meta?.versionId)).toBe(okCount);
  });

  it('creates a new resource when the one it created earlier no longer matches', async () => {
    const url = `Patient?identifier=${BSN}|999988901`;
    const first = await put(url, patient('999988901'));
    await put(`Patient/${first.body.id}`, { ...first.body, identifier: [{ system: BSN, value: '999988912' }] });
    const second = await put(url, patient('999988901', { gender: 'male' }));
    expect(second.status).toBe(201);
    expect(second.body.id).not.toBe(first.body.id);
    const kept = (await fhirFetch(`${server.fhir}/Patient/${first.body.id}`)).body;
    expect([kept.identifier[0].value, kept.gender, kept.meta.versionId]).toEqual(['999988912', 'female', '2']);
  });
});
