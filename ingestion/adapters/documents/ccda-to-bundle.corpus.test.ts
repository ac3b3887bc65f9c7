import { readdirSync, readFileSync } from 'node:fs';
import type { Bundle, Condition, DocumentReference, Patient, Reference } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { resources, testContext } from '../hl7v2/testing.ts';
import { ccdaToBundle } from './ccda-to-bundle.ts';
import { decode } from './testing/helpers.ts';
import { corpusDir } from '../../../test/support/corpus.ts';

/** ccdaToBundle on the C-CDA documents of the shared sample corpus (`make test-corpus`). */

const CORPUS = `${corpusDir('ccda')}/`;

function corpus(name?: string): string[] {
  const files = readdirSync(CORPUS).filter((f) => f.endsWith('.xml'));
  if (files.length === 0) throw new Error(`no .xml files in ${CORPUS}`);
  return name ? [readFileSync(CORPUS + name, 'utf8')] : files;
}

/** Every reference in a resource, found by walking it. */
function references(value: unknown, out: Reference[] = []): Reference[] {
  if (Array.isArray(value)) value.forEach((v) => references(v, out));
  else if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (typeof o.reference === 'string') out.push(o as Reference);
    Object.values(o).forEach((v) => references(v, out));
  }
  return out;
}

describe('ccdaToBundle on the corpus', () => {
  it.each(corpus())('maps corpus file %s, or keeps the document with a clear warning', (file) => {
    const out = ccdaToBundle(readFileSync(CORPUS + file, 'utf8'), testContext());
    const docs = resources<DocumentReference>(out.bundle, 'DocumentReference');
    expect(docs).toHaveLength(1);
    expect(out.text.length).toBeGreaterThan(100);
    expect(decode(docs[0]?.content[1]?.attachment.data)).toBe(out.text);
    const structured = (out.bundle.entry ?? []).length > 2;
    if (!structured) expect(out.warnings.join('\n')).toMatch(/structured entries not converted \(@medplum\/ccda: .+\); the document and its narrative text are kept/);
  });

  it('maps the header of the consult note to Patient and DocumentReference', () => {
    const [xml] = corpus('Consultation_Note.xml');
    const out = ccdaToBundle(xml as string, testContext());
    expect(out.kind).toBe('C-CDA Consult note');
    const patient = resources<Patient>(out.bundle, 'Patient')[0];
    expect(patient).toMatchObject({ identifier: [{ system: 'urn:idr:assigning-authority:2.16.840.1.113883.4.1', value: '444-22-2222' }], gender: 'female', birthDate: '1975-05-01', name: [{ family: 'Betterhalf', given: ['Eve'] }] });
    const doc = resources<DocumentReference>(out.bundle, 'DocumentReference')[0];
    expect(doc).toMatchObject({
      type: { coding: [{ system: 'http://loinc.org', code: '11488-4', display: 'Consult note' }] },
      date: '2013-08-01T05:00:00-08:00', author: [{ display: 'Patricia Patty Primary M.D.' }], custodian: { display: 'Good Health HIE' },
      description: 'Community Health Consult Note',
    });
    expect(doc?.identifier?.map((i) => i.system).slice(0, 2)).toEqual(['urn:idr:document:key', 'urn:idr:document:sha256']);
    expect(doc?.content[0]?.attachment).toMatchObject({ contentType: 'application/xml' });
    expect(doc?.content[0]?.attachment.data).toBeUndefined();
    expect(out.text).toContain('ALLERGIES AND ADVERSE REACTIONS');
  });

  it('keeps the converted clinical entries as conditional updates pointing at our Patient', () => {
    const [xml] = corpus('Consultation_Note.xml');
    const { bundle, warnings } = ccdaToBundle(xml as string, testContext());
    const conditions = resources<Condition>(bundle, 'Condition');
    expect(conditions.length).toBeGreaterThan(0);
    expect(resources(bundle, 'AllergyIntolerance').length).toBeGreaterThan(0);
    expect(resources(bundle, 'Practitioner')).toHaveLength(0);
    expect(warnings.join()).toMatch(/converted but not kept .*CarePlan/);
    const patientUrl = (bundle as Bundle).entry?.find((e) => e.resource?.resourceType === 'Patient')?.fullUrl;
    expect(conditions[0]?.subject?.reference).toBe(patientUrl);
    const fullUrls = new Set((bundle.entry ?? []).map((e) => e.fullUrl));
    for (const e of bundle.entry ?? []) {
      expect(e.resource?.id).toBeUndefined();
      expect(e.request?.url).toMatch(/^\w+\?identifier=/);
      for (const r of references(e.resource)) expect(r.reference?.startsWith('#') || fullUrls.has(r.reference)).toBe(true);
    }
  });

  it('gives converted entries the same identity when the same document is mapped again', () => {
    const [xml] = corpus('Referral_Note.xml');
    const urls = (): (string | undefined)[] => (ccdaToBundle(xml as string, testContext()).bundle.entry ?? []).map((e) => e.request?.url);
    expect(urls()).toEqual(urls());
  });
});
