import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './support/server.ts';
import { create, labObservation, labels, patient, search } from './support/factory.ts';

let server: TestServer;
let pid: string;

/**
 * Observations of one patient with effective values at each precision, as dateTime and as Period:
 *  A 2024-03-15T10:30:00Z (second)   B 2024-03-15 (day)         C 2024-04 (month)
 *  D 2023 (year)                     E Period 2024-03-10..03-20  F Period from 2024-05-01T08:00Z, open
 *  G 2010-06-01 (far away, for ap)
 */
const EFFECTIVE: Record<string, Record<string, unknown>> = {
  A: { effectiveDateTime: '2024-03-15T10:30:00Z' },
  B: { effectiveDateTime: '2024-03-15' },
  C: { effectiveDateTime: '2024-04' },
  D: { effectiveDateTime: '2023' },
  E: { effectivePeriod: { start: '2024-03-10T00:00:00Z', end: '2024-03-20T00:00:00Z' } },
  F: { effectivePeriod: { start: '2024-05-01T08:00:00Z' } },
  G: { effectiveDateTime: '2010-06-01' },
};

beforeAll(async () => {
  server = await startTestServer();
  pid = (await create(server.fhir, patient('999933340'))).id;
  for (const [label, fields] of Object.entries(EFFECTIVE)) await create(server.fhir, labObservation(pid, label, fields));
});
afterAll(async () => {
  await server?.close();
});

const dates = (q: string): Promise<string[]> => labels(server.fhir, `Observation?subject=Patient/${pid}&date=${encodeURIComponent(q)}`);

describe('date search against dateTime and Period values', () => {
  it('day precision with every prefix', async () => {
    expect(await dates('2024-03-15')).toEqual(['A', 'B']);
    expect(await dates('eq2024-03-15')).toEqual(['A', 'B']);
    expect(await dates('ne2024-03-15')).toEqual(['C', 'D', 'E', 'F', 'G']);
    expect(await dates('gt2024-03-15')).toEqual(['C', 'E', 'F']);
    expect(await dates('lt2024-03-15')).toEqual(['D', 'E', 'G']);
    expect(await dates('ge2024-03-15')).toEqual(['A', 'B', 'C', 'E', 'F']);
    expect(await dates('le2024-03-15')).toEqual(['A', 'B', 'D', 'E', 'G']);
    expect(await dates('sa2024-03-15')).toEqual(['C', 'F']);
    expect(await dates('eb2024-03-15')).toEqual(['D', 'G']);
    const ap = await dates('ap2024-03-15');
    expect(ap).toEqual(expect.arrayContaining(['A', 'B', 'E']));
    expect(ap).not.toContain('G');
  });

  it('month precision', async () => {
    expect(await dates('2024-03')).toEqual(['A', 'B', 'E']);
    expect(await dates('2024-04')).toEqual(['C']);
    expect(await dates('ge2024-05')).toEqual(['F']); // C (all of April) must not spill into May
    expect(await dates('ge2024-05-01')).toEqual(['F']);
    expect(await dates('lt2024-05-01')).toEqual(['A', 'B', 'C', 'D', 'E', 'G']);
    expect(await dates('eb2024-05')).toEqual(['A', 'B', 'C', 'D', 'E', 'G']);
    expect(await dates('sa2024-03')).toEqual(['C', 'F']);
  });

  it('year precision', async () => {
    expect(await dates('2024')).toEqual(['A', 'B', 'C', 'E']);
    expect(await dates('2023')).toEqual(['D']);
    expect(await dates('ne2024')).toEqual(['D', 'F', 'G']);
    expect(await dates('lt2024')).toEqual(['D', 'G']);
    expect(await dates('gt2024')).toEqual(['F']); // open-ended period
    expect(await dates('sa2023')).toEqual(['A', 'B', 'C', 'E', 'F']);
  });

  it('second precision and time zones', async () => {
    expect(await dates('2024-03-15T10:30:00Z')).toEqual(['A']);
    expect(await dates('2024-03-15T11:30:00+01:00')).toEqual(['A']);
    expect(await dates('gt2024-03-15T10:30:00Z')).toEqual(['B', 'C', 'E', 'F']);
    expect(await dates('lt2024-03-15T10:30:00Z')).toEqual(['B', 'D', 'E', 'G']);
    expect(await dates('ge2024-03-15T10:30:00Z')).toEqual(['A', 'B', 'C', 'E', 'F']);
    expect(await dates('le2024-03-15T10:30:00Z')).toEqual(['A', 'B', 'D', 'E', 'G']);
    expect(await dates('sa2024-03-15T10:30:00Z')).toEqual(['C', 'F']);
    expect(await dates('eb2024-03-20T00:00:01Z')).toEqual(['A', 'B', 'D', 'E', 'G']);
  });

  it('comma = OR, repeated = AND (a range)', async () => {
    expect(await dates('2023,2024-04')).toEqual(['C', 'D']);
    expect(await dates('lt2020,ge2024-05')).toEqual(['F', 'G']); // each value with its own prefix
    const range = await labels(server.fhir, `Observation?subject=${pid}&date=ge2024-03-01&date=lt2024-04-01`);
    expect(range).toEqual(['A', 'B', 'E']);
  });

  it('rejects a malformed date with 400', async () => {
    const { fhirFetch } = await import('./support/server.ts');
    for (const bad of ['2024-13', '15-03-2024', 'gtyesterday', '2024-02-30']) {
      const r = await fhirFetch(`${server.fhir}/Observation?date=${bad}`);
      expect(r.status, bad).toBe(400);
      expect(r.body.resourceType).toBe('OperationOutcome');
    }
  });
});

describe('Encounter.period', () => {
  it('matches the period with every prefix', async () => {
    const e1 = await create(server.fhir, { resourceType: 'Encounter', identifier: [{ system: 'urn:test:label', value: 'E1' }], status: 'finished', class: { code: 'IMP' }, subject: { reference: `Patient/${pid}` }, period: { start: '2024-02-01T08:00:00Z', end: '2024-02-03T12:00:00Z' } });
    await create(server.fhir, { resourceType: 'Encounter', identifier: [{ system: 'urn:test:label', value: 'E2' }], status: 'in-progress', class: { code: 'IMP' }, subject: { reference: `Patient/${pid}` }, period: { start: '2024-02-10' } });
    const enc = (q: string): Promise<string[]> => labels(server.fhir, `Encounter?date=${encodeURIComponent(q)}`);
    expect(await enc('2024-02')).toEqual(['E1']);
    expect(await enc('2024-02-02')).toEqual([]); // the day does not contain the whole stay
    expect(await enc('ne2024-02')).toEqual(['E2']);
    expect(await enc('ge2024-02-05')).toEqual(['E2']);
    expect(await enc('gt2024-02-02')).toEqual(['E1', 'E2']);
    expect(await enc('le2024-02-02')).toEqual(['E1']);
    expect(await enc('lt2024-02-10')).toEqual(['E1']);
    expect(await enc('sa2024-02-05')).toEqual(['E2']);
    expect(await enc('eb2024-02-05')).toEqual(['E1']);
    expect(await enc('ap2024-02-02')).toContain('E1');
    expect((await search(server.fhir, `Encounter?date=2024-02&_id=${e1.id}`)).total).toBe(1);
  });
});

describe('_lastUpdated and birthdate', () => {
  it('_lastUpdated with gt/lt/ge around a point between two writes', async () => {
    const first = await create(server.fhir, labObservation(pid, 'LU1'));
    await new Promise((r) => setTimeout(r, 30));
    const cut = new Date(Date.now()).toISOString();
    await new Promise((r) => setTimeout(r, 30));
    const second = await create(server.fhir, labObservation(pid, 'LU2'));
    const lu = (q: string): Promise<string[]> => labels(server.fhir, `Observation?code=718-7&_id=${first.id},${second.id}&_lastUpdated=${encodeURIComponent(q)}`);
    expect(await lu(`gt${cut}`)).toEqual(['LU2']);
    expect(await lu(`ge${cut}`)).toEqual(['LU2']);
    expect(await lu(`lt${cut}`)).toEqual(['LU1']);
    expect(await lu(`le${cut}`)).toEqual(['LU1']);
    expect(await lu(first.meta?.lastUpdated as string)).toEqual(['LU1']);
    expect(await lu(`ne${first.meta?.lastUpdated}`)).toEqual(['LU2']);
    expect(await lu(cut.slice(0, 4))).toEqual(['LU1', 'LU2']);
  });

  it('Patient birthdate', async () => {
    const b = async (q: string): Promise<number | undefined> => (await search(server.fhir, `Patient?birthdate=${q}`)).total;
    expect(await b('1968-04-12')).toBe(1);
    expect(await b('1968-04')).toBe(1);
    expect(await b('1968-04-13')).toBe(0);
    expect(await b('lt1970')).toBe(1);
    expect(await b('ge1970')).toBe(0);
    expect(await b('eb1968-04-12')).toBe(0);
    expect(await b('sa1968-04-11')).toBe(1);
  });
});
