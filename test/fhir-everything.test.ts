import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import { fhirFetch, startTestServer, type TestServer } from './support/server.ts';
import { create, labObservation, oncologyRecord, patient } from './support/factory.ts';

let server: TestServer;
let pid: string;
let other: string;
const expected = new Set<string>();

beforeAll(async () => {
  server = await startTestServer();
  pid = (await create(server.fhir, patient('999944401'))).id;
  other = (await create(server.fhir, patient('999944412'))).id;
  expected.add(`Patient/${pid}`);
  for (const r of oncologyRecord(pid)) {
    const stored = await create(server.fhir, r);
    // Practitioner, Organization and Endpoint are not in the patient's compartment
    if (!['Practitioner', 'Organization', 'Endpoint'].includes(r.resourceType)) expected.add(`${r.resourceType}/${stored.id}`);
  }
  await create(server.fhir, labObservation(other, 'not-mine'));
});
afterAll(async () => {
  await server?.close();
});

const refs = (b: Bundle): string[] => (b.entry ?? []).map((e) => `${e.resource?.resourceType}/${e.resource?.id}`);

describe('Patient/$everything', () => {
  it('returns the Patient first and every resource of its compartment', async () => {
    const r = await fhirFetch(`${server.fhir}/Patient/${pid}/$everything?_count=100`);
    expect(r.status).toBe(200);
    const b = r.body as Bundle;
    expect(b.type).toBe('searchset');
    expect(refs(b)[0]).toBe(`Patient/${pid}`);
    expect(new Set(refs(b))).toEqual(expected);
    expect(b.total).toBe(expected.size);
    expect(refs(b).some((x) => x.startsWith(`Patient/${other}`))).toBe(false);
  });

  it('pages with _count: next links lead to the end, no duplicates, nothing skipped', async () => {
    const seen: string[] = [];
    let url: string | undefined = `${server.fhir}/Patient/${pid}/$everything?_count=4`;
    let pages = 0;
    while (url) {
      const b = (await fhirFetch(url)).body as Bundle;
      expect(b.entry?.length ?? 0).toBeLessThanOrEqual(4);
      seen.push(...refs(b));
      url = b.link?.find((l) => l.relation === 'next')?.url;
      if (++pages > 20) throw new Error('paging does not end');
    }
    expect(pages).toBe(Math.ceil(expected.size / 4));
    expect(seen).toHaveLength(expected.size);
    expect(new Set(seen)).toEqual(expected);
    expect(seen[0]).toBe(`Patient/${pid}`);
  });

  it('previous links lead back to the first page', async () => {
    const first = (await fhirFetch(`${server.fhir}/Patient/${pid}/$everything?_count=5`)).body as Bundle;
    const second = (await fhirFetch(first.link?.find((l) => l.relation === 'next')?.url as string)).body as Bundle;
    const back = (await fhirFetch(second.link?.find((l) => l.relation === 'previous')?.url as string)).body as Bundle;
    expect(refs(back)).toEqual(refs(first));
  });

  it('_count=1 still pages one by one through everything', async () => {
    let url: string | undefined = `${server.fhir}/Patient/${pid}/$everything?_count=1`;
    const seen: string[] = [];
    while (url && seen.length < 50) {
      const b = (await fhirFetch(url)).body as Bundle;
      seen.push(...refs(b));
      url = b.link?.find((l) => l.relation === 'next')?.url;
    }
    expect(new Set(seen)).toEqual(expected);
    expect(seen).toHaveLength(expected.size);
  });

  it('a resource that leaves the compartment or is deleted drops out', async () => {
    const moved = await create(server.fhir, labObservation(pid, 'moving'));
    const count = async (): Promise<number | undefined> => ((await fhirFetch(`${server.fhir}/Patient/${pid}/$everything`)).body as Bundle).total;
    expect(await count()).toBe(expected.size + 1);
    await fhirFetch(`${server.fhir}/Observation/${moved.id}`, { method: 'PUT', json: { ...moved, subject: { reference: `Patient/${other}` } } as Resource });
    expect(await count()).toBe(expected.size);
    const gone = await create(server.fhir, labObservation(pid, 'gone'));
    await fhirFetch(`${server.fhir}/Observation/${gone.id}`, { method: 'DELETE' });
    expect(await count()).toBe(expected.size);
  });

  it('an unknown or deleted patient is 404 / 410', async () => {
    expect((await fhirFetch(`${server.fhir}/Patient/nobody/$everything`)).status).toBe(404);
    const p = await create(server.fhir, patient('999944423'));
    await fhirFetch(`${server.fhir}/Patient/${p.id}`, { method: 'DELETE' });
    expect((await fhirFetch(`${server.fhir}/Patient/${p.id}/$everything`)).status).toBe(410);
  });
});
