import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { testContext } from '../hl7v2/testing.ts';
import { documentToBundle } from './document-to-bundle.ts';
import { refusal } from './testing/helpers.ts';
import { corpusDir } from '../../../test/support/corpus.ts';

/** documentToBundle on a C-CDA of the shared sample corpus (`make test-corpus`). */

const patientIdentifier = { system: 'http://fhir.nl/fhir/NamingSystem/bsn', value: '999911120' };

describe('documentToBundle on the corpus', () => {
  it('maps an uploaded C-CDA when the metadata patient is one of its recordTarget ids, and refuses a contradiction', async () => {
    const bytes = new Uint8Array(readFileSync(path.join(corpusDir('ccda'), 'Referral_Note.xml')));
    const ssn = { system: 'urn:idr:assigning-authority:2.16.840.1.113883.4.1', value: '444222222' };
    const out = await documentToBundle({ bytes, contentType: 'text/xml', metadata: { patientIdentifier: ssn } }, testContext());
    expect(out.kind).toMatch(/^C-CDA/);
    const err = await refusal(() => documentToBundle({ bytes, contentType: 'text/xml', metadata: { patientIdentifier } }, testContext()));
    expect(err.location).toBe('metadata.patientIdentifier');
    expect(err.message).toMatch(/recordTarget/);
  });
});
