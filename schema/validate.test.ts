import { describe, expect, it } from 'vitest';
import { OperationOutcomeError } from '@medplum/core';
import { assertValidResource } from './validate.ts';

/** The issues assertValidResource finds, as "expression: text" lines. */
function problems(resource: unknown): string[] {
  try {
    assertValidResource(resource);
    return [];
  } catch (err) {
    if (!(err instanceof OperationOutcomeError)) throw err;
    return (err.outcome.issue ?? []).map((i) => `${i.expression?.[0] ?? ''}: ${i.details?.text ?? ''}`);
  }
}

const NS = 'xmlns="http://www.w3.org/1999/xhtml"';
const condition = (verificationStatus: unknown): unknown => ({
  resourceType: 'Condition',
  subject: { reference: 'Patient/p1' },
  clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
  verificationStatus,
});

describe('assertValidResource: required bindings', () => {
  it('accepts a CodeableConcept with a coding from the value set, beside other codings', () => {
    const vs = { coding: [{ system: 'http://example.org/local', code: 'x' }, { system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'confirmed' }] };
    expect(problems(condition(vs))).toEqual([]);
  });

  it('refuses a CodeableConcept whose coding has the wrong system, or no code at all', () => {
    expect(problems(condition({ coding: [{ system: 'http://snomed.info/sct', code: 'confirmed' }] }))).toEqual([
      'Condition.verificationStatus: System http://snomed.info/sct is not part of the required value set http://hl7.org/fhir/ValueSet/condition-ver-status (expected http://terminology.hl7.org/CodeSystem/condition-ver-status)',
    ]);
    expect(problems(condition({ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'maybe' }] }))[0]).toContain('Code "maybe" is not in the required value set');
    expect(problems(condition({ text: 'bevestigd' }))[0]).toContain('text alone is not enough');
  });

  it('refuses a code outside its value set', () => {
    expect(problems({ resourceType: 'Observation', status: 'done', code: { text: 'x' } })).toEqual(['Observation.status: Value "done" is not in the required value set http://hl7.org/fhir/ValueSet/observation-status']);
  });
});

describe('assertValidResource: values', () => {
  const obs = (extra: object): unknown => ({ resourceType: 'Observation', status: 'final', code: { text: 'Natrium' }, ...extra });

  it('refuses invalid UCUM codes and accepts valid ones', () => {
    expect(problems(obs({ valueQuantity: { value: 140, unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' } }))).toEqual([]);
    const bad = problems(obs({ valueQuantity: { value: 140, unit: 'mmol/l', system: 'http://unitsofmeasure.org', code: 'mmol/l/' } }));
    expect(bad).toHaveLength(1);
    expect(bad[0]).toMatch(/^Observation\.valueQuantity\.code: Invalid UCUM code "mmol\/l\/"/);
  });

  it('refuses urn:oid: values that are not OIDs', () => {
    expect(problems(obs({ identifier: [{ system: 'urn:oid:2.16.840.1.113883.2.4.6.3', value: '1' }] }))).toEqual([]);
    expect(problems(obs({ identifier: [{ system: 'urn:oid:0f8fad5b-d9cb-469f-a165-70867728950e', value: '1' }] }))[0]).toMatch(/^Observation\.identifier\[0\]\.system: "urn:oid:0f8fad5b.*" is not an OID/);
  });

  it('refuses empty objects inside contained', () => {
    expect(problems(obs({ contained: [{}] }))).toEqual(['Observation.contained[0]: Invalid empty non-primitive value']);
  });

  it('accepts base64Binary with whitespace between groups, as R4 allows', () => {
    expect(problems({ resourceType: 'Binary', contentType: 'text/plain', data: 'aGVs\nbG8g d29y\r\nbGQ=' })).toEqual([]);
    expect(problems({ resourceType: 'DocumentReference', status: 'current', content: [{ attachment: { contentType: 'text/plain', data: 'aGVs bG8=' } }] })).toEqual([]);
    expect(problems({ resourceType: 'Binary', contentType: 'text/plain', data: 'aGVs bG8g!' })).toEqual(['Binary.data: Invalid base64Binary format']);
  });
});

describe('assertValidResource: narrative', () => {
  it('refuses script and event attributes, naming the element', () => {
    const p = { resourceType: 'Patient', text: { status: 'generated', div: `<div ${NS}><p onclick="steal()">Jan</p><script>steal()</script></div>` } };
    expect(problems(p)).toEqual([
      'Patient.text.div: Narrative XHTML: event attribute onclick on <p> is not allowed',
      'Patient.text.div: Narrative XHTML: <script> is not allowed in narrative (only basic HTML formatting elements are)',
    ]);
  });

  it('checks the narrative of contained resources', () => {
    const p = { resourceType: 'Patient', contained: [{ resourceType: 'Practitioner', id: 'pr', text: { status: 'generated', div: '<div>no namespace</div>' } }] };
    expect(problems(p)).toEqual(['Patient.contained[0].text.div: Narrative XHTML: the root <div> must be in the XHTML namespace (xmlns="http://www.w3.org/1999/xhtml")']);
  });
});
