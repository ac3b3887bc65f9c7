import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import type { Bundle, Observation, Patient } from '@medplum/fhirtypes';
import { authFetch, clientCredentialsToken, fhirFetch, startTestServer, type TestServer } from './support/server.ts';
import { compileView } from '../fhir/view-definition.ts';
import { viewResultRows } from '../fhir/view-run.ts';
import { systemContext } from '../store/request-context.ts';

/**
 * ViewDefinition/$run over HTTP: inline and ready-made views, the four output formats (Parquet
 * read back with hyparquet), the patient and _limit parameters, paging through the repository,
 * the caller's scopes and the access audit.
 */

let server: TestServer;
const ids: { anna: string; ben: string } = { anna: '', ben: '' };

const LOINC = 'http://loinc.org';
const obs = (patient: string, code: string, value: number, unit: string, when: string): Observation => ({
  resourceType: 'Observation',
  status: 'final',
  category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
  code: { coding: [{ system: LOINC, code }] },
  subject: { reference: `Patient/${patient}` },
  effectiveDateTime: when,
  valueQuantity: { value, unit, system: 'http://unitsofmeasure.org', code: unit },
});

/** An inline view of the lab values: patient, code, value, unit, and the note as a text with a comma and quotes. */
const LAB_VIEW = {
  resourceType: 'ViewDefinition',
  name: 'my-labs',
  status: 'active',
  resource: 'Observation',
  select: [
    {
      column: [
        { name: 'patient_id', path: 'subject.getReferenceKey(Patient)', type: 'id' },
        { name: 'code', path: "code.coding.where(system = 'http://loinc.org').code", type: 'code' },
        { name: 'value', path: 'value.ofType(Quantity).value', type: 'decimal' },
        { name: 'unit', path: 'value.ofType(Quantity).code', type: 'code' },
        { name: 'note', path: 'note.text.first()', type: 'string' },
        { name: 'high', path: 'value.ofType(Quantity).value > 100', type: 'boolean' },
        { name: 'codes', path: 'code.coding.code', collection: true },
      ],
    },
  ],
};

const run = (body: unknown, query = ''): Promise<Response> =>
  authFetch(`${server.fhir}/ViewDefinition/$run${query}`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify(body) });
const params = (...parameter: object[]): object => ({ resourceType: 'Parameters', parameter });

beforeAll(async () => {
  server = await startTestServer();
  const patient = async (p: Patient): Promise<string> => (await fhirFetch(`${server.fhir}/Patient`, { method: 'POST', json: p })).body.id;
  ids.anna = await patient({ resourceType: 'Patient', gender: 'female', birthDate: '1962-05-01', name: [{ family: 'Visser' }] });
  ids.ben = await patient({ resourceType: 'Patient', gender: 'male', birthDate: '1955', name: [{ family: 'Smit' }] });
  for (const o of [
    { ...obs(ids.anna, '2857-1', 4.2, 'ng/mL', '2025-01-03T09:00:00+01:00'), note: [{ text: 'haemolysed, "repeat"' }] },
    obs(ids.anna, '718-7', 131, 'g/L', '2025-01-03T09:00:00+01:00'),
    obs(ids.ben, '718-7', 142, 'g/L', '2025-02-01T10:30:00+01:00'),
  ]) {
    expect((await fhirFetch(`${server.fhir}/Observation`, { method: 'POST', json: o })).status).toBe(201);
  }
  expect((await fhirFetch(`${server.fhir}/Condition`, { method: 'POST', json: {
    resourceType: 'Condition',
    subject: { reference: `Patient/${ids.anna}` },
    code: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/icd-o-3', code: '8500/3' }, { system: 'http://hl7.org/fhir/sid/icd-10', code: 'C50.4' }] },
    bodySite: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/icd-o-3', code: 'C50.4' }] }],
    onsetDateTime: '2024-12-20',
  } })).status).toBe(201);
});
afterAll(async () => {
  await server?.close();
});

/** RFC 4180 CSV into records (quoted fields with commas, doubled quotes and line breaks). */
function parseCsv(text: string): Record<string, string>[] {
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (quoted && ch === '"' && text[i + 1] === '"') {
      field += '"';
      i++;
    } else if (ch === '"') {
      quoted = !quoted;
    } else if (!quoted && ch === ',') {
      record.push(field);
      field = '';
    } else if (!quoted && ch === '\r' && text[i + 1] === '\n') {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
      i++;
    } else {
      field += ch;
    }
  }
  const [header = [], ...rows] = records;
  return rows.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i] ?? ''])));
}

describe('POST ViewDefinition/$run with an inline view', () => {
  it('answers CSV with a header row, quoting as RFC 4180 says', async () => {
    const res = await run(params({ name: 'viewResource', resource: LAB_VIEW }, { name: '_format', valueCode: 'csv' }));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(res.headers.get('content-disposition')).toContain('my-labs.csv');
    const text = await res.text();
    expect(text.split('\r\n')[0]).toBe('patient_id,code,value,unit,note,high,codes');
    const rows = parseCsv(text);
    expect(rows).toHaveLength(3);
    const psa = rows.find((r) => r.code === '2857-1');
    expect(psa).toEqual({ patient_id: ids.anna, code: '2857-1', value: '4.2', unit: 'ng/mL', note: 'haemolysed, "repeat"', high: 'false', codes: '["2857-1"]' });
    expect(rows.filter((r) => r.high === 'true').map((r) => r.value).sort()).toEqual(['131', '142']);
  });

  it('answers NDJSON and JSON rows with typed values and collections as arrays', async () => {
    const nd = await run(params({ name: 'viewResource', resource: LAB_VIEW }), '?_format=ndjson');
    expect(nd.headers.get('content-type')).toBe('application/x-ndjson');
    const lines = (await nd.text()).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(3);
    expect(Object.keys(lines[0])).toEqual(['patient_id', 'code', 'value', 'unit', 'note', 'high', 'codes']);
    expect(lines.find((l) => l.code === '2857-1')).toMatchObject({ value: 4.2, high: false, codes: ['2857-1'] });
    const json = await run(params({ name: 'viewResource', resource: LAB_VIEW }, { name: '_format', valueCode: 'json' }));
    const rows = (await json.json()) as Record<string, unknown>[];
    expect(rows.map((r) => r.value).sort()).toEqual([131, 142, 4.2]);
  });

  it('answers Parquet that a Parquet reader reads back to the same rows and types', async () => {
    const res = await run(params({ name: 'viewResource', resource: LAB_VIEW }, { name: '_format', valueCode: 'parquet' }));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/vnd.apache.parquet');
    const file = await res.arrayBuffer();
    const schema = parquetMetadata(file).schema;
    expect(schema.slice(1).map((s) => [s.name, s.type, s.converted_type ?? null])).toEqual([
      ['patient_id', 'BYTE_ARRAY', 'UTF8'],
      ['code', 'BYTE_ARRAY', 'UTF8'],
      ['value', 'DOUBLE', null],
      ['unit', 'BYTE_ARRAY', 'UTF8'],
      ['note', 'BYTE_ARRAY', 'UTF8'],
      ['high', 'BOOLEAN', null],
      ['codes', 'BYTE_ARRAY', 'JSON'],
    ]);
    const fromParquet = await parquetReadObjects({ file });
    const fromJson = (await (await run(params({ name: 'viewResource', resource: LAB_VIEW }), '?_format=json')).json()) as Record<string, unknown>[];
    const byValue = (a: Record<string, unknown>, b: Record<string, unknown>): number => Number(a.value) - Number(b.value);
    expect(fromParquet.sort(byValue)).toEqual(fromJson.sort(byValue));
  });

  it('narrows to one patient and stops after _limit rows', async () => {
    const annas = await run(params({ name: 'viewResource', resource: LAB_VIEW }, { name: 'patient', valueReference: { reference: `Patient/${ids.anna}` } }, { name: '_format', valueCode: 'ndjson' }));
    const rows = (await annas.text()).trim().split('\n').map((l) => JSON.parse(l));
    expect(rows.map((r) => r.patient_id)).toEqual([ids.anna, ids.anna]);
    const limited = await run(params({ name: 'viewResource', resource: LAB_VIEW }, { name: '_limit', valueInteger: 1 }), '?_format=ndjson');
    expect((await limited.text()).trim().split('\n')).toHaveLength(1);
  });

  it('refuses a broken view, an unknown format, and a body that is not Parameters, as OperationOutcomes', async () => {
    const broken = await run(params({ name: 'viewResource', resource: { ...LAB_VIEW, select: [{ column: [{ name: 'x', path: 'value.where(' }] }] } }));
    expect(broken.status).toBe(400);
    expect(JSON.stringify(await broken.json())).toMatch(/Invalid FHIRPath/);
    const format = await run(params({ name: 'viewResource', resource: LAB_VIEW }, { name: '_format', valueCode: 'xlsx' }));
    expect(format.status).toBe(400);
    expect((await run(LAB_VIEW)).status).toBe(400);
    // A row error among the first rows comes before the status: a clean 400, not a cut-off 200.
    const multi = await run(params({ name: 'viewResource', resource: { resource: 'Patient', select: [{ column: [{ name: 'two', path: '(1 | 2)' }] }] } }), '?_format=csv');
    expect(multi.status).toBe(400);
    expect(JSON.stringify(await multi.json())).toMatch(/collection: true/);
  });
});

describe('ready-made views', () => {
  it('lists them and serves each as a ViewDefinition', async () => {
    const list = await fhirFetch(`${server.fhir}/ViewDefinition`);
    expect(list.status).toBe(200);
    const names = (list.body as Bundle).entry?.map((e) => e.resource?.id);
    expect(names).toEqual(expect.arrayContaining(['patients', 'conditions', 'pathology-diagnoses', 'pathology-biomarkers', 'lab-results', 'imaging-studies', 'documents']));
    const one = await fhirFetch(`${server.fhir}/ViewDefinition/lab-results`);
    expect(one.body).toMatchObject({ resourceType: 'ViewDefinition', id: 'lab-results', resource: 'Observation' });
    expect((await fhirFetch(`${server.fhir}/ViewDefinition/nope`)).status).toBe(404);
    expect((await fhirFetch(`${server.fhir}/ViewDefinition/nope/$run`)).status).toBe(404);
    expect((await fhirFetch(`${server.fhir}/ViewDefinition`, { method: 'POST', json: LAB_VIEW })).status).toBe(400);
  });

  it('GET ViewDefinition/{name}/$run and viewReference run them', async () => {
    const res = await authFetch(`${server.fhir}/ViewDefinition/patients/$run?_format=csv`);
    expect(res.status).toBe(200);
    const patients = parseCsv(await res.text());
    expect(patients.find((p) => p.patient_id === ids.ben)).toMatchObject({ gender: 'male', birth_date: '1955' });
    const conditions = await run(params({ name: 'viewReference', valueReference: { reference: 'ViewDefinition/conditions' } }, { name: '_format', valueCode: 'json' }));
    expect(await conditions.json()).toEqual([expect.objectContaining({ patient_id: ids.anna, morphology_code: '8500/3', topography_code: 'C50.4', icd10_code: 'C50.4', onset: '2024-12-20' })]);
    const labs = await authFetch(`${server.fhir}/ViewDefinition/lab-results/$run?_format=ndjson&patient=Patient/${ids.ben}`);
    expect((await labs.text()).trim().split('\n').map((l) => JSON.parse(l))).toEqual([expect.objectContaining({ patient_id: ids.ben, loinc_code: '718-7', value: 142, unit: 'g/L', effective: '2025-02-01T10:30:00+01:00' })]);
  });
});

describe('access', () => {
  it("runs with the caller's scopes: a type the token may not search is refused before any row is sent", async () => {
    const token = await clientCredentialsToken(server.url, undefined, 'system/Observation.rs');
    const headers = { authorization: `Bearer ${token}` };
    const refused = await authFetch(`${server.fhir}/ViewDefinition/patients/$run?_format=csv`, { headers });
    expect(refused.status).toBe(403);
    const allowed = await authFetch(`${server.fhir}/ViewDefinition/lab-results/$run?_format=ndjson`, { headers });
    expect(allowed.status).toBe(200);
    expect((await allowed.text()).trim().split('\n')).toHaveLength(3);
    expect((await fetch(`${server.fhir}/ViewDefinition/patients/$run`)).status).toBe(401);
  });

  it('leaves an access record naming the patients whose data the run returned', async () => {
    const res = await authFetch(`${server.fhir}/ViewDefinition/lab-results/$run?_format=csv&patient=${ids.ben}`);
    expect(res.status).toBe(200);
    await res.text();
    await server.services.audit.flush();
    const events = await fhirFetch(`${server.fhir}/AuditEvent?patient=Patient/${ids.ben}&_count=100`);
    const runs = ((events.body as Bundle).entry ?? []).filter((e) => JSON.stringify(e.resource).includes('lab-results/$run'));
    expect(runs.length).toBeGreaterThan(0);
  });

  it('reads the repository page by page and yields every row once', async () => {
    const view = compileView({ resource: 'Observation', select: [{ column: [{ name: 'id', path: 'getResourceKey()' }] }] });
    const rows: string[] = [];
    for await (const row of viewResultRows(server.services.repo, systemContext('test'), { view }, { pageSize: 1 })) rows.push(row.id as string);
    expect(rows).toHaveLength(3);
    expect(new Set(rows).size).toBe(3);
  });
});

describe('an error after the first rows', () => {
  it('cuts the answer off (no final chunk), and the access is still recorded', async () => {
    // 40 names cross-joined with themselves: 1,600 rows, more than are computed before the status; then a patient whose column has two values.
    const names = Array.from({ length: 40 }, (_, i) => ({ family: `F${i}` }));
    expect((await fhirFetch(`${server.fhir}/Patient/A-many-names`, { method: 'PUT', json: { resourceType: 'Patient', id: 'A-many-names', name: names } })).status).toBe(201);
    expect((await fhirFetch(`${server.fhir}/Patient/z-two-phones`, { method: 'PUT', json: { resourceType: 'Patient', id: 'z-two-phones', telecom: [{ system: 'phone', value: '1' }, { system: 'phone', value: '2' }] } })).status).toBe(201);
    const view = {
      resource: 'Patient',
      select: [
        { column: [{ name: 'id', path: 'getResourceKey()' }, { name: 'phone', path: 'telecom.value' }] },
        { forEach: 'name', column: [{ name: 'a', path: 'family' }] },
        { forEach: 'name', column: [{ name: 'b', path: 'family' }] },
      ],
    };
    // Over a Group, whose members are read in their order: without one the order would be the
    // store's (on the embedded store, where PostgreSQL put the rows, which need not follow the writes).
    const group = { resourceType: 'Group', id: 'many-names-then-two-phones', type: 'person', actual: true, member: [{ entity: { reference: 'Patient/A-many-names' } }, { entity: { reference: 'Patient/z-two-phones' } }] };
    expect((await fhirFetch(`${server.fhir}/Group/${group.id}`, { method: 'PUT', json: group })).status).toBe(201);
    const res = await run(params({ name: 'viewResource', resource: view }), `?_format=ndjson&group=Group/${group.id}`);
    expect(res.status).toBe(200);
    await expect(res.text()).rejects.toThrow();
    await server.services.audit.flush();
    const events = await fhirFetch(`${server.fhir}/AuditEvent?patient=Patient/A-many-names&_count=100`);
    expect(((events.body as Bundle).entry ?? []).some((e) => JSON.stringify(e.resource).includes('ViewDefinition/$run'))).toBe(true);
  });
});
