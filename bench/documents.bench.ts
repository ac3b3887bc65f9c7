/**
 * Document ingest benchmark (run on demand: `node bench/documents.bench.ts`). In one run, on the
 * same generated PDF letters (pdf-lib, 1-6 pages each):
 *  1. text extraction alone (unpdf)
 *  2. the pure adapter (documentToBundle: extraction + DocumentReference)
 *  3. end-to-end ingest through the pipeline (inbox, adapter, patient check, write with the
 *     `_content` word index, Provenance), as POST /ingest/documents does after storing
 * Reports documents/s and MB/s. Uses the embedded FerretDB unless MONGODB_URL is set.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { letterPdf } from '../seed/letters/pdf.ts';
import { documentToBundle, pdfToText } from '../ingestion/adapters/documents/index.ts';
import { identifierSystemResolver } from '../ingestion/identifier-systems.ts';
import { loadConfig } from '../api/config.ts';
import { startServer } from '../api/server.ts';
import { systemContext } from '../store/request-context.ts';

const BSN = 'http://fhir.nl/fhir/NamingSystem/bsn';
const paragraph = 'Patiente werd besproken in het multidisciplinair overleg. Histologie toont een invasief carcinoom NST, graad 2, ER 90%, PR 40%, HER2 negatief. Advies: neoadjuvante chemotherapie gevolgd door borstsparende chirurgie en radiotherapie. ';
const pdfs: Uint8Array[] = [];
for (let i = 0; i < 30; i++) {
  pdfs.push(await letterPdf({ title: `Letter ${i}`, author: 'dr. Bench', created: new Date(Date.UTC(2025, 0, 1 + i)), body: `Brief ${i}\n${paragraph.repeat(8 + (i % 6) * 40)}` }));
}
const totalMb = pdfs.reduce((n, p) => n + p.length, 0) / 1024 / 1024;
const ctx = { now: () => new Date(), newId: randomUUID, identifierSystem: identifierSystemResolver() };
const metadata = { patientIdentifier: { system: BSN, value: '999911120' }, type: 'mdt', date: '2025-01-01' };

function rate(label: string, n: number, mb: number, ms: number): string {
  return `| ${label.padEnd(52)} | ${String(n).padStart(5)} | ${mb.toFixed(1).padStart(6)} MB | ${ms.toFixed(0).padStart(7)} ms | ${((n / ms) * 1000).toFixed(1).padStart(7)} docs/s | ${((mb / ms) * 1000).toFixed(2).padStart(7)} MB/s |`;
}

let t = performance.now();
for (const p of pdfs) await pdfToText(p);
const extractMs = performance.now() - t;
t = performance.now();
for (const p of pdfs) await documentToBundle({ bytes: p, contentType: 'application/pdf', metadata }, ctx);
const adapterMs = performance.now() - t;

const dataDir = await mkdtemp(path.join(tmpdir(), 'idr-bench-'));
const server = await startServer(loadConfig({ PORT: '0', IDR_MLLP_PORT: 'off', LOG_LEVEL: 'silent', IDR_DATA_DIR: dataDir, IDR_DB_NAME: `bench_${Date.now()}`, ...(process.env.MONGODB_URL ? { MONGODB_URL: process.env.MONGODB_URL } : {}) }));
try {
  const { pipeline, repo } = server.services;
  await repo.create(systemContext('bench'), { resourceType: 'Patient', identifier: [metadata.patientIdentifier] });
  t = performance.now();
  for (const p of pdfs) {
    const r = await pipeline.ingest({ bytes: p, kind: 'document', source: 'bench', contentType: 'application/pdf', metadata });
    if (r.status !== 'processed') throw new Error(`bench document failed: ${r.error?.message}`);
  }
  const ingestMs = performance.now() - t;
  const lines = [
    `Documents benchmark — ${pdfs.length} PDF letters (${totalMb.toFixed(1)} MB, ${(pdfs[0]?.length ?? 0) >> 10}-${(pdfs.at(-1)?.length ?? 0) >> 10} KiB), Node ${process.version}, ${server.services.embedded ? 'embedded FerretDB 1.24 on PostgreSQL' : 'MongoDB'}`,
    '| what | docs | volume | time | documents | bytes |',
    '| --- | --- | --- | --- | --- | --- |',
    rate('PDF text extraction (unpdf)', pdfs.length, totalMb, extractMs),
    rate('pure adapter (documentToBundle)', pdfs.length, totalMb, adapterMs),
    rate('end-to-end ingest (pipeline)', pdfs.length, totalMb, ingestMs),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  await server.close();
  await rm(dataDir, { recursive: true, force: true });
}
