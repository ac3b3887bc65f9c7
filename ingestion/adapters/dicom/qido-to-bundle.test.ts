import type { ImagingStudy, Patient } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { resolve, resources, testContext } from '../hl7v2/testing.ts';
import { AdapterError } from '../types.ts';
import { qidoStudiesToBundle } from './qido-to-bundle.ts';
import type { QidoSeries, QidoStudy } from './qido-json.ts';

const WADO = 'http://127.0.0.1:8042/dicom-web';
const STUDY = '1.2.826.0.1.3680043.10.1234.500';

function study(overrides: Record<string, unknown> = {}): QidoStudy {
  return {
    '0020000D': { vr: 'UI', Value: [STUDY] },
    '00080050': { vr: 'SH', Value: ['RAD24-000500'] },
    '00080020': { vr: 'DA', Value: ['20240701'] },
    '00080030': { vr: 'TM', Value: ['141500'] },
    '00080061': { vr: 'CS', Value: ['MR', 'SR'] },
    '00081030': { vr: 'LO', Value: ['MRI mammae'] },
    '00201206': { vr: 'IS', Value: [2] },
    '00201208': { vr: 'IS', Value: ['120'] },
    '00100020': { vr: 'LO', Value: ['999911120'] },
    '00100021': { vr: 'LO', Value: ['2.16.840.1.113883.2.4.6.3'] },
    '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Jansen^Anna' }] },
    '00080090': { vr: 'PN', Value: [{ Alphabetic: 'Bakker^Eva^^Dr.' }] },
    ...overrides,
  } as QidoStudy;
}

const series: QidoSeries[] = [
  { '0020000E': { vr: 'UI', Value: [`${STUDY}.2`] }, '00080060': { vr: 'CS', Value: ['MR'] }, '0008103E': { vr: 'LO', Value: ['T1 dyn'] }, '00180015': { vr: 'CS', Value: ['BREAST'] }, '00200060': { vr: 'CS', Value: ['R'] }, '00201209': { vr: 'IS', Value: [119] }, '00200011': { vr: 'IS', Value: [2] } },
  { '0020000E': { vr: 'UI', Value: [`${STUDY}.1`] }, '00080060': { vr: 'CS', Value: ['SR'] }, '00201209': { vr: 'IS', Value: [1] }, '00200011': { vr: 'IS', Value: [1] } },
];

function refusal(fn: () => unknown): AdapterError {
  try {
    fn();
  } catch (err) {
    if (err instanceof AdapterError) return err;
    throw err;
  }
  throw new Error('expected an AdapterError');
}

describe('qidoStudiesToBundle', () => {
  it('maps a QIDO-RS study and its series to the same ImagingStudy shape as Part 10', () => {
    const { bundle, kind, warnings } = qidoStudiesToBundle([study()], { [STUDY]: series }, testContext(), { wadoRsBase: WADO });
    expect(kind).toBe('DICOMweb QIDO-RS');
    expect(warnings).toEqual([]);
    const is = resources<ImagingStudy>(bundle, 'ImagingStudy')[0];
    expect(is).toMatchObject({
      identifier: [{ system: 'urn:dicom:uid', value: `urn:oid:${STUDY}` }, { system: 'urn:idr:accession', value: 'RAD24-000500' }],
      started: '2024-07-01T14:15:00+02:00', description: 'MRI mammae', numberOfSeries: 2, numberOfInstances: 120,
      modality: [{ code: 'MR' }, { code: 'SR' }], referrer: { display: 'Dr. Eva Bakker' },
    });
    expect(is?.series?.map((s) => s.number)).toEqual([1, 2]);
    expect(is?.series?.[1]).toMatchObject({ uid: `${STUDY}.2`, numberOfInstances: 119, description: 'T1 dyn', bodySite: { code: '76752008' }, laterality: { code: '24028007' } });
    expect(resolve<Patient>(bundle, is?.subject?.reference).identifier?.[0]).toEqual({ system: 'http://fhir.nl/fhir/NamingSystem/bsn', value: '999911120' });
    expect(resolve(bundle, is?.endpoint?.[0]?.reference)).toMatchObject({ resourceType: 'Endpoint', address: WADO });
  });

  it('keeps study-level counts when no series were fetched', () => {
    const { bundle } = qidoStudiesToBundle([study()], {}, testContext(), { wadoRsBase: WADO });
    const is = resources<ImagingStudy>(bundle, 'ImagingStudy')[0];
    expect(is?.series).toBeUndefined();
    expect(is).toMatchObject({ numberOfSeries: 2, numberOfInstances: 120 });
  });

  it('warns when the series count disagrees with NumberOfStudyRelatedSeries', () => {
    const { warnings } = qidoStudiesToBundle([study()], { [STUDY]: series.slice(0, 1) }, testContext(), { wadoRsBase: WADO });
    expect(warnings[0]).toMatch(/NumberOfStudyRelatedSeries is 2 but 1/);
  });

  it.each([
    ['missing StudyInstanceUID', { '0020000D': undefined }, 'studies[0] (0020,000D)'],
    ['a UID that is not a string', { '0020000D': { vr: 'UI', Value: [42] } }, 'studies[0] (0020,000D)'],
    ['missing PatientID', { '00100020': { vr: 'LO' } }, 'studies[0] (0010,0020)'],
    ['a wrong VR', { '00080050': { vr: 'LO', Value: ['X'] } }, 'studies[0] (0008,0050)'],
    ['a name that is not a PN object', { '00100010': { vr: 'PN', Value: ['Jansen^Anna'] } }, 'studies[0] (0010,0010)'],
    ['a non-integer count', { '00201208': { vr: 'IS', Value: ['many'] } }, 'studies[0] (0020,1208)'],
  ])('refuses %s naming the tag', (_what, override, location) => {
    const s = study(override);
    for (const [k, v] of Object.entries(s)) if (v === undefined) delete (s as Record<string, unknown>)[k];
    const err = refusal(() => qidoStudiesToBundle([s], {}, testContext(), { wadoRsBase: WADO }));
    expect(err.location).toBe(location);
    expect(err.message).toMatch(/malformed DICOM JSON/);
  });

  it('refuses a malformed series naming the study, the series and the tag', () => {
    const bad = [{ '0020000E': { vr: 'UI', Value: [`${STUDY}.3`] } }] as unknown as QidoSeries[];
    const err = refusal(() => qidoStudiesToBundle([study()], { [STUDY]: bad }, testContext(), { wadoRsBase: WADO }));
    expect(err.location).toBe(`series[${STUDY}][0] (0008,0060)`);
  });

  it('refuses input that is not an array, and a missing wadoRsBase', () => {
    expect(() => qidoStudiesToBundle({} as unknown as QidoStudy[], {}, testContext(), { wadoRsBase: WADO })).toThrow(/JSON array/);
    expect(() => qidoStudiesToBundle([study()], {}, testContext(), {} as { wadoRsBase: string })).toThrow(/wadoRsBase/);
  });
});
