import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { detectDocumentKind } from './detect.ts';
import { fixtureBytes } from './testing/helpers.ts';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('detectDocumentKind', () => {
  it('recognises each kind by its magic bytes', () => {
    expect(detectDocumentKind(fixtureBytes('referral-letter.pdf'))).toBe('pdf');
    expect(detectDocumentKind(fixtureBytes('mdt-letter.txt'))).toBe('text');
    expect(detectDocumentKind(fixtureBytes('radiology-report-mdm.hl7'))).toBe('hl7v2');
    expect(detectDocumentKind(new Uint8Array(readFileSync(new URL('../../../test/fixtures/dicom/ct-thorax-1.dcm', import.meta.url))))).toBe('dicom');
    expect(detectDocumentKind(enc('<?xml version="1.0"?>\n<!-- c -->\n<ClinicalDocument xmlns="urn:hl7-org:v3"/>'))).toBe('ccda');
    expect(detectDocumentKind(enc('\u000bMSH|^~\\&|A'))).toBe('hl7v2');
  });

  it('trusts the bytes over the declared type, and calls unknown binary and non-C-CDA XML unknown', () => {
    expect(detectDocumentKind(fixtureBytes('referral-letter.pdf'), 'text/plain', 'letter.txt')).toBe('pdf');
    expect(detectDocumentKind(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 0, 1]), 'application/pdf')).toBe('unknown');
    expect(detectDocumentKind(fixtureBytes('not-ccda.xml'))).toBe('unknown');
  });

  it('uses the name only to break a tie for text', () => {
    expect(detectDocumentKind(enc('FHS|^~\\&|batch'), undefined, 'feed.hl7')).toBe('hl7v2');
    expect(detectDocumentKind(enc('FHS|^~\\&|batch'))).toBe('text');
  });
});
