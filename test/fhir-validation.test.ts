import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fhirFetch, startTestServer, type TestServer } from './support/server.ts';
import { create, patient } from './support/factory.ts';

/** What the REST API refuses that R4 forbids, each answer a 400 naming the element. */

let server: TestServer;
let subject: { reference: string };
beforeAll(async () => {
  server = await startTestServer();
  subject = { reference: `Patient/${(await create(server.fhir, patient('999900400'))).id}` };
});
afterAll(async () => {
  await server?.close();
});

async function refusal(resource: object): Promise<{ status: number; expressions: string[]; texts: string[] }> {
  const r = await fhirFetch(`${server.fhir}/${(resource as { resourceType: string }).resourceType}`, { method: 'POST', json: resource });
  const issues: { expression?: string[]; details?: { text?: string } }[] = r.body?.issue ?? [];
  return { status: r.status, expressions: issues.map((i) => i.expression?.[0] ?? ''), texts: issues.map((i) => i.details?.text ?? '') };
}

const NS = 'xmlns="http://www.w3.org/1999/xhtml"';

describe('the REST API stores only valid FHIR R4', () => {
  it('refuses narrative with script, event attributes or without the XHTML namespace', async () => {
    const script = await refusal(patient('999900401', { text: { status: 'generated', div: `<div ${NS}><p onclick="steal()">Anna</p><script>steal()</script></div>` } }));
    expect(script.status).toBe(400);
    expect(script.expressions).toEqual(['Patient.text.div', 'Patient.text.div']);
    const bare = await refusal(patient('999900402', { text: { status: 'generated', div: '<div>Anna</div>' } }));
    expect(bare.expressions).toEqual(['Patient.text.div']);
    expect(bare.texts[0]).toContain('XHTML namespace');
    // nothing was stored (the same search finds the patient created in beforeAll)
    expect((await fhirFetch(`${server.fhir}/Patient?identifier=999900401`)).body.entry ?? []).toHaveLength(0);
    expect((await fhirFetch(`${server.fhir}/Patient?identifier=999900400`)).body.entry).toHaveLength(1);
  });

  it('refuses a code outside a required value set, an invalid UCUM code, a non-OID urn:oid and an empty contained resource', async () => {
    const condition = await refusal({ resourceType: 'Condition', subject, verificationStatus: { coding: [{ system: 'http://snomed.info/sct', code: 'confirmed' }] } });
    expect([condition.status, condition.expressions]).toEqual([400, ['Condition.verificationStatus']]);
    const obs = { resourceType: 'Observation', status: 'final', subject, code: { text: 'Natrium' } };
    const ucum = await refusal({ ...obs, valueQuantity: { value: 140, unit: 'mmol/l', system: 'http://unitsofmeasure.org', code: 'mmol/l/' } });
    expect([ucum.status, ucum.expressions]).toEqual([400, ['Observation.valueQuantity.code']]);
    const oid = await refusal({ ...obs, identifier: [{ system: 'urn:oid:0f8fad5b-d9cb-469f-a165-70867728950e', value: '1' }] });
    expect([oid.status, oid.expressions]).toEqual([400, ['Observation.identifier[0].system']]);
    const empty = await refusal({ ...obs, contained: [{}] });
    expect([empty.status, empty.expressions]).toEqual([400, ['Observation.contained[0]']]);
  });

  it('accepts the same resources once they are valid', async () => {
    const condition = await fhirFetch(`${server.fhir}/Condition`, { method: 'POST', json: { resourceType: 'Condition', subject, verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'confirmed' }] } } });
    expect(condition.status).toBe(201);
    const p = await fhirFetch(`${server.fhir}/Patient`, { method: 'POST', json: patient('999900403', { text: { status: 'generated', div: `<div ${NS}><p><b>Anna</b> Jansen</p></div>` } }) });
    expect(p.status).toBe(201);
  });
});
