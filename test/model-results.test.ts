import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle } from '@medplum/fhirtypes';
import { authFetch, clientCredentialsToken, fhirFetch, startTestServer, type TestServer } from './support/server.ts';
import { labObservation, patient } from './support/factory.ts';

/**
 * The model write-back contract (docs/model-results.md): an ML pipeline with narrow system scopes
 * writes its result as a RiskAssessment performed by the model's Device, with a Provenance naming
 * the inputs; the timeline shows it in the "model" lane with the score and the model's name, never
 * as a clinician's finding.
 */

let server: TestServer;
let pipelineToken: string;
let pid = '';
let input = '';

beforeAll(async () => {
  server = await startTestServer();
  pid = (await fhirFetch(`${server.fhir}/Patient`, { method: 'POST', json: patient('999977701') })).body.id as string;
  input = (await fhirFetch(`${server.fhir}/Observation`, { method: 'POST', json: labObservation(pid, 'CEA for the model') })).body.id as string;
  // What an ML pipeline holds: read its inputs, write its results, nothing else.
  pipelineToken = await clientCredentialsToken(server.url, undefined, 'system/Observation.rs system/Patient.r system/Device.cru system/RiskAssessment.cru system/Provenance.c');
});
afterAll(async () => {
  await server?.close();
});

function modelResult(probability: number): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      {
        fullUrl: 'urn:uuid:0b4a8a3e-5f0e-4b7e-9a53-2b0d6f1c0a01',
        resource: { resourceType: 'Device', identifier: [{ system: 'https://models.hospital.example', value: 'recurrence-risk' }], deviceName: [{ name: 'Recurrence risk model', type: 'model-name' }], version: [{ value: '1.2.0' }], type: { text: 'Machine learning model' } },
        request: { method: 'PUT', url: 'Device?identifier=https://models.hospital.example|recurrence-risk' },
      },
      {
        fullUrl: 'urn:uuid:0b4a8a3e-5f0e-4b7e-9a53-2b0d6f1c0a02',
        resource: {
          resourceType: 'RiskAssessment',
          status: 'final',
          subject: { reference: `Patient/${pid}` },
          occurrenceDateTime: '2026-11-20T10:00:00+01:00',
          performer: { reference: 'urn:uuid:0b4a8a3e-5f0e-4b7e-9a53-2b0d6f1c0a01', display: 'Recurrence risk model 1.2.0' },
          method: { text: 'Recurrence risk model 1.2.0' },
          basis: [{ reference: `Observation/${input}` }],
          prediction: [{ outcome: { text: 'Recurrence within 5 years' }, probabilityDecimal: probability }],
        },
        request: { method: 'POST', url: 'RiskAssessment' },
      },
      {
        resource: {
          resourceType: 'Provenance',
          target: [{ reference: 'urn:uuid:0b4a8a3e-5f0e-4b7e-9a53-2b0d6f1c0a02' }],
          recorded: '2026-11-20T10:00:05+01:00',
          agent: [{ who: { reference: 'urn:uuid:0b4a8a3e-5f0e-4b7e-9a53-2b0d6f1c0a01', display: 'Recurrence risk model 1.2.0' } }],
          entity: [{ role: 'source', what: { reference: `Observation/${input}` } }],
        },
        request: { method: 'POST', url: 'Provenance' },
      },
    ],
  } as Bundle;
}

describe('model results on the timeline', () => {
  it('a pipeline with narrow scopes writes a RiskAssessment by its Device; the timeline shows it in the model lane', async () => {
    const written = await fhirFetch(server.fhir, { method: 'POST', json: modelResult(0.234), headers: { authorization: `Bearer ${pipelineToken}` } });
    expect(written.status, JSON.stringify(written.body)).toBe(200);
    expect(written.body.entry.map((e: { response: { status: string } }) => e.response.status.slice(0, 3))).toEqual(['201', '201', '201']);
    // The same token cannot read what it has no scope for, nor delete.
    expect((await fhirFetch(`${server.fhir}/Condition`, { headers: { authorization: `Bearer ${pipelineToken}` } })).status).toBe(403);
    const res = await authFetch(`${server.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: `{ patient(id: "${pid}") { timeline(lanes: [model]) { totalCount edges { node { lane title summary status } } } } }` }),
    });
    const body = (await res.json()) as { data: { patient: { timeline: { totalCount: number; edges: { node: { lane: string; title: string; summary: string; status: string } }[] } } } };
    expect(body.data.patient.timeline.totalCount).toBe(1);
    const event = body.data.patient.timeline.edges[0]?.node;
    expect(event).toEqual({ lane: 'model', title: 'Recurrence within 5 years: 23.4%', summary: "model result (Recurrence risk model 1.2.0), not a clinician's finding", status: 'final' });
  });

  it('a risk assessment by a person is not in the model lane', async () => {
    const practitioner = (await fhirFetch(`${server.fhir}/Practitioner`, { method: 'POST', json: { resourceType: 'Practitioner', name: [{ family: 'Jansen' }] } })).body.id as string;
    await fhirFetch(`${server.fhir}/RiskAssessment`, { method: 'POST', json: { resourceType: 'RiskAssessment', status: 'final', subject: { reference: `Patient/${pid}` }, performer: { reference: `Practitioner/${practitioner}` }, occurrenceDateTime: '2026-11-21', prediction: [{ outcome: { text: 'Clinical judgement' }, qualitativeRisk: { text: 'high' } }] } });
    const res = await fhirFetch(`${server.fhir}/Patient/${pid}/$timeline?lane=model`);
    expect(((res.body as Bundle).entry ?? []).filter((e) => e.search?.mode === 'match')).toHaveLength(1);
    const other = await fhirFetch(`${server.fhir}/Patient/${pid}/$timeline?lane=other`);
    expect(JSON.stringify(other.body)).toContain('Clinical judgement');
  });
});
