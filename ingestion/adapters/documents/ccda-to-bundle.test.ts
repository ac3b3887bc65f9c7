import { describe, expect, it } from 'vitest';
import { testContext } from '../hl7v2/testing.ts';
import { ccdaToBundle } from './ccda-to-bundle.ts';
import { refusal } from './testing/helpers.ts';

describe('ccdaToBundle', () => {
  it('refuses XML that is not C-CDA, and text that is not XML', async () => {
    const xml = await refusal(() => ccdaToBundle('<?xml version="1.0"?><order id="1"/>', testContext()));
    expect(xml.location).toBe('xml');
    expect(xml.message).toMatch(/not a C-CDA document: the root element is <order>/);
    expect((await refusal(() => ccdaToBundle('hello', testContext()))).message).toMatch(/not XML/);
  });

  it('refuses a C-CDA without a patient identifier', async () => {
    const err = await refusal(() => ccdaToBundle('<ClinicalDocument xmlns="urn:hl7-org:v3"><recordTarget><patientRole><id root="1.2.3"/></patientRole></recordTarget></ClinicalDocument>', testContext()));
    expect(err.location).toBe('recordTarget/patientRole/id');
  });
});
