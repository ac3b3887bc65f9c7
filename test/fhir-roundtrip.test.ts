import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Resource } from '@medplum/fhirtypes';
import { fhirFetch, startTestServer, type TestServer } from './support/server.ts';
import { create, oncologyRecord, patient, withoutMeta } from './support/factory.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

describe('round-trip of realistic resources', () => {
  it('stores at least 15 resource types unchanged apart from id and meta', async () => {
    const p = patient('999900011');
    const storedPatient = await create(server.fhir, p);
    const record = oncologyRecord(storedPatient.id);
    const all: Resource[] = [p, ...record];
    const types = new Set(all.map((r) => r.resourceType));
    expect(types.size).toBeGreaterThanOrEqual(15);

    const read = await fhirFetch(`${server.fhir}/Patient/${storedPatient.id}`);
    expect(withoutMeta(read.body)).toEqual(p);
    expect(read.body._birthDate.extension[0].valueDateTime).toBe('1968-04-12T06:15:00+01:00');

    for (const resource of record) {
      const stored = await create(server.fhir, resource);
      expect(stored.meta?.versionId, resource.resourceType).toBe('1');
      expect(withoutMeta(stored), `${resource.resourceType} as returned by create`).toEqual(resource);
      const back = await fhirFetch(`${server.fhir}/${resource.resourceType}/${stored.id}`);
      expect(back.status).toBe(200);
      expect(withoutMeta(back.body), `${resource.resourceType} as read back`).toEqual(resource);
      expect(back.body.meta.lastUpdated).toBe(stored.meta?.lastUpdated);
    }
  });

  it('keeps client-supplied meta (profile, tags) while setting versionId and lastUpdated', async () => {
    const meta = { profile: ['http://hl7.org/fhir/StructureDefinition/vitalsigns'], tag: [{ system: 'urn:idr:source', code: 'lab' }] };
    const pid = (await create(server.fhir, patient('999900012'))).id;
    const obs = { ...(oncologyRecord(pid)[5] as Resource), meta } as Resource;
    const stored = await create(server.fhir, obs);
    expect(stored.meta).toMatchObject({ ...meta, versionId: '1' });
    expect(Date.parse(stored.meta?.lastUpdated ?? '')).not.toBeNaN();
  });

  it('honours Prefer: return=minimal and return=OperationOutcome', async () => {
    const minimal = await fhirFetch(`${server.fhir}/Patient`, { method: 'POST', json: patient('999900022'), headers: { prefer: 'return=minimal' } });
    expect(minimal.status).toBe(201);
    expect(minimal.body).toBeUndefined();
    expect(minimal.headers.get('location')).toMatch(/\/fhir\/Patient\/[^/]+\/_history\/1$/);
    const outcome = await fhirFetch(`${server.fhir}/Patient`, { method: 'POST', json: patient('999900033'), headers: { prefer: 'return=OperationOutcome' } });
    expect(outcome.status).toBe(201);
    expect(outcome.body.resourceType).toBe('OperationOutcome');
    const back = await fhirFetch(minimal.headers.get('location') as string);
    expect(withoutMeta(back.body)).toEqual(patient('999900022'));
  });

  it('accepts base64Binary with line breaks and spaces between groups (R4 allows them) and keeps it as sent', async () => {
    const pid = (await create(server.fhir, patient('999900044'))).id;
    const binary = { resourceType: 'Binary', contentType: 'text/plain', data: 'SElTVE9Q\nQVRIT0xP\r\nR0lFIFZF\nUlNMQUc=' } as Resource;
    const letter = {
      resourceType: 'DocumentReference',
      status: 'current',
      subject: { reference: `Patient/${pid}` },
      content: [{ attachment: { contentType: 'text/plain', data: 'T250c2xh Z2JyaWVm\n' } }],
    } as Resource;
    for (const resource of [binary, letter]) {
      const stored = await create(server.fhir, resource);
      const back = await fhirFetch(`${server.fhir}/${resource.resourceType}/${stored.id}`);
      expect(withoutMeta(back.body), resource.resourceType).toEqual(resource);
    }
    const bad = await fhirFetch(`${server.fhir}/Binary`, { method: 'POST', json: { ...binary, data: 'SElT VE9Q!' } });
    expect(bad.status).toBe(400);
    expect(bad.body.issue[0].expression).toEqual(['Binary.data']);
  });

  it('keeps large decimals, unicode and empty-free arrays exactly', async () => {
    const obs = {
      resourceType: 'Observation',
      status: 'final',
      code: { text: 'Ki-67 — proliferatie-index (µ)' },
      valueQuantity: { value: 0.000123456789, unit: '%' },
      note: [{ text: 'Ünïcödé ✓ 乳腺癌' }],
    } as Resource;
    const stored = await create(server.fhir, obs);
    const back = await fhirFetch(`${server.fhir}/Observation/${stored.id}`);
    expect(withoutMeta(back.body)).toEqual(obs);
  });
});
