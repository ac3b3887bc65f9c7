import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DocumentReference } from '@medplum/fhirtypes';
import { authFetch, fhirFetch, startTestServer, type TestServer } from './support/server.ts';
import { inflatingPdf, manyPagesPdf } from '../ingestion/adapters/documents/testing/large-pdfs.ts';

/**
 * PDF text-extraction limits through the running server (POST /ingest/documents): a PDF over the
 * page limit, one that inflates beyond the size limit, and one whose extraction outlasts the time
 * limit are each kept (raw bytes in the inbox, DocumentReference pointing at them) without text,
 * with a warning naming the limit; the service answers the next request.
 */

const BSN = 'http://fhir.nl/fhir/NamingSystem/bsn';
let limited: TestServer;
let slow: TestServer;

async function addPatient(server: TestServer, value: string): Promise<void> {
  const p = await fhirFetch(`${server.fhir}/Patient`, { method: 'POST', json: { resourceType: 'Patient', identifier: [{ system: BSN, value }], name: [{ family: 'Bakker' }] } });
  expect(p.status).toBe(201);
}

beforeAll(async () => {
  [limited, slow] = await Promise.all([
    startTestServer({ IDR_PDF_MAX_PAGES: '20', IDR_PDF_MAX_INFLATED_BYTES: String(1024 * 1024) }),
    startTestServer({ IDR_PDF_EXTRACT_TIMEOUT_MS: '100', IDR_PDF_MAX_INFLATED_BYTES: String(1024 * 1024 * 1024) }),
  ]);
  await Promise.all([addPatient(limited, '999911132'), addPatient(slow, '999911132')]);
});
afterAll(async () => {
  await Promise.all([limited?.close(), slow?.close()]);
});

async function upload(server: TestServer, pdf: Uint8Array): ReturnType<typeof fhirFetch> {
  const query = new URLSearchParams({ patient: `${BSN}|999911132`, type: 'referral' });
  return fhirFetch(`${server.url}/ingest/documents?${query}`, { method: 'POST', headers: { 'content-type': 'application/pdf' }, body: new Uint8Array(pdf) });
}

/** Asserts the upload was kept without text, with `warning`, and that its raw bytes are served back. */
async function expectKeptWithoutText(server: TestServer, pdf: Uint8Array, warning: string): Promise<void> {
  const r = await upload(server, pdf);
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  const result = r.body.results[0];
  expect(result.status).toBe('processed');
  expect(result.warnings).toContain(warning);
  const entry = await fhirFetch(`${server.url}/ingest/messages/${result.inboxId}`);
  expect(entry.body).toMatchObject({ status: 'processed', warnings: expect.arrayContaining([warning]) });
  const ref = (result.outputs as string[]).find((o) => o.startsWith('DocumentReference/'))?.split('/_history/')[0];
  const doc = (await fhirFetch(`${server.fhir}/${ref}`)).body as DocumentReference;
  expect(doc.content).toHaveLength(1);
  expect(doc.content[0]?.attachment).toMatchObject({ contentType: 'application/pdf', size: pdf.length });
  const raw = await authFetch(new URL(doc.content[0]?.attachment.url ?? '', server.url));
  expect(Buffer.from(await raw.arrayBuffer()).equals(Buffer.from(pdf))).toBe(true);
}

async function expectStillServing(server: TestServer): Promise<void> {
  const r = await fhirFetch(`${server.fhir}/Patient?identifier=${BSN}|999911132`);
  expect(r.status).toBe(200);
  expect(r.body.entry).toHaveLength(1);
}

describe('PDF text-extraction limits', () => {
  it('keeps a PDF over the page limit without text, naming IDR_PDF_MAX_PAGES', async () => {
    const pdf = await manyPagesPdf(21);
    await expectKeptWithoutText(limited, pdf, 'text not extracted: it has 21 pages; text is extracted from PDFs of at most 20 pages (IDR_PDF_MAX_PAGES); the PDF is kept as it is');
    await expectStillServing(limited);
  });

  it('keeps a small PDF that inflates beyond the limit without text, naming IDR_PDF_MAX_INFLATED_BYTES', async () => {
    const pdf = await inflatingPdf(8 * 1024 * 1024);
    await expectKeptWithoutText(limited, pdf, `text not extracted: its streams inflate to more than ${1024 * 1024} bytes (IDR_PDF_MAX_INFLATED_BYTES); the PDF is kept as it is`);
    await expectStillServing(limited);
  });

  it('stops an extraction over the time limit and keeps the PDF without text, naming IDR_PDF_EXTRACT_TIMEOUT_MS', async () => {
    const pdf = await inflatingPdf(32 * 1024 * 1024);
    await expectKeptWithoutText(slow, pdf, 'text not extracted: extraction took longer than 100 ms (IDR_PDF_EXTRACT_TIMEOUT_MS); the PDF is kept as it is');
    await expectStillServing(slow);
  });
});
