import { describe, expect, it } from 'vitest';
import { testContext } from '../hl7v2/testing.ts';
import { ccdaToBundle, rootUri } from './ccda-to-bundle.ts';
import { refusal } from './testing/helpers.ts';

describe('ccdaToBundle', () => {
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
