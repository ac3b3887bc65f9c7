import { describe, expect, it } from 'vitest';
import type { Composition, Observation, Patient, Resource } from '@medplum/fhirtypes';
import { casePackBundle, versionedReference } from './case-pack.ts';
import { assertValidResource } from '../schema/validate.ts';

const patient: Patient = { resourceType: 'Patient', id: 'p1', meta: { versionId: '2' }, name: [{ given: ['Anna'], family: 'Jansen' }] };
const hb: Observation = {
  resourceType: 'Observation', id: 'hb', meta: { versionId: '3', lastUpdated: '2026-11-01T10:00:00Z' }, status: 'corrected',
  code: { text: 'Hb' }, subject: { reference: 'Patient/p1' }, valueQuantity: { value: 6.1, unit: 'mmol/L' },
};

function pack(snapshots: Map<string, Resource>) {
  return casePackBundle({
    patient, question: 'Surgery first & then <chemo>?', prepared: new Date('2026-11-20T09:00:00Z'), snapshots,
    sections: [
      { title: 'Key labs', lines: [{ text: 'Hb: 6.1 mmol/L (L) < 7.5', refs: ['Observation/hb'] }] },
      { title: 'Latest imaging', lines: [{ text: 'MG', refs: ['ImagingStudy/hidden'] }] },
    ],
    fullUrl: (k) => `https://idr.example/fhir/${k}`,
  });
}

describe('case pack', () => {
  it('references the exact versions it holds, with escaped XHTML narrative', () => {
    const bundle = pack(new Map<string, Resource>([['Patient/p1', patient], ['Observation/hb', hb]]));
    assertValidResource(bundle);
    const composition = bundle.entry?.[0]?.resource as Composition;
    expect(composition.section?.map((s) => s.title)).toEqual(['Question for the board', 'Key labs']);
    expect(composition.section?.[0]?.text?.div).toBe('<div xmlns="http://www.w3.org/1999/xhtml"><p>Surgery first &amp; then &lt;chemo&gt;?</p></div>');
    expect(composition.section?.[1]?.entry).toEqual([{ reference: 'Observation/hb/_history/3' }]);
    expect(bundle.entry?.map((e) => e.fullUrl)).toEqual([`urn:uuid:${composition.id}`, 'https://idr.example/fhir/Patient/p1', 'https://idr.example/fhir/Observation/hb']);
    expect(bundle.entry?.[2]?.resource).toBe(hb);
  });

  it('leaves out a line whose resources the caller could not read', () => {
    const bundle = pack(new Map<string, Resource>([['Patient/p1', patient]]));
    const composition = bundle.entry?.[0]?.resource as Composition;
    expect(composition.section?.map((s) => s.title)).toEqual(['Question for the board']);
    expect(bundle.entry).toHaveLength(2);
    expect(versionedReference(hb)).toBe('Observation/hb/_history/3');
  });
});
