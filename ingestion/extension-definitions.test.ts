import { describe, expect, it } from 'vitest';
import { assertValidResource } from '../schema/validate.ts';
import { IDR_EXTENSION_DEFINITIONS } from './extension-definitions.ts';
import { EXTENSIONS } from './adapters/hl7v2/constants.ts';
import { DICOM_EXTENSIONS } from './adapters/dicom/constants.ts';
import { AUDIT_EXTENSIONS } from '../store/audit-event.ts';

describe('IDR extension definitions', () => {
  it('define every extension URL IDR mints, each a valid StructureDefinition', () => {
    const own = [EXTENSIONS, DICOM_EXTENSIONS, AUDIT_EXTENSIONS].flatMap((set) => Object.values(set)).filter((url) => !url.startsWith('http://hl7.org/fhir/'));
    expect(IDR_EXTENSION_DEFINITIONS.map((d) => d.url).sort()).toEqual(own.sort());
    for (const d of IDR_EXTENSION_DEFINITIONS) expect(() => assertValidResource(d), d.id).not.toThrow();
  });
});
