import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DocumentReference } from '@medplum/fhirtypes';
import { fhirFetch, startTestServer, type TestServer } from './support/server.ts';
import { corpusDir } from './support/corpus.ts';

/** C-CDA documents of the shared sample corpus through POST /ingest/documents (`make test-corpus`). */

const BSN = 'http://fhir.nl/fhir/NamingSystem/bsn';
const PATIENT = `${BSN}|999911120`;
const SSN = 'urn:oid:2.16.840.1.113883.4.1';
const CCDA = corpusDir('ccda');
const corpus = (name: string): Promise<Buffer> => readFile(path.join(CCDA, name));

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
  await fhirFetch(`${server.fhir}/Patient`, { method: 'POST', json: { resourceType: 'Patient', identifier: [{ system: BSN, value: '999911120' }], name: [{ family: 'Jansen' }] } });
  for (const value of ['444222222', '111-00-2330']) {
    await fhirFetch(`${server.fhir}/Patient`, { method: 'POST', json: { resourceType: 'Patient', identifier: [{ system: SSN, value }] } });
  }
});
afterAll(async () => {
  await server?.close();
});

async function upload(body: Uint8Array, type: string, query: Record<string, string>): ReturnType<typeof fhirFetch> {
  return fhirFetch(`${server.url}/ingest/documents?${new URLSearchParams(query)}`, { method: 'POST', headers: { 'content-type': type }, body: new Uint8Array(body) });
}

async function docOf(result: { outputs: string[] }): Promise<DocumentReference> {
  const ref = result.outputs.find((o) => o.startsWith('DocumentReference/'))?.split('/_history/')[0];
  return (await fhirFetch(`${server.fhir}/${ref}`)).body;
}

describe('POST /ingest/documents with the corpus C-CDA documents', () => {
  it('C-CDA from the corpus, also when @medplum/ccda cannot convert it', async () => {
    const r = await upload(await corpus('Referral_Note.xml'), 'application/xml', { patient: `${SSN}|444222222` });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body.results[0].label).toMatch(/C-CDA/);
    const d = await upload(await corpus('Discharge_Summary.xml'), 'application/hl7-cda+xml', { patient: `${SSN}|111-00-2330` });
    expect(d.status, JSON.stringify(d.body)).toBe(201);
    const doc = await docOf(d.body.results[0]);
    expect(doc.type?.coding?.[0]?.code).toBe('18842-5');
    const wrongPatient = await upload(await corpus('Progress_Note.xml'), 'application/xml', { patient: PATIENT });
    expect(wrongPatient.status).toBe(400);
    expect(wrongPatient.body.results[0].error.location).toBe('metadata.patientIdentifier');
  });
});
