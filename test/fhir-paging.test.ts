import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle } from '@medplum/fhirtypes';
import { authFetch, fhirFetch, startTestServer, type TestServer } from './support/server.ts';
import { BSN, create, labObservation, matches, patient, search } from './support/factory.ts';

let server: TestServer;
let pid: string;
const N = 23;

beforeAll(async () => {
  server = await startTestServer();
  pid = (await create(server.fhir, patient('999944450'))).id;
  // O00..O22: values and dates in a known order; status alternates; two share a date (for a second sort key).
  for (let i = 0; i < N; i++) {
    const day = String(1 + Math.min(i, 20)).padStart(2, '0');
    await create(server.fhir, labObservation(pid, `O${String(i).padStart(2, '0')}`, { status: i % 2 ? 'preliminary' : 'final', effectiveDateTime: `2024-01-${day}T08:00:00Z`, valueQuantity: { value: 100 - i, unit: 'g/L' } }));
  }
  for (const [i, family] of ['Bakker', 'Visser', 'de Boer', 'Smit'].entries()) await create(server.fhir, patient(`99990000${i}`, { identifier: [{ system: BSN, value: `99990000${i}` }, { system: 'urn:test:label', value: family }], name: [{ family }] }));
});
afterAll(async () => {
  await server?.close();
});

const link = (b: Bundle, relation: string): string | undefined => b.link?.find((l) => l.relation === relation)?.url;
const lab = (b: Bundle): string[] => matches(b).map((r) => (r as { identifier: { system: string; value: string }[] }).identifier.find((i) => i.system === 'urn:test:label')?.value as string);

describe('_sort', () => {
  it('ascending, descending and on several keys', async () => {
    const asc = lab(await search(server.fhir, `Observation?subject=${pid}&_sort=date&_count=100`));
    expect(asc.slice(0, 3)).toEqual(['O00', 'O01', 'O02']);
    const desc = lab(await search(server.fhir, `Observation?subject=${pid}&_sort=-date&_count=5`));
    expect(desc.slice(3)).toEqual(['O19', 'O18']);
    expect(desc.slice(0, 3).sort()).toEqual(['O20', 'O21', 'O22']);
    const multi = lab(await search(server.fhir, `Observation?subject=${pid}&_sort=-date,value-quantity&_count=4`));
    expect(multi).toEqual(['O22', 'O21', 'O20', 'O19']); // same date: lower value first
    const multi2 = lab(await search(server.fhir, `Observation?subject=${pid}&_sort=-date,-value-quantity&_count=4`));
    expect(multi2).toEqual(['O20', 'O21', 'O22', 'O19']);
    const byStatus = lab(await search(server.fhir, `Observation?subject=${pid}&_sort=status,-value-quantity&_count=13`));
    expect(byStatus.slice(0, 2)).toEqual(['O00', 'O02']);
    expect(byStatus[12]).toBe('O01');
  });

  it('on strings, _id and _lastUpdated', async () => {
    // strings sort case-insensitively
    expect(lab(await search(server.fhir, 'Patient?identifier=urn:test:label|&_sort=family'))).toEqual(['Bakker', 'de Boer', 'Smit', 'Visser']);
    expect(lab(await search(server.fhir, 'Patient?identifier=urn:test:label|&_sort=-family'))).toEqual(['Visser', 'Smit', 'de Boer', 'Bakker']);
    const ids = matches(await search(server.fhir, 'Observation?_sort=_id&_count=100')).map((r) => r.id as string);
    expect(ids).toEqual([...ids].sort());
    const lu = lab(await search(server.fhir, `Observation?subject=${pid}&_sort=-_lastUpdated&_count=2`));
    expect(lu).toEqual(['O22', 'O21']);
  });

  it('an unknown sort parameter is 400', async () => {
    const r = await fhirFetch(`${server.fhir}/Observation?_sort=colour`);
    expect(r.status).toBe(400);
    expect(r.body.resourceType).toBe('OperationOutcome');
  });
});

describe('paging', () => {
  it('_count limits the page and total counts all matches', async () => {
    const b = await search(server.fhir, `Observation?subject=${pid}&_count=5`);
    expect(matches(b)).toHaveLength(5);
    expect(b.total).toBe(N);
    expect(link(b, 'self')).toContain('_count=5');
    expect(link(b, 'first')).toBeDefined();
    expect(link(b, 'next')).toBeDefined();
    expect(link(b, 'previous')).toBeUndefined();
  });

  it('next links lead through every match exactly once, and previous links lead back', async () => {
    const seen: string[] = [];
    const pages: Bundle[] = [];
    let url: string | undefined = `${server.fhir}/Observation?subject=${pid}&_sort=-date,value-quantity&_count=5`;
    while (url) {
      const b = (await fhirFetch(url)).body as Bundle;
      pages.push(b);
      seen.push(...lab(b));
      expect(Object.fromEntries(new URL(link(b, 'self') as string).searchParams)).toEqual(Object.fromEntries(new URL(url).searchParams));
      url = link(b, 'next');
      expect(pages.length).toBeLessThan(10);
    }
    expect(pages).toHaveLength(5);
    expect(seen).toHaveLength(N);
    expect(new Set(seen).size).toBe(N);
    expect(lab(pages[4] as Bundle)).toHaveLength(3);
    // walk back with previous from the last page
    const back: string[][] = [];
    let prev: string | undefined = link(pages[4] as Bundle, 'self');
    while (prev) {
      const b = (await fhirFetch(prev)).body as Bundle;
      back.unshift(lab(b));
      prev = link(b, 'previous');
    }
    expect(back.flat()).toEqual(seen);
    // first from any page is the first page
    expect(lab((await fhirFetch(link(pages[3] as Bundle, 'first') as string)).body)).toEqual(lab(pages[0] as Bundle));
  });

  it('keeps the search criteria in every link', async () => {
    const b = await search(server.fhir, `Observation?subject=${pid}&status=final&_sort=date&_count=4`);
    expect(b.total).toBe(12);
    const next = link(b, 'next') as string;
    const q = new URL(next).searchParams;
    expect(q.get('status')).toBe('final');
    expect(q.get('_sort')).toBe('date');
    const page2 = (await fhirFetch(next)).body as Bundle;
    expect(lab(page2)).toEqual(['O08', 'O10', 'O12', 'O14']);
  });

  it('invalid _count is 400; _count=0 gives only the total', async () => {
    for (const bad of ['-1', 'abc', '1.5']) expect((await fhirFetch(`${server.fhir}/Observation?_count=${bad}`)).status, bad).toBe(400);
    const zero = await search(server.fhir, `Observation?subject=${pid}&_count=0`);
    expect(zero.total).toBe(N);
    expect(zero.entry ?? []).toHaveLength(0);
  });
});

describe('_summary, _elements and _total', () => {
  it('_summary=count returns only the total', async () => {
    const b = await search(server.fhir, `Observation?subject=${pid}&status=preliminary&_summary=count`);
    expect(b.total).toBe(11);
    expect(b.entry).toBeUndefined();
  });

  it('_summary=true keeps summary elements only and marks them SUBSETTED', async () => {
    const b = await search(server.fhir, `Patient?_id=${pid}&_summary=true`);
    const p = matches(b)[0] as unknown as Record<string, unknown> & { meta: { tag: unknown[] } };
    expect(p.name).toBeDefined();
    expect(p.birthDate).toBe('1968-04-12');
    expect(p.maritalStatus).toBeUndefined(); // not a summary element
    expect(p.telecom).toBeDefined();
    expect(p.meta.tag).toContainEqual(expect.objectContaining({ code: 'SUBSETTED' }));
  });

  it('_elements keeps the named elements (plus mandatory ones) and marks SUBSETTED', async () => {
    const b = await search(server.fhir, `Observation?subject=${pid}&_elements=valueQuantity,effective&_count=1`);
    const o = matches(b)[0] as unknown as Record<string, unknown> & { meta: { tag: unknown[] } };
    expect(Object.keys(o).sort()).toEqual(['code', 'effectiveDateTime', 'id', 'meta', 'resourceType', 'status', 'valueQuantity']);
    expect(o.meta.tag).toContainEqual(expect.objectContaining({ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' }));
    const read = await fhirFetch(`${server.fhir}/Patient/${pid}?_elements=identifier`);
    expect(Object.keys(read.body).sort()).toEqual(['id', 'identifier', 'meta', 'resourceType']);
  });

  it('_total=none leaves the total out; _total=accurate counts', async () => {
    expect((await search(server.fhir, `Observation?subject=${pid}&_total=none&_count=2`)).total).toBeUndefined();
    expect((await search(server.fhir, `Observation?subject=${pid}&_total=accurate&_count=2`)).total).toBe(N);
  });
});

describe('POST _search', () => {
  it('with a form body gives the same result as GET', async () => {
    const query = `subject=Patient/${pid}&status=final&date=ge2024-01-05&_sort=-date&_count=3`;
    const get = await search(server.fhir, `Observation?${query}`);
    const res = await authFetch(`${server.fhir}/Observation/_search`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: query });
    expect(res.status).toBe(200);
    const post = (await res.json()) as Bundle;
    expect(lab(post)).toEqual(lab(get));
    expect(post.total).toBe(get.total);
    expect(lab((await fhirFetch(link(post, 'next') as string)).body)).toEqual(lab((await fhirFetch(link(get, 'next') as string)).body));
  });
});

describe('a search over the whole population without _sort (storage order)', () => {
  it('reads only its page: no total while more follow; the pages still hold every match once; the last page counts', async () => {
    // 24 Observations with this code across the store (23 of one patient, one of another): not confined to a patient.
    const other = (await create(server.fhir, patient('999944462'))).id;
    await create(server.fhir, labObservation(other, 'X00', { effectiveDateTime: '2024-02-01T08:00:00Z', valueQuantity: { value: 150, unit: 'g/L' } }));
    const seen: string[] = [];
    let url: string | undefined = `${server.fhir}/Observation?code=http://loinc.org|718-7&_count=10`;
    const pages: Bundle[] = [];
    while (url) {
      const b = (await fhirFetch(url)).body as Bundle;
      pages.push(b);
      seen.push(...lab(b));
      url = link(b, 'next');
      expect(pages.length).toBeLessThan(5);
    }
    expect(pages.map((p) => matches(p).length)).toEqual([10, 10, 4]);
    expect(pages[0]?.total).toBeUndefined();
    expect(pages[1]?.total).toBeUndefined();
    expect(pages[2]?.total).toBe(24);
    expect(new Set(seen).size).toBe(24);
    // Asked for, the total is counted on every page.
    expect((await search(server.fhir, 'Observation?code=http://loinc.org|718-7&_count=10&_total=accurate')).total).toBe(24);
    // A result that fits one page reads newest first, as a sorted one would.
    const small = await search(server.fhir, 'Observation?code=http://loinc.org|718-7&value-quantity=gt140&_count=10');
    expect(small.total).toBe(1);
    expect(lab(small)).toEqual(['X00']);
    const all = await search(server.fhir, 'Observation?code=http://loinc.org|718-7&_count=100');
    expect(all.total).toBe(24);
    expect(lab(all)).toEqual(lab(await search(server.fhir, 'Observation?code=http://loinc.org|718-7&_count=100&_sort=-_lastUpdated')));
  });
});
