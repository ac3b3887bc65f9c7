import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './support/server.ts';
import { create, labObservation, patient } from './support/factory.ts';
import { parseScopes } from '../store/access.ts';
import { parseFhirSearch } from '../store/search-to-mongo.ts';
import type { RequestContext } from '../store/request-context.ts';

/** A patient-context caller (patient/ scopes only) searches within that patient's compartment, with or without naming it. */

let server: TestServer;
let own: string;
let other: string;
beforeAll(async () => {
  server = await startTestServer();
  own = (await create(server.fhir, patient('999944450'))).id;
  other = (await create(server.fhir, patient('999955560'))).id;
  for (const p of [own, other]) {
    await create(server.fhir, labObservation(p, 'hb'));
    await create(server.fhir, labObservation(p, 'wbc'));
  }
});
afterAll(async () => {
  await server?.close();
});

const asPatient = (id: string): RequestContext => ({
  actor: 'patient-app', purpose: 'patient-access', requestId: 'patient-context',
  access: { principal: { subject: 'patient-user', issuer: '', role: 'patient' }, unrestricted: false, scopes: parseScopes('patient/*.rs'), patient: id, restrictedNeedsBreakGlass: false },
});

async function subjects(ctx: RequestContext, query: string): Promise<string[]> {
  const r = await server.services.repo.search(ctx, parseFhirSearch('Observation', query));
  return r.resources.map((o) => (o as { subject?: { reference?: string } }).subject?.reference ?? '');
}

describe('patient-context search', () => {
  it('finds the patient\'s own Observations, named or not, and nothing of another patient', async () => {
    const ctx = asPatient(own);
    expect(await subjects(ctx, `subject=Patient/${own}`)).toEqual([`Patient/${own}`, `Patient/${own}`]);
    expect(await subjects(ctx, '')).toEqual([`Patient/${own}`, `Patient/${own}`]);
    expect(await subjects(ctx, `subject=Patient/${other}`)).toEqual([]);
  });
});
