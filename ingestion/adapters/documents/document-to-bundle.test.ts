import { patientScope } from '../hl7v2/patient-scope.ts';
import { createHash } from 'node:crypto';
import type { DocumentReference, Patient } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { resolve, resources, testContext } from '../hl7v2/testing.ts';
import { documentToBundle } from './document-to-bundle.ts';
import { decode, fixtureBytes, refusal } from './testing/helpers.ts';

const BSN = 'http://fhir.nl/fhir/NamingSystem/bsn';
const patientIdentifier = { system: BSN, value: '999911120' };
const pdf = fixtureBytes('referral-letter.pdf');

describe('documentToBundle', () => {
  it('maps a PDF referral letter to a Patient and one DocumentReference', async () => {
    const out = await documentToBundle({ bytes: pdf, contentType: 'application/pdf', filename: 'verwijsbrief.pdf', metadata: { patientIdentifier, type: 'referral', date: '2024-03-04', custodian: 'Noordwest Ziekenhuisgroep' } }, testContext());
    expect(out.kind).toBe('PDF document');
    expect(out.text).toContain('neoadjuvant systemic therapy');
    const [doc] = resources<DocumentReference>(out.bundle, 'DocumentReference');
    const sha256 = createHash('sha256').update(pdf).digest('hex');
    const key = `${patientScope(patientIdentifier)}/sha256/${sha256}`;
    expect(doc?.identifier?.slice(0, 2)).toEqual([{ system: 'urn:idr:document:key', value: key }, { system: 'urn:idr:document:sha256', value: sha256 }]);
    expect(doc).toMatchObject({
      status: 'current', docStatus: 'final', date: '2024-03-04T00:00:00+01:00',
      type: { coding: [{ system: 'http://loinc.org', code: '57133-1', display: 'Referral note' }] },
      category: [{ coding: [{ system: 'http://loinc.org', code: '57133-1', display: 'Referral note' }] }],
      author: [{ display: 'Dr. P. de Vries' }], custodian: { display: 'Noordwest Ziekenhuisgroep' }, description: 'verwijsbrief.pdf',
    });
    const original = doc?.content[0]?.attachment;
    expect(original).toEqual({ contentType: 'application/pdf', size: pdf.length, hash: createHash('sha1').update(pdf).digest('base64'), title: 'verwijsbrief.pdf', creation: '2024-03-04' });
    expect(original?.data).toBeUndefined();
    const text = doc?.content[1]?.attachment;
    expect(text?.contentType).toBe('text/plain; charset=utf-8');
    expect(decode(text?.data)).toBe(out.text);
    expect(resolve<Patient>(out.bundle, doc?.subject?.reference).identifier).toEqual([patientIdentifier]);
    const urls = (out.bundle.entry ?? []).map((e) => e.request?.url);
    expect(urls).toEqual([`Patient?identifier=${BSN}|999911120`, `DocumentReference?identifier=urn:idr:document:key|${key}`]);
    expect((out.bundle.entry ?? []).every((e) => e.request?.method === 'PUT' && e.fullUrl?.startsWith('urn:uuid:') && !e.resource?.id)).toBe(true);
  });

  it('gives identical content the same identity (one document when ingested twice)', async () => {
    const a = await documentToBundle({ bytes: pdf, contentType: 'application/pdf', metadata: { patientIdentifier } }, testContext());
    const b = await documentToBundle({ bytes: new Uint8Array(pdf), contentType: 'application/pdf', filename: 'copy.pdf', metadata: { patientIdentifier, type: 'consult' } }, testContext());
    const url = (o: typeof a): string | undefined => o.bundle.entry?.find((e) => e.resource?.resourceType === 'DocumentReference')?.request?.url;
    expect(url(a)).toBe(url(b));
  });

  it('uses the PDF title, author and creation date when metadata has none, and warns about a missing type', async () => {
    const out = await documentToBundle({ bytes: pdf, contentType: 'application/pdf', metadata: { patientIdentifier } }, testContext());
    const doc = resources<DocumentReference>(out.bundle, 'DocumentReference')[0];
    expect(doc).toMatchObject({ description: 'Referral letter - A.M. Jansen', date: '2024-03-04T10:15:00Z', author: [{ display: 'Dr. P. de Vries' }] });
    expect(doc?.type).toBeUndefined();
    expect(out.warnings).toContain('metadata.type not given: the document has no type');
  });

  it('maps a plain-text MDT letter with the tumour board LOINC type', async () => {
    const bytes = fixtureBytes('mdt-letter.txt');
    const out = await documentToBundle({ bytes, contentType: 'text/plain; charset=utf-8', metadata: { patientIdentifier, type: 'mdt', date: '2024-03-12T16:30:00+01:00', author: 'Dr. E. Bakker' } }, testContext());
    expect(out.kind).toBe('text document');
    expect(out.text).toContain('neoadjuvant chemotherapy');
    const doc = resources<DocumentReference>(out.bundle, 'DocumentReference')[0];
    expect(doc?.type?.coding?.[0]).toEqual({ system: 'http://loinc.org', code: '85232-7', display: 'Tumor board Consult note' });
    expect(doc?.date).toBe('2024-03-12T16:30:00+01:00');
    expect(doc?.content[0]?.attachment.contentType).toBe('text/plain; charset=utf-8');
  });

  it.each([
    ['discharge', '18842-5'], ['consult', '11488-4'], ['pathology', '11526-1'], ['radiology', '18748-4'], ['progress', '11506-3'], ['34117-2', '34117-2'],
  ])('maps type %s to LOINC %s', async (type, code) => {
    const out = await documentToBundle({ bytes: fixtureBytes('mdt-letter.txt'), contentType: 'text/plain', metadata: { patientIdentifier, type } }, testContext());
    expect(resources<DocumentReference>(out.bundle, 'DocumentReference')[0]?.type?.coding?.[0]?.code).toBe(code);
  });

  it('keeps an image-only PDF with a warning and no text attachment', async () => {
    const out = await documentToBundle({ bytes: fixtureBytes('image-only.pdf'), contentType: 'application/pdf', metadata: { patientIdentifier, type: 'referral' } }, testContext());
    expect(out.warnings).toContain('no extractable text (image-only PDF?)');
    expect(out.text).toBe('');
    expect(resources<DocumentReference>(out.bundle, 'DocumentReference')[0]?.content).toHaveLength(1);
  });

  it.each([
    ['missing patient identifier', {}, 'metadata.patientIdentifier'],
    ['patient identifier without value', { patientIdentifier: { system: BSN, value: '' } }, 'metadata.patientIdentifier'],
    ['an impossible date', { patientIdentifier, date: '2024-02-30' }, 'metadata.date'],
    ['a date that is not a date', { patientIdentifier, date: 'yesterday' }, 'metadata.date'],
    ['a dateTime without offset', { patientIdentifier, date: '2024-03-04T10:00:00' }, 'metadata.date'],
    ['an unknown type', { patientIdentifier, type: 'letter' }, 'metadata.type'],
  ])('refuses metadata with %s', async (_what, metadata, location) => {
    const err = await refusal(() => documentToBundle({ bytes: pdf, contentType: 'application/pdf', metadata }, testContext()));
    expect(err.location).toBe(location);
  });

  it('refuses an empty file', async () => {
    const err = await refusal(() => documentToBundle({ bytes: fixtureBytes('empty.txt'), contentType: 'text/plain', metadata: { patientIdentifier } }, testContext()));
    expect(err.location).toBe('file');
    expect(err.message).toBe('file: empty file');
  });

  it('refuses a content type that contradicts the bytes', async () => {
    const notPdf = await refusal(() => documentToBundle({ bytes: fixtureBytes('mdt-letter.txt'), contentType: 'application/pdf', metadata: { patientIdentifier } }, testContext()));
    expect(notPdf.location).toBe('contentType');
    expect(notPdf.message).toMatch(/%PDF-/);
    const binary = await refusal(() => documentToBundle({ bytes: fixtureBytes('pdf-named-text.txt').map((b, i) => (i === 40 ? 0 : b)), contentType: 'text/plain', metadata: { patientIdentifier } }, testContext()));
    expect(binary.location).toBe('contentType');
    expect(binary.message).toMatch(/NUL bytes/);
    const pdfAsText = await refusal(() => documentToBundle({ bytes: new TextEncoder().encode('%PDF-1.7\nnot really'), contentType: 'text/plain', metadata: { patientIdentifier } }, testContext()));
    expect(pdfAsText.message).toMatch(/is a PDF/);
    const unsupported = await refusal(() => documentToBundle({ bytes: pdf, contentType: 'image/png', metadata: { patientIdentifier } }, testContext()));
    expect(unsupported.location).toBe('contentType');
  });

  it('refuses corrupt and encrypted PDFs', async () => {
    for (const name of ['corrupt.pdf', 'encrypted.pdf']) {
      const err = await refusal(() => documentToBundle({ bytes: fixtureBytes(name), contentType: 'application/pdf', metadata: { patientIdentifier } }, testContext()));
      expect(err.location).toBe('pdf');
    }
  });

  it('refuses XML that is not C-CDA', async () => {
    const err = await refusal(() => documentToBundle({ bytes: fixtureBytes('not-ccda.xml'), contentType: 'application/xml', metadata: { patientIdentifier } }, testContext()));
    expect(err.location).toBe('xml');
    expect(err.message).toMatch(/root element is <order>/);
  });
});
