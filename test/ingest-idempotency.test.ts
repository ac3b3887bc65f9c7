import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fhirFetch, startTestServer, type TestServer } from './support/server.ts';
import { countOf, ingestOk, patientIdByBsn, postHl7, searchOf } from './fixtures/ingest/clients.ts';
import { CEA, HB, labMessage, newBsn, uid, type LabResult } from './fixtures/ingest/messages.ts';

/** Duplicates write nothing; corrections version the same resources. */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

const historyTotal = async (path: string): Promise<number> => {
  const r = await fhirFetch(`${server.fhir}/${path}/_history`);
  expect(r.status).toBe(200);
  return r.body.total as number;
};
const ref = (outputs: string[], type: string): { id: string; vid: string } => {
  const [, id, , vid] = (outputs.find((o) => o.startsWith(`${type}/`)) as string).split('/');
  return { id: id as string, vid: vid as string };
};

describe('idempotent ingestion', () => {
  it('the same message twice: the second is a duplicate, nothing new is written, no new versions', async () => {
    const id = uid();
    const bsn = newBsn();
    const text = labMessage({ controlId: id, bsn, filler: `F-${id}` });
    const first = await ingestOk(server.url, text);
    const obs = ref(first.outputs, 'Observation');
    const totals = { obs: await historyTotal('Observation'), dr: await historyTotal('DiagnosticReport'), pat: await historyTotal('Patient'), prov: await countOf(server.fhir, 'Provenance') };

    const again = await postHl7(server.url, text);
    expect(again.status).toBe(200);
    const [dup] = again.body.results;
    expect(dup).toMatchObject({ status: 'duplicate', duplicateOf: first.inboxId });
    expect(dup.inboxId).not.toBe(first.inboxId);
    expect(dup.outputs).toEqual(first.outputs);
    expect(dup.outcome.issue[0].details.text).toMatch(/duplicate.*nothing new written/);

    expect(await historyTotal('Observation')).toBe(totals.obs);
    expect(await historyTotal('DiagnosticReport')).toBe(totals.dr);
    expect(await historyTotal('Patient')).toBe(totals.pat);
    expect(await countOf(server.fhir, 'Provenance')).toBe(totals.prov);
    expect(await historyTotal(`Observation/${obs.id}`)).toBe(1);
    const pid = await patientIdByBsn(server.fhir, bsn);
    expect(await countOf(server.fhir, `Observation?subject=Patient/${pid}`)).toBe(2);
  });

  it('the same results re-sent under a new control id create no new versions', async () => {
    const filler = `F-${uid()}`;
    const bsn = newBsn();
    const first = await ingestOk(server.url, labMessage({ controlId: uid(), bsn, filler }));
    const second = await ingestOk(server.url, labMessage({ controlId: uid(), bsn, filler }));
    expect(second.status).toBe('processed');
    for (const type of ['Patient', 'Observation', 'DiagnosticReport']) expect(ref(second.outputs, type)).toEqual(ref(first.outputs, type));
    expect(ref(second.outputs, 'Observation').vid).toBe('1');
    expect(await historyTotal(`DiagnosticReport/${ref(first.outputs, 'DiagnosticReport').id}`)).toBe(1);
  });
});

describe('corrections', () => {
  it('a corrected result (OBX-11 C, OBR-25 C, new value, new MSH-10) versions the same Observation and DiagnosticReport', async () => {
    const bsn = newBsn();
    const filler = `F-${uid()}`;
    const ca153: LabResult = { loinc: '6875-9', name: 'Cancer Ag 15-3 [Units/volume] in Serum or Plasma', value: '48', unit: 'kU/L', range: '<=30', flag: 'H' };
    const first = await ingestOk(server.url, labMessage({ controlId: uid(), bsn, filler, results: [CEA, ca153, HB] }));
    const pid = await patientIdByBsn(server.fhir, bsn);
    const before = await countOf(server.fhir, `Observation?subject=Patient/${pid}`);
    const [original] = await searchOf(server.fhir, `Observation?subject=Patient/${pid}&code=http://loinc.org|6875-9`);
    expect(original).toMatchObject({ status: 'final', valueQuantity: { value: 48 }, meta: { versionId: '1' } });

    const correction = labMessage({ controlId: uid(), bsn, filler, orderStatus: 'C', results: [CEA, { ...ca153, value: '38', status: 'C' }, HB] });
    const second = await ingestOk(server.url, correction);
    const report = ref(second.outputs, 'DiagnosticReport');
    expect(report.id).toBe(ref(first.outputs, 'DiagnosticReport').id);

    const corrected = await fhirFetch(`${server.fhir}/Observation/${original.id}`);
    expect(corrected.body).toMatchObject({ status: 'corrected', valueQuantity: { value: 38 }, meta: { versionId: '2' } });
    const v1 = await fhirFetch(`${server.fhir}/Observation/${original.id}/_history/1`);
    expect(v1.body).toMatchObject({ status: 'final', valueQuantity: { value: 48 } });
    const dr = await fhirFetch(`${server.fhir}/DiagnosticReport/${report.id}`);
    expect(['corrected', 'amended']).toContain(dr.body.status);
    expect(dr.body.meta.versionId).toBe('2');

    expect(await countOf(server.fhir, `Observation?subject=Patient/${pid}`)).toBe(before);
    expect(await countOf(server.fhir, `DiagnosticReport?subject=Patient/${pid}`)).toBe(1);
    const unchanged = await searchOf(server.fhir, `Observation?subject=Patient/${pid}&code=http://loinc.org|2039-6`);
    expect(unchanged[0].meta.versionId).toBe('1');
    expect(await historyTotal(`Observation/${original.id}`)).toBe(2);
  });

  it('a correction that re-sends only the corrected OBX keeps the report\'s other results', async () => {
    const bsn = newBsn();
    const filler = `F-${uid()}`;
    const ca153: LabResult = { loinc: '6875-9', name: 'Cancer Ag 15-3 [Units/volume] in Serum or Plasma', value: '48', unit: 'kU/L', range: '<=30', flag: 'H' };
    const first = await ingestOk(server.url, labMessage({ controlId: uid(), bsn, filler, results: [CEA, ca153, HB] }));
    const report = ref(first.outputs, 'DiagnosticReport');
    const before = await fhirFetch(`${server.fhir}/DiagnosticReport/${report.id}`);
    expect(before.body.result).toHaveLength(3);
    await ingestOk(server.url, labMessage({ controlId: uid(), bsn, filler, orderStatus: 'C', results: [{ ...ca153, value: '38', status: 'C' }] }));
    const after = await fhirFetch(`${server.fhir}/DiagnosticReport/${report.id}`);
    expect(after.body.meta.versionId).toBe('2');
    expect(after.body.result.map((r: { reference: string }) => r.reference)).toEqual(before.body.result.map((r: { reference: string }) => r.reference));
  });
});
