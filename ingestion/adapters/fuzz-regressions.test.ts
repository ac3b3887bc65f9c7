import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AdapterError } from './types.ts';
import { readDicomHeader } from './dicom/index.ts';
import { ccdaToBundle, documentToBundle } from './documents/index.ts';
import { fixtureBytes, refusal } from './documents/testing/helpers.ts';
import { sampleInstance } from './dicom/testing/sample-instances.ts';
import { writeDicomPart10 } from './dicom/testing/write-dicom.ts';
import { hl7v2ToBundle } from './hl7v2/index.ts';
import { fixture, testContext } from './hl7v2/testing.ts';

/**
 * The smallest inputs behind what the mutation fuzzer (fuzz.test.ts) found, kept as regular tests.
 * Each would fail (or hang past the test timeout) if its fix were undone.
 */
describe('fuzzer findings', () => {
  it('HL7 v2: long runs of blanks inside the message are read in linear time (a trailing-blank regex was quadratic)', () => {
    // Found as a segment of 20 000 blanks repeated 90 times: the adapter ran for minutes.
    const blanks = `${' '.repeat(20_000)}x\r`.repeat(100);
    const out = hl7v2ToBundle(`${fixture('lab-escapes.hl7')}\r${blanks}`, testContext());
    expect(out.bundle.resourceType).toBe('Bundle');
    expect(out.warnings.filter((w) => w.startsWith('NTE[1]: unescaped line break'))).toHaveLength(100);
  });

  it('DICOM: a long text element made of blank runs is trimmed in linear time (the padding regex was quadratic)', () => {
    const value = `${' '.repeat(40_000)}x`.repeat(100);
    const bytes = writeDicomPart10(sampleInstance({ studyUid: '1.2.3.4', seriesUid: '1.2.3.4.1', sopUid: '1.2.3.4.1.1', modality: 'MG', extra: [{ tag: '00200062', vr: 'UT', value }] }));
    const header = readDicomHeader(bytes);
    expect(header.ImageLaterality?.length).toBe(value.length - 40_000);
    expect(header.ImageLaterality?.startsWith('x')).toBe(true);
  });

  it('DICOM: a NUL byte inside a value is refused naming the element (the store cannot keep NUL in text)', async () => {
    const bytes = writeDicomPart10(sampleInstance({ studyUid: '1.2.3.4', seriesUid: '1.2.3.4.1', sopUid: '1.2.3.4.1.1', modality: 'CT', patientId: '9999\u000011120' }));
    const err = await refusal(() => readDicomHeader(bytes));
    expect(err.location).toBe('(0010,0020)');
    expect(err.message).toBe('(0010,0020): holds a NUL byte at character 5 of the value, inside the text (a corrupt element?)');
  });

  it('C-CDA: a control character is refused naming line and column (XML 1.0 allows none but tab, LF and CR)', async () => {
    const xml = Buffer.from(fixtureBytes('consult-note-ccda.xml')).toString('utf8');
    const at = xml.indexOf('<title>');
    const line = xml.slice(0, at).split('\n').length;
    const column = at - xml.lastIndexOf('\n', at - 1);
    const err = await refusal(() => ccdaToBundle(`${xml.slice(0, at)}\u0000${xml.slice(at)}`, { now: () => new Date(0), newId: () => 'x', identifierSystem: (a) => `urn:oid:${a}` }));
    expect(err.location).toBe('xml');
    expect(err.message).toBe(`xml: not well-formed XML: the control character U+0000 at line ${line}, column ${column} is not allowed in XML 1.0`);
  });

  it('documents: metadata with a control character is refused naming the field', async () => {
    const ctx = { now: () => new Date(0), newId: () => 'x', identifierSystem: (a: string | undefined) => `urn:oid:${a}` };
    const input = { bytes: fixtureBytes('mdt-letter.txt'), contentType: 'text/plain', metadata: { patientIdentifier: { system: 'http://fhir.nl/fhir/NamingSystem/bsn', value: '999911120' }, title: 'MDT\ufffdletter' } };
    const err = await refusal(() => documentToBundle(input, ctx));
    expect(err).toBeInstanceOf(AdapterError);
    expect(err.location).toBe('metadata.title');
    expect(err.message).toBe('metadata.title: contains the control character U+FFFD at character 4; metadata must be plain text');
    const patient = await refusal(() => documentToBundle({ ...input, metadata: { patientIdentifier: { system: 'http://fhir.nl/fhir/NamingSystem/bsn', value: '9999\u0001' } } }, ctx));
    expect(patient.location).toBe('metadata.patientIdentifier.value');
  });

  it('DICOM: a data set cut inside an element says where reading stopped', async () => {
    const bytes = new Uint8Array(readFileSync(new URL('../../test/fixtures/dicom/ct-thorax-1.dcm', import.meta.url))).subarray(0, 400);
    const err = await refusal(() => readDicomHeader(bytes));
    expect(err.location).toBe('dataset');
    expect(err.message).toBe('dataset: not a readable DICOM data set: dicomParser:parseDicomDataSetExplicit: buffer overrun (the last readable element is (0008,0018), its value at byte 380)');
  });

  it('documents: a file sent as an HL7 v2 MDM message that is no HL7 v2 text is refused as such, not as an unknown type', async () => {
    const ctx = { now: () => new Date(0), newId: () => 'x', identifierSystem: (a: string | undefined) => `urn:oid:${a}` };
    const err = await refusal(() => documentToBundle({ bytes: fixtureBytes('referral-letter.pdf'), contentType: 'x-application/hl7-v2+er7', metadata: {} }, ctx));
    expect(err.message).toBe('contentType: says x-application/hl7-v2+er7 (an HL7 v2 MDM message) but the file does not start with an MSH segment (looks like: pdf)');
  });
});
