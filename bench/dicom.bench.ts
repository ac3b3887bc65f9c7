/**
 * DICOM header import benchmark (run on demand: `node bench/dicom.bench.ts`). In one run, on the
 * same synthetic Part 10 files (headers plus 64 KiB of pixel data each):
 *  1. bare header parsing with dicom-parser (parseDicom until PixelData)
 *  2. IDR's readDicomHeader (dicom-parser + the attributes IDR reads)
 *  3. readDicomHeader + dicomInstancesToBundle (the pure adapter)
 *  4. end-to-end import through the pipeline (inbox, adapter, patient check, series merge, write,
 *     Provenance, links), one instance per call as POST /ingest/dicom does
 * Uses the embedded FerretDB unless MONGODB_URL is set.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import dicomParser from 'dicom-parser';
import { writeDicomPart10 } from '../ingestion/adapters/dicom/testing/write-dicom.ts';
import { sampleInstance } from '../ingestion/adapters/dicom/testing/sample-instances.ts';
import { dicomInstancesToBundle, readDicomHeader } from '../ingestion/adapters/dicom/index.ts';
import { identifierSystemResolver } from '../ingestion/identifier-systems.ts';
import { loadConfig } from '../api/config.ts';
import { startServer } from '../api/server.ts';
import { systemContext } from '../store/request-context.ts';

const STUDIES = 2;
const SERIES = 2;
const INSTANCES = 15;
const pixels = new Uint8Array(64 * 1024).fill(3);
const files: Uint8Array[] = [];
for (let st = 1; st <= STUDIES; st++) {
  for (let se = 1; se <= SERIES; se++) {
    for (let i = 1; i <= INSTANCES; i++) {
      const study = `1.2.826.0.1.3680043.10.9999.${st}`;
      files.push(writeDicomPart10(sampleInstance({ studyUid: study, seriesUid: `${study}.${se}`, sopUid: `${study}.${se}.${i}`, modality: 'CT', seriesNumber: se, instanceNumber: i, issuer: '2.16.840.1.113883.2.4.6.3' }).map((e) => (e.tag === '7FE00010' ? { ...e, value: pixels } : e))));
    }
  }
}
const ctx = { now: () => new Date(), newId: randomUUID, identifierSystem: identifierSystemResolver() };

function rate(label: string, n: number, ms: number): string {
  return `| ${label.padEnd(58)} | ${String(n).padStart(6)} | ${ms.toFixed(0).padStart(7)} ms | ${((n / ms) * 1000).toFixed(0).padStart(8)} instances/s |`;
}
function repeat(fn: () => void, rounds: number): number {
  const t = performance.now();
  for (let r = 0; r < rounds; r++) fn();
  return performance.now() - t;
}

const rounds = 50;
repeat(() => files.forEach((f) => dicomInstancesToBundle([readDicomHeader(f)], ctx)), 2); // warm-up
const bareMs = repeat(() => files.forEach((f) => dicomParser.parseDicom(f, { untilTag: 'x7fe00010' })), rounds);
const headerMs = repeat(() => files.forEach((f) => readDicomHeader(f)), rounds);
const adapterMs = repeat(() => files.forEach((f) => dicomInstancesToBundle([readDicomHeader(f)], ctx)), rounds);

const dataDir = await mkdtemp(path.join(tmpdir(), 'idr-bench-'));
const server = await startServer(loadConfig({ PORT: '0', IDR_MLLP_PORT: 'off', LOG_LEVEL: 'silent', IDR_DATA_DIR: dataDir, IDR_DB_NAME: `bench_${Date.now()}`, ...(process.env.MONGODB_URL ? { MONGODB_URL: process.env.MONGODB_URL } : {}) }));
try {
  const { pipeline, repo } = server.services;
  await repo.create(systemContext('bench'), { resourceType: 'Patient', identifier: [{ system: 'http://fhir.nl/fhir/NamingSystem/bsn', value: '999911120' }] });
  const t = performance.now();
  for (const f of files) {
    const r = await pipeline.ingest({ bytes: f, kind: 'dicom', source: 'bench' });
    if (r.status !== 'processed') throw new Error(`bench instance failed: ${r.error?.message}`);
  }
  const ingestMs = performance.now() - t;
  const lines = [
    `DICOM benchmark — ${files.length} Part 10 instances (${STUDIES} studies x ${SERIES} series x ${INSTANCES}, ${(files[0]?.length ?? 0) >> 10} KiB each; ${rounds} rounds for CPU-only rows), Node ${process.version}, ${server.services.embedded ? 'embedded FerretDB 1.24 on PostgreSQL' : 'MongoDB'}`,
    '| what | instances | time | throughput |',
    '| --- | --- | --- | --- |',
    rate('bare header parsing (dicom-parser, until PixelData)', files.length * rounds, bareMs),
    rate('IDR readDicomHeader', files.length * rounds, headerMs),
    rate('readDicomHeader + dicomInstancesToBundle (pure adapter)', files.length * rounds, adapterMs),
    rate('end-to-end import (pipeline, one instance per call)', files.length, ingestMs),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  await server.close();
  await rm(dataDir, { recursive: true, force: true });
}
