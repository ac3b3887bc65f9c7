/* eslint-disable @typescript-eslint/no-explicit-any -- assertions read FHIR and GraphQL JSON bodies */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle, Composition, Resource } from '@medplum/fhirtypes';
import { authFetch, fhirFetch, startTestServer, type TestServer } from './support/server.ts';
import { userToken } from './support/auth.ts';
import { create, ICD10, labObservation, LOINC, patient, UCUM } from './support/factory.ts';

/**
 * The tumour board's workflow over real HTTP: a meeting (Appointment) with two cases (Tasks) on
 * its agenda; preparing a case freezes a document Bundle of the exact resource versions shown; a
 * corrected lab result afterwards leaves the pack as it was and shows in $changes; the board's
 * decision lands in the patient's timeline (lane decision) and completes the Task. Board members
 * read a pack only of a patient on their boards; a read-only clinician cannot prepare or decide.
 */

let server: TestServer;
const ids: Record<string, string> = {};

async function put(r: Resource & { id: string }): Promise<void> {
  const res = await fhirFetch(`${server.fhir}/${r.resourceType}/${r.id}`, { method: 'PUT', json: r });
  expect(res.status, JSON.stringify(res.body)).toBeLessThan(300);
}

function pathologyRecord(pid: string): { er: Resource; report: Resource } {
  const er = {
    resourceType: 'Observation', status: 'final', subject: { reference: `Patient/${pid}` },
    code: { coding: [{ system: LOINC, code: '16112-5', display: 'Estrogen receptor [Interpretation] in Tissue' }] },
    valueCodeableConcept: { coding: [{ system: LOINC, code: 'LA6576-8', display: 'Positive' }], text: 'Positive (90 %)' },
    effectiveDateTime: '2026-10-02T10:00:00Z',
  } as Resource;
  const report = {
    resourceType: 'DiagnosticReport', status: 'final', subject: { reference: `Patient/${pid}` },
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'SP' }] }],
    code: { coding: [{ system: LOINC, code: '60568-3', display: 'Pathology Synoptic report' }] },
    effectiveDateTime: '2026-10-02T10:00:00Z', issued: '2026-10-04T09:00:00Z',
    conclusion: 'Invasive ductal carcinoma of the left breast',
  } as Resource;
  return { er, report };
}

async function caseOf(pid: string, bsn: string): Promise<void> {
  const { er, report } = pathologyRecord(pid);
  const erId = (await create(server.fhir, er)).id;
  ids[`report-${bsn}`] = (await create(server.fhir, { ...report, result: [{ reference: `Observation/${erId}` }] } as Resource)).id;
  ids[`condition-${bsn}`] = (await create(server.fhir, {
    resourceType: 'Condition', subject: { reference: `Patient/${pid}` }, onsetDateTime: '2026-10-04',
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
    verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'confirmed' }] },
    code: { coding: [{ system: ICD10, code: 'C50.4', display: 'Malignant neoplasm of upper-outer quadrant of breast' }] },
  } as Resource)).id;
  ids[`letter-${bsn}`] = (await create(server.fhir, {
    resourceType: 'DocumentReference', status: 'current', subject: { reference: `Patient/${pid}` }, date: '2026-09-28T09:00:00Z',
    type: { text: 'Referral letter' }, description: 'Referral from the GP: palpable mass left breast',
    content: [{ attachment: { contentType: 'text/plain', data: Buffer.from('Palpable mass in the left breast.').toString('base64') } }],
  } as Resource)).id;
  ids[`hb-${bsn}`] = (await create(server.fhir, labObservation(pid, `hb-${bsn}`, { effectiveDateTime: '2026-10-20T08:00:00Z', valueQuantity: { value: 7.9, unit: 'mmol/L', system: UCUM, code: 'mmol/L' } }))).id;
}

beforeAll(async () => {
  server = await startTestServer();
  ids.anna = (await create(server.fhir, patient('999966711'))).id;
  ids.bea = (await create(server.fhir, patient('999966723', { name: [{ family: 'Bakker', given: ['Bea'] }] }))).id;
  ids.offBoard = (await create(server.fhir, patient('999966735', { name: [{ family: 'Smit', given: ['Carla'] }] }))).id;
  await caseOf(ids.anna, 'anna');
  await caseOf(ids.bea, 'bea');
  await caseOf(ids.offBoard, 'off');
  // The board: its members are its patients (the demo board's id, which board users are bound to).
  await put({ resourceType: 'Group', id: 'tumour-board-breast', type: 'person', actual: true, name: 'Breast tumour board', member: [{ entity: { reference: `Patient/${ids.anna}` } }, { entity: { reference: `Patient/${ids.bea}` } }] } as Resource & { id: string });
  ids.meeting = (await create(server.fhir, {
    resourceType: 'Appointment', status: 'booked', description: 'Breast tumour board',
    serviceType: [{ text: 'Tumour board' }], start: '2026-11-30T16:00:00Z', end: '2026-11-30T17:00:00Z',
    participant: [{ type: [{ text: 'Tumour board' }], status: 'accepted' }],
    supportingInformation: [{ reference: 'Group/tumour-board-breast', display: 'Breast tumour board' }],
  } as Resource)).id;
  for (const [who, q] of [['anna', 'Neoadjuvant chemotherapy or primary surgery?'], ['bea', 'Is radiotherapy indicated after breast-conserving surgery?'], ['off', 'Second opinion']] as const) {
    const pid = who === 'off' ? ids.offBoard : ids[who];
    ids[`task-${who}`] = (await create(server.fhir, {
      resourceType: 'Task', status: 'requested', intent: 'order', code: { text: 'Tumour board review' },
      for: { reference: `Patient/${pid}` }, basedOn: [{ reference: `Appointment/${ids.meeting}` }],
      authoredOn: '2026-11-20T09:00:00Z', input: [{ type: { text: 'Question for the board' }, valueString: q }],
    } as Resource)).id;
  }
}, 120_000);
afterAll(async () => {
  await server?.close();
});

const prepare = (task: string) => fhirFetch(`${server.fhir}/Task/${task}/$prepare`, { method: 'POST', json: { resourceType: 'Parameters' } });
const param = (body: any, name: string) => body.parameter.find((p: any) => p.name === name)?.resource;

describe('tumour board', () => {
  let pack: Bundle;

  it('the meeting has an agenda of cases (Tasks based on the Appointment)', async () => {
    const agenda = await fhirFetch(`${server.fhir}/Task?based-on=Appointment/${ids.meeting}`);
    expect(agenda.status).toBe(200);
    expect(agenda.body.entry.map((e: any) => e.resource.for.reference).sort()).toEqual([`Patient/${ids.anna}`, `Patient/${ids.bea}`, `Patient/${ids.offBoard}`].sort());
  });

  it('preparing a case freezes a document Bundle of the exact versions it shows', async () => {
    const r = await prepare(ids['task-anna'] as string);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    pack = param(r.body, 'pack');
    expect(pack.type).toBe('document');
    expect(pack.identifier?.value).toMatch(/^urn:uuid:/);
    const composition = pack.entry?.[0]?.resource as Composition;
    expect(composition.resourceType).toBe('Composition');
    expect(composition.subject?.reference).toBe(`Patient/${ids.anna}`);
    expect(composition.type.coding?.[0]?.code).toBe('85232-7');
    expect(composition.section?.map((s) => s.title)).toEqual(expect.arrayContaining(['Question for the board', 'Diagnosis', 'Pathology findings', 'Key labs', 'Recent letters']));
    expect(composition.section?.[0]?.text?.div).toContain('Neoadjuvant chemotherapy or primary surgery?');
    expect(composition.section?.find((s) => s.title === 'Pathology findings')?.text?.div).toMatch(/ER: Positive/);
    // Every section entry is a versioned reference to an entry of the Bundle with that version.
    const refs = composition.section?.flatMap((s) => (s.entry ?? []).map((e) => e.reference as string)) ?? [];
    expect(refs).toEqual(expect.arrayContaining([`Observation/${ids['hb-anna']}/_history/1`, `DiagnosticReport/${ids['report-anna']}/_history/1`, `Condition/${ids['condition-anna']}/_history/1`, `DocumentReference/${ids['letter-anna']}/_history/1`]));
    for (const ref of refs) {
      const [type, id, , vid] = ref.split('/');
      const entry = pack.entry?.find((e) => e.resource?.resourceType === type && e.resource?.id === id);
      expect(entry?.resource?.meta?.versionId, ref).toBe(vid);
      expect(entry?.fullUrl).toBe(`${server.fhir}/${type}/${id}`);
    }
    // The Task carries the pack and the preparation time, and is in progress.
    const task = param(r.body, 'task');
    expect(task.status).toBe('in-progress');
    expect(task.output.find((o: any) => o.type.text === 'Case pack').valueReference.reference).toBe(`Bundle/${pack.id}`);
    expect(Date.parse(task.output.find((o: any) => o.type.text === 'Prepared at').valueDateTime)).toBe(Date.parse(pack.timestamp as string));
  });

  it('a corrected lab result after preparation leaves the pack as it was and shows in $changes', async () => {
    const hb = await fhirFetch(`${server.fhir}/Observation/${ids['hb-anna']}`);
    const corrected = await fhirFetch(`${server.fhir}/Observation/${ids['hb-anna']}`, { method: 'PUT', json: { ...hb.body, status: 'corrected', valueQuantity: { value: 6.1, unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' } } });
    expect(corrected.status).toBe(200);
    expect(corrected.body.meta.versionId).toBe('2');
    const again = await fhirFetch(`${server.fhir}/Bundle/${pack.id}`);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(pack);
    const frozen = again.body.entry.find((e: any) => e.resource.id === ids['hb-anna']).resource;
    expect(frozen.meta.versionId).toBe('1');
    expect(frozen.valueQuantity.value).toBe(7.9);
    const changes = await fhirFetch(`${server.fhir}/Task/${ids['task-anna']}/$changes`);
    expect(changes.status, JSON.stringify(changes.body)).toBe(200);
    const listed = changes.body.entry.map((e: any) => `${e.resource.resourceType}/${e.resource.id}/_history/${e.resource.meta.versionId}`);
    expect(listed).toEqual([`Observation/${ids['hb-anna']}/_history/2`]);
    // Another patient's record is not part of this case's changes.
    expect(JSON.stringify(changes.body)).not.toContain(ids.bea);
  });

  it('preparing again makes a new pack; the earlier one is never rewritten', async () => {
    const r = await prepare(ids['task-anna'] as string);
    expect(r.status).toBe(200);
    const second = param(r.body, 'pack');
    expect(second.id).not.toBe(pack.id);
    expect(JSON.stringify(second.entry[0].resource.section)).toContain(`Observation/${ids['hb-anna']}/_history/2`);
    expect((await fhirFetch(`${server.fhir}/Bundle/${pack.id}`)).body).toEqual(pack);
    expect((await fhirFetch(`${server.fhir}/Bundle/${pack.id}/_history`)).body.total).toBe(1);
    expect((await fhirFetch(`${server.fhir}/Task/${ids['task-anna']}/$changes`)).body.entry ?? []).toEqual([]);
  });

  it('the decision is on the patient timeline in the decision lane and completes the Task', async () => {
    const r = await fhirFetch(`${server.fhir}/Task/${ids['task-anna']}/$decide`, {
      method: 'POST',
      json: {
        resourceType: 'Parameters',
        parameter: [
          { name: 'decision', valueString: 'Neoadjuvant chemotherapy, then breast-conserving surgery' },
          { name: 'recommendation', valueString: 'Start AC-T within 4 weeks; MRI after 3 cycles' },
          { name: 'intent', valueCodeableConcept: { coding: [{ system: 'http://snomed.info/sct', code: '373808002', display: 'Curative - procedure intent' }] } },
        ],
      },
    });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const decision = param(r.body, 'decision');
    expect(decision.resourceType).toBe('ClinicalImpression');
    expect(decision.supportingInfo[0].reference).toMatch(/^Bundle\//);
    const task = (await fhirFetch(`${server.fhir}/Task/${ids['task-anna']}`)).body;
    expect(task.status).toBe('completed');
    expect(task.output.find((o: any) => o.type.text === 'Decision').valueReference.reference).toBe(`ClinicalImpression/${decision.id}`);
    const res = await authFetch(`${server.url}/graphql`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: `{ patient(id: "${ids.anna}") { timeline(lanes: [decision]) { totalCount edges { node { lane title summary } } } } }` }),
    });
    const body = (await res.json()) as any;
    expect(body.errors).toBeUndefined();
    expect(body.data.patient.timeline.totalCount).toBe(1);
    const node = body.data.patient.timeline.edges[0].node;
    expect(node).toMatchObject({ lane: 'decision', title: 'Tumour board decision' });
    expect(node.summary).toContain('Neoadjuvant chemotherapy, then breast-conserving surgery');
    expect(node.summary).toContain('Recommendation: Start AC-T within 4 weeks');
    const viaFhir = await fhirFetch(`${server.fhir}/Patient/${ids.anna}/$timeline?lane=decision`);
    expect(viaFhir.body.entry.filter((e: any) => e.search.mode === 'match').map((e: any) => `${e.resource.resourceType}/${e.resource.id}`)).toEqual([`ClinicalImpression/${decision.id}`]);
    // A closed case takes no second decision.
    const again = await fhirFetch(`${server.fhir}/Task/${ids['task-anna']}/$decide`, { method: 'POST', json: { resourceType: 'Parameters', parameter: [{ name: 'decision', valueString: 'x' }, { name: 'recommendation', valueString: 'y' }] } });
    expect(again.status).toBe(400);
  });

  it('refuses what a case operation cannot do', async () => {
    expect((await fhirFetch(`${server.fhir}/Task/${ids['task-bea']}/$prepare`)).status).toBe(400);
    expect((await fhirFetch(`${server.fhir}/Task/${ids['task-bea']}/$changes`)).status).toBe(400);
    const missing = await fhirFetch(`${server.fhir}/Task/${ids['task-bea']}/$decide`, { method: 'POST', json: { resourceType: 'Parameters', parameter: [{ name: 'decision', valueString: 'Surgery' }] } });
    expect(missing.status).toBe(400);
    expect(JSON.stringify(missing.body)).toContain('recommendation');
  });

  it('board members read packs of their boards’ patients only; a read-only clinician cannot prepare', async () => {
    const onBoard = param((await prepare(ids['task-bea'] as string)).body, 'pack');
    const offBoard = param((await prepare(ids['task-off'] as string)).body, 'pack');
    const scope = 'openid fhirUser user/*.cruds';
    const board = { authorization: `Bearer ${await userToken(server.url, 'board', scope)}` };
    expect((await fhirFetch(`${server.fhir}/Bundle/${onBoard.id}`, { headers: board })).status).toBe(200);
    expect((await fhirFetch(`${server.fhir}/Bundle/${offBoard.id}`, { headers: board })).status).toBe(403);
    const clinician = { authorization: `Bearer ${await userToken(server.url, 'clinician', scope)}` };
    expect((await fhirFetch(`${server.fhir}/Bundle/${onBoard.id}`, { headers: clinician })).status).toBe(200);
    const refused = await fhirFetch(`${server.fhir}/Task/${ids['task-bea']}/$prepare`, { method: 'POST', headers: clinician, json: { resourceType: 'Parameters' } });
    expect(refused.status).toBe(403);
  });
});
