import type { Bundle, DocumentReference, Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { resources, testContext } from '../hl7v2/testing.ts';
import { ccdaToBundle } from './ccda-to-bundle.ts';
import { documentToBundle } from './document-to-bundle.ts';
import { mdmToBundle } from './mdm-to-bundle.ts';
import { ccdaXml, SHARED_IDS } from './testing/ccda-fixture.ts';
import { fixtureBytes } from './testing/helpers.ts';

/** Two patients whose inputs share every source id: no derived identity may be shared. */

const BSN_OID = '2.16.840.1.113883.2.4.6.3';
const urls = (b: Bundle): string[] => (b.entry ?? []).map((e) => e.request?.url ?? '');
const nonPatient = (b: Bundle): string[] => (b.entry ?? []).filter((e) => e.resource?.resourceType !== 'Patient').map((e) => e.request?.url ?? '');
const ccda = (bsn: string, family: string, allergen: { code: string; name: string }): string =>
  ccdaXml({ patient: { root: BSN_OID, extension: bsn, family, given: 'A' }, documentId: 'DOC-1', ids: SHARED_IDS, allergen, hemoglobin: '13.2' });

describe('derived identities are scoped by the patient', () => {
  it('C-CDA: two patients\' documents with the same document and entry ids share no conditional URL', () => {
    const a = ccdaToBundle(ccda('999911120', 'Jansen', { code: '70618', name: 'Penicillin' }), testContext()).bundle;
    const b = ccdaToBundle(ccda('999922224', 'Bakker', { code: '2670', name: 'Codeine' }), testContext()).bundle;
    expect(resources(a, 'AllergyIntolerance')).toHaveLength(1);
    expect(resources(a, 'Observation').length).toBeGreaterThan(0);
    const shared = nonPatient(a).filter((u) => nonPatient(b).includes(u));
    expect(shared).toEqual([]);
    // the entry's own ids stay on the resource, after the scoped key
    const allergy = resources<Resource & { identifier?: { system?: string; value?: string }[] }>(a, 'AllergyIntolerance')[0];
    expect(allergy?.identifier?.[0]?.system).toBe('urn:idr:ccda:entry');
    expect(allergy?.identifier?.[0]?.value).toMatch(new RegExp(`^p-[0-9a-f]{16}/AllergyIntolerance/${SHARED_IDS.concern}$`));
  });

  it('C-CDA: the same patient\'s next document with the same entry ids updates the same resources', () => {
    const a = ccdaToBundle(ccda('999911120', 'Jansen', { code: '70618', name: 'Penicillin' }), testContext()).bundle;
    const again = ccdaToBundle(ccda('999911120', 'Jansen', { code: '70618', name: 'Penicillin G' }), testContext()).bundle;
    const entryUrls = (b: Bundle): string[] => urls(b).filter((u) => /^(AllergyIntolerance|Observation)\?/.test(u) && !/\/[0-9a-f]{16}\//.test(u));
    expect(entryUrls(again)).toEqual(entryUrls(a));
    expect(entryUrls(a).length).toBeGreaterThan(1);
  });

  it('PDF upload: the same bytes filed for two patients are two documents', async () => {
    const pdf = fixtureBytes('referral-letter.pdf');
    const one = await documentToBundle({ bytes: pdf, contentType: 'application/pdf', metadata: { patientIdentifier: { system: 'http://fhir.nl/fhir/NamingSystem/bsn', value: '999911120' } } }, testContext());
    const two = await documentToBundle({ bytes: pdf, contentType: 'application/pdf', metadata: { patientIdentifier: { system: 'http://fhir.nl/fhir/NamingSystem/bsn', value: '999922224' } } }, testContext());
    expect(nonPatient(one.bundle)).toHaveLength(1);
    expect(nonPatient(one.bundle)[0]).not.toBe(nonPatient(two.bundle)[0]);
    const [doc] = resources<DocumentReference>(two.bundle, 'DocumentReference');
    expect(doc?.identifier).toContainEqual(expect.objectContaining({ system: 'urn:idr:document:sha256' }));
  });

  it('MDM: two patients\' messages with the same TXA-12 document number share no conditional URL', () => {
    const raw = new TextDecoder().decode(fixtureBytes('radiology-report-mdm.hl7'));
    const other = raw.replace(/999911120/g, '999922224');
    expect(other).not.toBe(raw);
    const a = mdmToBundle(raw, testContext()).bundle;
    const b = mdmToBundle(other, testContext()).bundle;
    expect(nonPatient(a).length).toBe(2);
    expect(nonPatient(a).filter((u) => nonPatient(b).includes(u))).toEqual([]);
  });

  it('C-CDA upload: the patient comes from recordTarget; metadata may name it, never contradict it', async () => {
    const bytes = new TextEncoder().encode(ccda('999911120', 'Jansen', { code: '70618', name: 'Penicillin' }));
    const own = await documentToBundle({ bytes, contentType: 'application/xml', metadata: {} }, testContext());
    expect(urls(own.bundle)[0]).toBe('Patient?identifier=http://fhir.nl/fhir/NamingSystem/bsn|999911120');
    const same = await documentToBundle({ bytes, contentType: 'application/xml', metadata: { patientIdentifier: { system: 'http://fhir.nl/fhir/NamingSystem/bsn', value: '999911120' } } }, testContext());
    expect(urls(same.bundle)).toEqual(urls(own.bundle));
    await expect(documentToBundle({ bytes, contentType: 'application/xml', metadata: { patientIdentifier: { system: 'http://fhir.nl/fhir/NamingSystem/bsn', value: '999922224' } } }, testContext()))
      .rejects.toThrow(/^metadata\.patientIdentifier: .*999922224 is not a patient id of this C-CDA document/);
  });

  it('PDF and text uploads still need the patient as metadata, since they do not name one', async () => {
    await expect(documentToBundle({ bytes: new TextEncoder().encode('A letter.'), contentType: 'text/plain', metadata: {} }, testContext()))
      .rejects.toThrow(/^metadata\.patientIdentifier: is required for a PDF or text document/);
  });
});
