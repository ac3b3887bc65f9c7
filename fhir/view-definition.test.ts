import { describe, expect, it } from 'vitest';
import type { Resource } from '@medplum/fhirtypes';
import { OperationOutcomeError } from '@medplum/core';
import { compileView, runView, type Row } from './view-definition.ts';

/** The ViewDefinition runner, feature by feature, on a small cancer record written for these tests. */

const RECORD: Resource[] = [
  {
    resourceType: 'Patient',
    id: 'p1',
    gender: 'female',
    birthDate: '1961-04',
    active: true,
    name: [
      { use: 'official', family: 'de Vries', given: ['Anna', 'Maria'] },
      { use: 'maiden', family: 'Bakker' },
    ],
    telecom: [{ system: 'phone', value: '+31 20 555 0101' }],
  },
  { resourceType: 'Patient', id: 'p2', gender: 'male', birthDate: '1948-11-02', name: [{ family: 'Jansen' }] },
  {
    resourceType: 'Condition',
    id: 'c1',
    subject: { reference: 'Patient/p1' },
    code: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/icd-o-3', code: 'C50.4' }] },
    onsetDateTime: '2024-02-12',
  },
  {
    resourceType: 'Observation',
    id: 'o1',
    status: 'final',
    subject: { reference: 'Patient/p1' },
    code: { coding: [{ system: 'http://loinc.org', code: '2857-1', display: 'PSA' }] },
    effectiveDateTime: '2024-03-01T08:15:00+01:00',
    valueQuantity: { value: 4.2, unit: 'ng/mL' },
    hasMember: [{ reference: 'Observation/o2' }, { reference: 'https://idr.example/fhir/Observation/o3/_history/2' }],
  },
  { resourceType: 'Observation', id: 'o2', status: 'final', subject: { reference: 'Patient/p2' }, code: { text: 'ER status' }, valueString: 'positive' },
];

const run = (view: unknown, resources: Resource[] = RECORD): Row[] => [...runView(compileView(view), resources)];
const errorOf = (view: unknown): string => {
  try {
    run(view);
  } catch (err) {
    expect(err).toBeInstanceOf(OperationOutcomeError);
    return (err as OperationOutcomeError).message;
  }
  throw new Error('expected the view to be refused');
};

describe('compileView + runView', () => {
  it('columns: one row per resource of the view type, null for what is absent, output columns in order', () => {
    const view = compileView({
      resource: 'Patient',
      select: [{ column: [{ name: 'id', path: 'id' }, { name: 'gender', path: 'gender', type: 'code' }, { name: 'active', path: 'active', type: 'boolean' }] }],
    });
    expect([...runView(view, RECORD)]).toEqual([
      { id: 'p1', gender: 'female', active: true },
      { id: 'p2', gender: 'male', active: null },
    ]);
    expect(view.columns).toEqual([{ name: 'id', collection: false }, { name: 'gender', type: 'code', collection: false }, { name: 'active', type: 'boolean', collection: false }]);
  });

  it('forEach: one row per node, joined with the columns of the enclosing select; no node, no row', () => {
    const rows = run({ resource: 'Patient', select: [{ column: [{ name: 'id', path: 'id' }] }, { forEach: 'name', column: [{ name: 'family', path: 'family' }, { name: 'i', path: '%rowIndex' }] }] });
    expect(rows).toEqual([
      { id: 'p1', family: 'de Vries', i: 0 },
      { id: 'p1', family: 'Bakker', i: 1 },
      { id: 'p2', family: 'Jansen', i: 0 },
    ]);
    expect(run({ resource: 'Patient', select: [{ column: [{ name: 'id', path: 'id' }] }, { forEach: 'telecom', column: [{ name: 'phone', path: 'value' }] }] })).toEqual([{ id: 'p1', phone: '+31 20 555 0101' }]);
  });

  it('forEachOrNull keeps the resource with nulls when there is no node', () => {
    const rows = run({ resource: 'Patient', select: [{ column: [{ name: 'id', path: 'id' }] }, { forEachOrNull: 'telecom', column: [{ name: 'phone', path: 'value' }] }] });
    expect(rows).toEqual([
      { id: 'p1', phone: '+31 20 555 0101' },
      { id: 'p2', phone: null },
    ]);
  });

  it('unionAll concatenates the rows of its branches; nested selects cross-join', () => {
    const rows = run({
      resource: 'Patient',
      select: [
        {
          column: [{ name: 'id', path: 'id' }],
          unionAll: [
            { forEach: 'name', column: [{ name: 'kind', path: "'name'" }, { name: 'text', path: 'family' }] },
            { forEach: 'telecom', column: [{ name: 'kind', path: "'telecom'" }, { name: 'text', path: 'value' }] },
          ],
        },
      ],
    });
    expect(rows).toEqual([
      { id: 'p1', kind: 'name', text: 'de Vries' },
      { id: 'p1', kind: 'name', text: 'Bakker' },
      { id: 'p1', kind: 'telecom', text: '+31 20 555 0101' },
      { id: 'p2', kind: 'name', text: 'Jansen' },
    ]);
  });

  it('repeat follows the paths down the tree, depth first', () => {
    const qr: Resource = {
      resourceType: 'QuestionnaireResponse',
      id: 'q1',
      status: 'completed',
      item: [{ linkId: 'a', item: [{ linkId: 'a.1', item: [{ linkId: 'a.1.x' }] }] }, { linkId: 'b' }],
    };
    expect(run({ resource: 'QuestionnaireResponse', select: [{ repeat: ['item'], column: [{ name: 'link', path: 'linkId' }] }] }, [qr]).map((r) => r.link)).toEqual(['a', 'a.1', 'a.1.x', 'b']);
  });

  it('where keeps the resources whose paths are all true; empty counts as false; a non-boolean is refused', () => {
    expect(run({ resource: 'Patient', where: [{ path: "name.where(use = 'official').exists()" }, { path: 'active' }], select: [{ column: [{ name: 'id', path: 'id' }] }] })).toEqual([{ id: 'p1' }]);
    expect(() => run({ resource: 'Patient', where: [{ path: 'gender' }], select: [{ column: [{ name: 'id', path: 'id' }] }] })).toThrow(/boolean/);
  });

  it('constants are %name in any path, with the type of their value[x]', () => {
    const rows = run({
      resource: 'Observation',
      constant: [{ name: 'loinc', valueUri: 'http://loinc.org' }, { name: 'limit', valueDecimal: 4 }],
      where: [{ path: 'code.coding.where(system = %loinc).exists()' }],
      select: [{ column: [{ name: 'id', path: 'id' }, { name: 'high', path: 'value.ofType(Quantity).value > %limit' }] }],
    });
    expect(rows).toEqual([{ id: 'o1', high: true }]);
  });

  it('getResourceKey and getReferenceKey(type) give keys that join', () => {
    const patients = run({ resource: 'Patient', select: [{ column: [{ name: 'key', path: 'getResourceKey()' }] }] });
    const obs = run({ resource: 'Observation', select: [{ column: [{ name: 'patient', path: 'subject.getReferenceKey(Patient)' }, { name: 'members', path: 'hasMember.getReferenceKey(Observation)', collection: true }, { name: 'wrong', path: 'subject.getReferenceKey(Group)' }] }] });
    expect(patients.map((p) => p.key)).toEqual(['p1', 'p2']);
    expect(obs).toEqual([
      { patient: 'p1', members: ['o2', 'o3'], wrong: null },
      { patient: 'p2', members: [], wrong: null },
    ]);
  });

  it('collection columns hold arrays; a second value in a plain column is refused', () => {
    expect(run({ resource: 'Patient', select: [{ forEach: 'name', column: [{ name: 'given', path: 'given', collection: true }] }] })).toEqual([{ given: ['Anna', 'Maria'] }, { given: [] }, { given: [] }]);
    expect(errorOf({ resource: 'Patient', select: [{ column: [{ name: 'given', path: 'name.given' }] }] })).toMatch(/collection: true/);
  });

  it('FHIRPath functions: ofType, first, join, exists, empty, extension, boundaries', () => {
    const rows = run({
      resource: 'Patient',
      select: [
        {
          column: [
            { name: 'first_family', path: 'name.family.first()' },
            { name: 'given', path: "name.given.join(' ')" },
            { name: 'has_phone', path: 'telecom.exists()' },
            { name: 'no_address', path: 'address.empty()' },
            { name: 'born_from', path: 'birthDate.lowBoundary()' },
            { name: 'born_until', path: 'birthDate.highBoundary()' },
            { name: 'ext', path: "extension('urn:x').value.ofType(string)" },
          ],
        },
      ],
    });
    expect(rows[0]).toEqual({ first_family: 'de Vries', given: 'Anna Maria', has_phone: true, no_address: true, born_from: '1961-04-01', born_until: '1961-04-30', ext: null });
    expect(rows[1]?.born_until).toBe('1948-11-02');
    const onset = run({ resource: 'Condition', select: [{ column: [{ name: 'from', path: 'onset.ofType(dateTime).lowBoundary()' }, { name: 'until', path: 'onset.ofType(dateTime).highBoundary()' }] }] });
    expect(onset).toEqual([{ from: '2024-02-12T00:00:00.000+14:00', until: '2024-02-12T23:59:59.999-12:00' }]);
  });

  it('refuses malformed views naming the element', () => {
    expect(errorOf({ select: [{ column: [{ name: 'id', path: 'id' }] }] })).toMatch(/resource/);
    expect(errorOf({ resource: 'Patient', select: [{ column: [{ name: 'id', path: 'id' }, { name: 'id', path: 'gender' }] }] })).toMatch(/more than once/);
    expect(errorOf({ resource: 'Patient', select: [{ column: [{ name: '1st', path: 'id' }] }] })).toMatch(/letter/);
    expect(errorOf({ resource: 'Patient', select: [{ forEach: 'name((' }] })).toMatch(/Invalid FHIRPath/);
    expect(errorOf({ resource: 'Patient', select: [{ column: [{ name: 'x', path: '%missing' }] }] })).toMatch(/undefined constant %missing/);
    expect(errorOf({ resource: 'Patient', constant: [{ name: 'c' }], select: [{ column: [{ name: 'x', path: 'id' }] }] })).toMatch(/value\[x\]/);
    expect(errorOf({ resource: 'Patient', select: [{ unionAll: [{ column: [{ name: 'a', path: 'id' }] }, { column: [{ name: 'b', path: 'id' }] }] }] })).toMatch(/same columns/);
  });
});
