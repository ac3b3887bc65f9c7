import type { Condition, DocumentReference, Patient } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { resolve, resources, testContext } from '../hl7v2/testing.ts';
import { ccdaToBundle, rootUri } from './ccda-to-bundle.ts';
import { decode, fixtureBytes, refusal } from './testing/helpers.ts';

/** A synthetic consult note of the project's own (the public C-CDA samples run in *.corpus.test.ts). */
const consult = new TextDecoder().decode(fixtureBytes('consult-note-ccda.xml'));

describe('ccdaToBundle', () => {
  it('maps the header of a consult note to Patient and DocumentReference, with the narrative as text', () => {
    const out = ccdaToBundle(consult, testContext());
    expect(out.kind).toBe('C-CDA Consult note');
    expect(out.warnings).toEqual([]);
    expect(resources<Patient>(out.bundle, 'Patient')).toEqual([
      { resourceType: 'Patient', identifier: [{ system: 'http://fhir.nl/fhir/NamingSystem/bsn', value: '999911120' }], name: [{ family: 'de Boer', given: ['Femke'] }], gender: 'female', birthDate: '1972-05-17' },
    ]);
    const doc = resources<DocumentReference>(out.bundle, 'DocumentReference')[0];
    expect(doc).toMatchObject({
      type: { coding: [{ system: 'http://loinc.org', code: '11488-4', display: 'Consult note' }] },
      date: '2025-03-18T14:30:00+01:00', author: [{ display: 'Dr. Pieter Bakker' }], custodian: { display: 'UMCX Oncologie' }, description: 'Consult oncologie',
    });
    expect(doc?.identifier).toContainEqual({ system: 'urn:oid:2.16.528.1.1007.99.1', value: 'CONSULT-2025-0042' });
    expect(doc?.content[0]?.attachment).toMatchObject({ contentType: 'application/xml', size: Buffer.byteLength(consult) });
    expect(doc?.content[0]?.attachment.data).toBeUndefined();
    expect(decode(doc?.content[1]?.attachment.data)).toBe(out.text);
    for (const words of ['Reden van consult', 'palpabele afwijking in de linkermamma', 'Mammacarcinoom links', 'neoadjuvante chemotherapie']) expect(out.text).toContain(words);
  });

  it('keeps a problem entry as a conditional update of a Condition about our Patient, with the same identity when mapped again', () => {
    const { bundle } = ccdaToBundle(consult, testContext());
    const conditions = resources<Condition>(bundle, 'Condition');
    expect(conditions).toHaveLength(1);
    expect(conditions[0]?.code?.coding?.[0]).toMatchObject({ system: 'http://snomed.info/sct', code: '254837009' });
    expect(conditions[0]?.onsetDateTime).toMatch(/^2025-03-14/);
    expect(resolve<Patient>(bundle, conditions[0]?.subject?.reference).identifier?.[0]?.value).toBe('999911120');
    const urls = (bundle.entry ?? []).map((e) => e.request?.url);
    expect(urls.every((u) => /^\w+\?identifier=/.test(u ?? ''))).toBe(true);
    expect((ccdaToBundle(consult, testContext()).bundle.entry ?? []).map((e) => e.request?.url)).toEqual(urls);
  });

  it('refuses XML that is not C-CDA, and text that is not XML', async () => {
    const xml = await refusal(() => ccdaToBundle('<?xml version="1.0"?><order id="1"/>', testContext()));
    expect(xml.location).toBe('xml');
    expect(xml.message).toMatch(/not a C-CDA document: the root element is <order>/);
    expect((await refusal(() => ccdaToBundle('hello', testContext()))).message).toMatch(/not XML/);
  });

  it('writes a CDA id root as a URI the store accepts: OID, UUID, else as is', () => {
    expect(rootUri('2.16.840.1.113883.19.5')).toBe('urn:oid:2.16.840.1.113883.19.5');
    expect(rootUri('6F1BD58B-C58F-40B7-B314-CAF1294ED98B')).toBe('urn:uuid:6f1bd58b-c58f-40b7-b314-caf1294ed98b');
    expect(rootUri('https://example.org/docs')).toBe('https://example.org/docs');
  });

  it('refuses a C-CDA without a patient identifier', async () => {
    const err = await refusal(() => ccdaToBundle('<ClinicalDocument xmlns="urn:hl7-org:v3"><recordTarget><patientRole><id root="1.2.3"/></patientRole></recordTarget></ClinicalDocument>', testContext()));
    expect(err.location).toBe('recordTarget/patientRole/id');
  });
});
