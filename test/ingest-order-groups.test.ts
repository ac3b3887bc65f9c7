import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fhirFetch, startTestServer, type TestServer } from './support/server.ts';
import { ingestOk, searchOf, type Json } from './fixtures/ingest/clients.ts';
import { newBsn, pid3, uid } from './fixtures/ingest/messages.ts';

/** Repeated order numbers (multi-panel orders, newborn screening) through the real pipeline, and corrections of one panel. */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

const message = (bsn: string, segments: string[]): string =>
  [`MSH|^~\\&|LIS|LAB|IDR|HOSP|20240501101500+0200||ORU^R01^ORU_R01|${uid()}|P|2.5.1`, `PID|1||${pid3(bsn)}||Jansen^Els||19800101|F`, ...segments].join('\r');
const obr = (set: number, order: string, service: string, status = 'F'): string =>
  `OBR|${set}|PL-${order}^EPIC|${order}^LIS|${service}|||20240501080000+0200||||||||||||||||CH|${status}`;
const obx = (set: number, code: string, value: string, status = 'F'): string => `OBX|${set}|NM|${code}^LN||${value}|mmol/L|||||${status}`;
const read = async (ref: string): Promise<Json> => (await fhirFetch(`${server.fhir}/${ref}`)).body;
const reportsOf = async (order: string): Promise<Json[]> => searchOf(server.fhir, `DiagnosticReport?identifier=urn:idr:hl7v2:filler-order|LIS/${order}&_sort=_id`);

describe('ORU^R01 with one order number in several order groups', () => {
  it('files one report per panel, and a correction of one panel versions only that panel', async () => {
    const [bsn, order] = [newBsn(), `ORD-${uid()}`];
    const original = await ingestOk(server.url, message(bsn, [
      obr(1, order, '24326-1^Electrolytes panel^LN'), obx(1, '2951-2^Sodium', '140'), obx(2, '2823-3^Potassium', '4.1'),
      obr(2, order, '24362-6^Renal function panel^LN'), obx(1, '2160-0^Creatinine', '88'), obx(2, '2823-3^Potassium', '4.1'),
    ]));
    expect(original.status).toBe('processed');
    const reports = await reportsOf(order);
    expect(reports).toHaveLength(2);
    const byCode = (code: string): Json => reports.find((r: Json) => r.code.coding[0].code === code);
    const renal = byCode('24362-6');
    const electrolytes = byCode('24326-1');
    expect(renal.result).toHaveLength(2);
    expect(electrolytes.result).toHaveLength(2);
    expect(new Set([...renal.result, ...electrolytes.result].map((r: Json) => r.reference)).size).toBe(4);

    // correction (OBR-25 C, OBX-11 C) of the renal panel only
    await ingestOk(server.url, message(bsn, [obr(1, order, '24362-6^Renal function panel^LN', 'C'), obx(1, '2160-0^Creatinine', '80', 'C')]));
    const after = await reportsOf(order);
    expect(after).toHaveLength(2);
    const renal2 = await read(`DiagnosticReport/${renal.id}`);
    expect(renal2.meta.versionId).toBe('2');
    expect(renal2.status).toBe('corrected');
    // the correction re-sent one result: the report keeps both
    expect(renal2.result.map((r: Json) => r.reference)).toEqual(renal.result.map((r: Json) => r.reference));
    const creatinine = (await Promise.all(renal2.result.map((r: Json) => read(r.reference)))).find((o: Json) => o.code.coding[0].code === '2160-0');
    expect(creatinine.meta.versionId).toBe('2');
    expect(creatinine.status).toBe('corrected');
    expect(creatinine.valueQuantity.value).toBe(80);
    expect((await read(`DiagnosticReport/${electrolytes.id}`)).meta.versionId).toBe('1');
  });

  it('files newborn-screening panels that repeat the order number and OBR-4, and a resend creates nothing new', async () => {
    const [bsn, order] = [newBsn(), `NBS-${uid()}`];
    const nbs = '57128-1^Newborn screening panel^LN';
    const segments = [obr(1, order, nbs), obx(1, '29575-8^Phenylalanine', '60'), obr(2, order, nbs), obx(1, '29575-8^Phenylalanine', '58'), obr(3, order, nbs), obx(1, '29573-3^Tyrosine', '70')];
    const first = await ingestOk(server.url, message(bsn, segments));
    expect(first.status).toBe('processed');
    const reports = await reportsOf(order);
    expect(reports).toHaveLength(3);
    const resend = await ingestOk(server.url, message(bsn, segments));
    expect(resend.status).toBe('processed');
    const again = await reportsOf(order);
    expect(again.map((r: Json) => [r.id, r.meta.versionId])).toEqual(reports.map((r: Json) => [r.id, '1']));
    expect(await searchOf(server.fhir, `Observation?subject=${reports[0].subject.reference}`)).toHaveLength(3);
  });
});
