import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fhirFetch, startTestServer, type TestServer } from './support/server.ts';
import { BSN, UCUM, create, labObservation, labels, patient } from './support/factory.ts';

let server: TestServer;
let pid: string;

const person = (label: string, family: string, given: string[], extra: Record<string, unknown> = {}) =>
  patient(`9999${label.padStart(5, '0')}`, { identifier: [{ system: BSN, value: label }, { system: 'urn:test:label', value: label }], name: [{ family, given }], ...extra });

beforeAll(async () => {
  server = await startTestServer();
  pid = (await create(server.fhir, person('P1', 'Jansen', ['Anna', 'Maria']))).id;
  await create(server.fhir, person('P2', 'Müller', ['Jörg'], { gender: 'male', birthDate: '1955-11-02' }));
  await create(server.fhir, person('P3', 'van der Berg', ['Johannes'], { gender: 'male', birthDate: undefined, _birthDate: undefined }));
  await create(server.fhir, person('P4', 'Janssen-de Vries', ['Els'], { gender: 'unknown' }));
  const q = (value: number, unit: string, code?: string, system = UCUM) => ({ valueQuantity: { value, unit, ...(code ? { system, code } : {}) } });
  await create(server.fhir, labObservation(pid, 'Q1', q(5.4, 'mmol/L', 'mmol/L')));
  await create(server.fhir, labObservation(pid, 'Q2', q(120, 'g/L', 'g/L')));
  await create(server.fhir, labObservation(pid, 'Q3', q(7.2, 'mmol/L', 'mmol/L')));
  await create(server.fhir, labObservation(pid, 'Q4', q(5.4, '%')));
  await create(server.fhir, labObservation(pid, 'Q5', q(0.25, 'mg/dL', 'mg/dL')));
  await create(server.fhir, labObservation(pid, 'NOVALUE', { valueString: 'not done' }));
});
afterAll(async () => {
  await server?.close();
});

const names = (q: string): Promise<string[]> => labels(server.fhir, `Patient?${q}`);
const quantity = (q: string): Promise<string[]> => labels(server.fhir, `Observation?value-quantity=${encodeURIComponent(q)}`);

describe('string search on Patient', () => {
  it('family, given and name match from the start, ignoring case', async () => {
    expect(await names('family=Jansen')).toEqual(['P1']);
    expect(await names('family=jans')).toEqual(['P1', 'P4']);
    expect(await names('family=JANSSEN')).toEqual(['P4']);
    expect(await names('given=jo')).toEqual(['P2', 'P3']);
    expect(await names('given=maria')).toEqual(['P1']);
    expect(await names('name=anna')).toEqual(['P1']);
    expect(await names('name=jansen')).toEqual(['P1']);
    expect(await names('family=van%20der')).toEqual(['P3']);
    expect(await names('family=nna')).toEqual([]);
  });

  it('ignores accents both ways', async () => {
    expect(await names('family=muller')).toEqual(['P2']);
    expect(await names('family=M%C3%BCller')).toEqual(['P2']);
    expect(await names('given=JORG')).toEqual(['P2']);
    expect(await names('given=j%C3%B6')).toEqual(['P2', 'P3']);
  });

  it(':contains and :exact', async () => {
    expect(await names('family:contains=sse')).toEqual(['P4']);
    expect(await names('family:contains=ER')).toEqual(['P2', 'P3']);
    expect(await names('name:contains=ari')).toEqual(['P1']);
    expect(await names('family:exact=M%C3%BCller')).toEqual(['P2']);
    expect(await names('family:exact=muller')).toEqual([]);
    expect(await names('family:exact=Jans')).toEqual([]);
    expect(await names('family:exact=van%20der%20Berg')).toEqual(['P3']);
  });

  it('comma OR and repeated AND', async () => {
    expect(await names('family=jansen,muller')).toEqual(['P1', 'P2']);
    expect(await names('given=jo&family=van')).toEqual(['P3']);
    expect(await names('given=jo&family=jansen')).toEqual([]);
  });

  it('treats regular-expression characters literally', async () => {
    expect(await names('family=.*')).toEqual([]);
    expect(await names('family:contains=(')).toEqual([]);
  });

  it('gender, birthdate and :missing', async () => {
    expect(await names('gender=male')).toEqual(['P2', 'P3']);
    expect(await names('gender=female,unknown')).toEqual(['P1', 'P4']);
    expect(await names('birthdate=1955')).toEqual(['P2']);
    expect(await names('birthdate:missing=true')).toEqual(['P3']);
    expect(await names('gender=male&birthdate:missing=false')).toEqual(['P2']);
  });
});

describe('value-quantity on Observation', () => {
  it('a number alone matches any unit, within the precision given', async () => {
    expect(await quantity('5.4')).toEqual(['Q1', 'Q4']);
    expect(await quantity('5.40')).toEqual(['Q1', 'Q4']);
    expect(await quantity('5')).toEqual(['Q1', 'Q4']); // 5 means [4.5, 5.5)
    expect(await quantity('0.25')).toEqual(['Q5']);
    expect(await quantity('0.2')).toEqual([]);
    expect(await quantity('1.2e2')).toEqual(['Q2']);
  });

  it('number|system|code and number||code', async () => {
    expect(await quantity(`5.4|${UCUM}|mmol/L`)).toEqual(['Q1']);
    expect(await quantity('5.4||mmol/L')).toEqual(['Q1']);
    expect(await quantity('5.4||%')).toEqual(['Q4']); // the unit, when there is no code
    expect(await quantity(`5.4|${UCUM}|g/L`)).toEqual([]);
    expect(await quantity('5.4|http://other|mmol/L')).toEqual([]);
  });

  it('prefixes', async () => {
    expect(await quantity('gt6')).toEqual(['Q2', 'Q3']);
    expect(await quantity('ge7.2')).toEqual(['Q2', 'Q3']);
    expect(await quantity('lt5.4')).toEqual(['Q5']);
    expect(await quantity('le5.4')).toEqual(['Q1', 'Q4', 'Q5']);
    expect(await quantity(`lt100|${UCUM}|mmol/L`)).toEqual(['Q1', 'Q3']);
    expect(await quantity('ge5||mmol/L')).toEqual(['Q1', 'Q3']);
    expect(await quantity('ne5.4')).toEqual(['Q2', 'Q3', 'Q5']); // not the Observation without a value
    expect(await quantity('ap7')).toEqual(['Q3']);
    expect(await quantity('sa100')).toEqual(['Q2']);
    expect(await quantity('eb0.3')).toEqual(['Q5']);
  });

  it('comma OR with prefixes, and :missing', async () => {
    expect(await quantity('lt1,gt100')).toEqual(['Q2', 'Q5']);
    expect(await quantity(`5.4|${UCUM}|mmol/L,120||g/L`)).toEqual(['Q1', 'Q2']);
    expect(await labels(server.fhir, 'Observation?value-quantity:missing=true')).toEqual(['NOVALUE']);
  });

  it('rejects a value that is not a number with 400', async () => {
    const r = await fhirFetch(`${server.fhir}/Observation?value-quantity=high`);
    expect(r.status).toBe(400);
    expect(r.body.resourceType).toBe('OperationOutcome');
  });
});
