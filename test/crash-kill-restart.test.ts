import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../api/config.ts';
import { startServer, type RunningServer } from '../api/server.ts';
import { connectDatabase } from '../store/db.ts';
import { startEmbeddedDb } from '../store/embedded-db.ts';
import { resourceOf } from '../schema/collections.ts';
import { startChildService, waitForDataDirReleased, type ChildService } from './support/child-service.ts';
import { checkIntegrity } from './support/store-integrity.ts';
import { mllpExchange, postHl7 } from './fixtures/ingest/clients.ts';
import { authFetch, fhirFetch } from './support/server.ts';
import { CREA, HB, labMessage, mllpFrame, newBsn, type LabResult } from './fixtures/ingest/messages.ts';
import { mulberry32 } from '../seed/hl7v2/random.ts';

/**
 * Kill/restart: the real service (`node api/main.ts`, its own embedded database) receives a
 * stream of lab messages over MLLP and HTTP and is killed (SIGKILL) at a seeded random moment;
 * started again and killed again quickly (during its start-up recovery); started a third time,
 * everything is resent and the service is stopped with SIGTERM; a late fourth start then finds
 * a sound store: every message answered AA / 2xx before the kill stored and processed, no
 * duplicate, no pending journal, no dangling reference, no duplicate identifier, no history gap,
 * the derived-data outbox empty and the timeline equal to one rebuilt from the resources.
 */


const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Sent {
  message: string;
  via: 'mllp' | 'http';
  bsn: string;
  /** A DICOM Part 10 file (POST /ingest/dicom) instead of an HL7 v2 message. */
  dicom?: Buffer;
}

/** Sends one message; the inbox id when it was answered AA (MLLP) or processed/duplicate (HTTP). */
async function send(service: ChildService, m: Sent): Promise<string | undefined> {
  try {
    if (m.via === 'mllp') {
      const r = await mllpExchange(service.mllpPort, mllpFrame(m.message), 30_000);
      return r.ack?.segment('MSA')?.[1] === 'AA' ? r.ack.segment('MSH')?.[9] : undefined;
    }
    const r = m.dicom
      ? await fhirFetch(`${service.url}/ingest/dicom`, { method: 'POST', headers: { 'content-type': 'application/dicom' }, body: new Uint8Array(m.dicom) })
      : await postHl7(service.url, m.message);
    const result = r.body?.results?.[0];
    return r.status < 300 && (result?.status === 'processed' || result?.status === 'duplicate') ? (result.inboxId as string) : undefined;
  } catch {
    return undefined; // refused or cut off by the kill: not acknowledged
  }
}

/** Streams the messages on two channels at once (MLLP and HTTP, in order on each). */
async function stream(service: ChildService, messages: Sent[], acked: Map<string, Sent>, stop: () => boolean): Promise<void> {
  const lane = async (via: Sent['via']): Promise<void> => {
    for (const m of messages.filter((x) => x.via === via)) {
      if (stop()) return;
      const id = await send(service, m);
      if (id) acked.set(id, m);
    }
  };
  await Promise.all([lane('mllp'), lane('http')]);
}

/** Opens the stopped service's database directly (no IDR start-up recovery), runs `fn`, closes it. */
async function withRawStore<T>(dataDir: string, fn: (database: Awaited<ReturnType<typeof connectDatabase>>) => Promise<T>): Promise<T> {
  const embedded = await startEmbeddedDb({ dataDir: path.join(dataDir, 'db'), supervise: false, ...(process.env.IDR_CACHE_DIR ? { cacheDir: process.env.IDR_CACHE_DIR } : {}) });
  const database = await connectDatabase(embedded.url, 'idr');
  try {
    return await fn(database);
  } finally {
    await database.close();
    await embedded.stop();
  }
}

/** Starts IDR in this process on the data (the late restart) and waits for its start-up recovery. */
async function lateStart(dataDir: string): Promise<RunningServer> {
  const server = await startServer(loadConfig({ ...process.env, MONGODB_URL: '', IDR_DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', IDR_MLLP_PORT: 'off', NODE_ENV: 'test', LOG_LEVEL: 'silent' }));
  await server.services.recovery;
  await server.services.outbox.processDue({ createdBefore: new Date() });
  return server;
}

/** Waits until the service has no input left "received" (its start-up recovery is done). */
async function untilNoneReceived(service: ChildService, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const r = await authFetch(`${service.url}/ingest/messages?status=received`).then((x) => x.json() as Promise<{ total: number }>);
    if (r.total === 0) return;
    if (Date.now() > deadline) throw new Error(`${r.total} input(s) still "received" after ${ms} ms`);
    await sleep(250);
  }
}

const fixture = (name: string): Promise<Buffer> => readFile(new URL(`./fixtures/${name}`, import.meta.url));
/** The patient of the imaging fixtures (a CT study, accession RAD24-000123, and its MDM report). */
const IMAGING_BSN = '999911120';

const ALT = (value: string, flag: string, status = 'F'): LabResult => ({ loinc: '1742-6', name: 'Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma', value, unit: 'U/L', range: '<45', flag, status });

describe('kill and restart the service while messages arrive', () => {
  for (const seed of [11, 23, 37]) {
    it(`seed ${seed}: every acknowledged message kept and processed once; the store sound after a quick and a late restart`, async () => {
      const random = mulberry32(seed).next; // seeded, so a failing seed can be run again
      const dataDir = await mkdtemp(path.join(tmpdir(), `idr-kill-${seed}-`));
      let late: RunningServer | undefined;
      try {
        const patients = [newBsn(), newBsn(), newBsn()];
        const messages: Sent[] = Array.from({ length: 16 }, (_, i) => {
          const bsn = patients[i % patients.length] as string;
          const id = `K${seed}-${i}-${bsn.slice(-4)}`;
          return { bsn, via: i % 2 ? 'mllp' : 'http', message: labMessage({ controlId: id, bsn, filler: `F-${id}`, results: [{ ...HB, value: `${6 + (i % 4)}.${i}` }, CREA] }) };
        });
        // A CT study and its radiology report in the HTTP stream: the report is linked to the study.
        const imaging: Sent[] = [
          { bsn: IMAGING_BSN, via: 'http', message: 'ct-thorax-1.dcm', dicom: await fixture('dicom/ct-thorax-1.dcm') },
          { bsn: IMAGING_BSN, via: 'http', message: (await fixture('documents/radiology-report-mdm.hl7')).toString('latin1') },
          { bsn: IMAGING_BSN, via: 'http', message: 'ct-thorax-2.dcm', dicom: await fixture('dicom/ct-thorax-2.dcm') },
        ];
        messages.splice(4, 0, ...imaging.slice(0, 1));
        messages.splice(9, 0, ...imaging.slice(1, 2));
        messages.splice(13, 0, ...imaging.slice(2));

        // 1. Stream, and kill at a seeded moment: after some acknowledgements, plus a few ms.
        const first = await startChildService(dataDir);
        const imagingPatient = await fhirFetch(`${first.fhir}/Patient`, { method: 'POST', json: { resourceType: 'Patient', identifier: [{ system: 'http://fhir.nl/fhir/NamingSystem/bsn', value: IMAGING_BSN }] } });
        expect(imagingPatient.status).toBe(201);
        const acked = new Map<string, Sent>();
        const killAfter = Math.floor(random() * 10);
        const extraMs = Math.floor(random() * 120);
        let killed = false;
        const streaming = stream(first, messages, acked, () => killed);
        while (acked.size < killAfter && !killed) await sleep(5);
        await sleep(extraMs);
        killed = true;
        await first.kill();
        await streaming;
        await waitForDataDirReleased(dataDir);
        const ackedBeforeKill = new Map(acked);

        // 2. A quick restart, killed again while its start-up recovery may still run.
        const second = await startChildService(dataDir);
        await sleep(Math.floor(random() * 800));
        await second.kill();
        await waitForDataDirReleased(dataDir);

        // 3. Started again: everything is resent and answered; then a graceful stop.
        const third = await startChildService(dataDir);
        for (const m of messages) {
          const id = await send(third, m);
          expect(id, `resent ${m.via} message not acknowledged\n${third.output().slice(-3000)}`).toBeDefined();
        }
        await untilNoneReceived(third, 60_000);
        expect(await third.stop()).toBe('0');
        await waitForDataDirReleased(dataDir);

        // A graceful stop leaves no journal behind (checked before any start-up recovery).
        expect(await withRawStore(dataDir, async (db) => (await db.c.journal.find({}).toArray()).map((j) => j._id))).toEqual([]);

        // 4. The late restart: the store is sound.
        late = await lateStart(dataDir);
        const { database, pipeline } = late.services;
        for (const [inboxId, m] of ackedBeforeKill) {
          const entry = await pipeline.inbox.get(inboxId);
          expect(entry, `acknowledged ${m.via} message ${inboxId} is in the inbox`).toBeTruthy();
          const processed = entry?.status === 'duplicate' ? await pipeline.inbox.get(entry.duplicateOf as string) : entry;
          expect(processed?.status, `acknowledged message ${inboxId}`).toBe('processed');
          for (const out of processed?.outputs ?? []) {
            const [type, id] = out.split('/');
            const doc = await database.c.resources.findOne({ _id: `${type}/${id}` });
            expect(doc && !doc.deleted && resourceOf(doc), `${out} written for acknowledged message ${inboxId}`).toBeTruthy();
          }
        }
        // No duplicate after the full resend: one Patient per BSN, one report per message, two results each.
        for (const bsn of patients) {
          const found = (await database.c.resources.find({ rt: 'Patient', deleted: false }).toArray()).filter((d) => d.json?.includes(bsn));
          expect(found.length, `Patients with BSN ${bsn}`).toBe(1);
          const pid = found[0]?.id as string;
          const mine = await database.c.resources.find({ patients: pid, deleted: false }).toArray();
          const count = messages.filter((m) => m.bsn === bsn && !m.dicom).length;
          expect(mine.filter((d) => d.rt === 'DiagnosticReport').length).toBe(count);
          expect(mine.filter((d) => d.rt === 'Observation').length).toBe(count * 2);
        }
        // The report is linked to its study, whatever the kill interrupted.
        const studies = (await database.c.resources.find({ rt: 'ImagingStudy', deleted: false }).toArray()).filter((d) => d.json?.includes('1.2.826.0.1.3680043.10.1234.100'));
        expect(studies.length, 'one CT study').toBe(1);
        const reports = (await database.c.resources.find({ rt: 'DiagnosticReport', deleted: false }).toArray()).filter((d) => d.json?.includes('RAD24-000123'));
        expect(reports.length, 'one radiology report').toBe(1);
        const linked = (resourceOf(reports[0]) as { imagingStudy?: { reference?: string }[] }).imagingStudy?.map((r) => r.reference);
        expect(linked).toContain(`ImagingStudy/${studies[0]?.id}`);
        const report = await checkIntegrity(database);
        expect(report).toEqual({ pendingJournals: [], danglingReferences: [], duplicateIdentifiers: [], versionMismatches: [], outbox: [], timelineDifferences: [] });
      } finally {
        await late?.close();
        await rm(dataDir, { recursive: true, force: true });
      }
    }, 300_000);
  }

  for (const seed of [5, 17, 4, 12]) {
    it(`seed ${seed}: a correction followed by a crash: the timeline shows the corrected value`, async () => {
      const random = mulberry32(seed).next; // seeded, so a failing seed can be run again
      const dataDir = await mkdtemp(path.join(tmpdir(), `idr-correction-${seed}-`));
      let late: RunningServer | undefined;
      try {
        const bsn = newBsn();
        const filler = `F-C${seed}-${bsn.slice(-4)}`;
        const original = labMessage({ controlId: `C${seed}-1`, bsn, filler, when: '20250301083000', results: [ALT('113', 'H')] });
        const correction = labMessage({ controlId: `C${seed}-2`, bsn, filler, when: '20250301083000', orderStatus: 'C', results: [ALT('13', 'N', 'C')] });
        const first = await startChildService(dataDir);
        expect(await send(first, { message: original, via: 'http', bsn })).toBeDefined();
        // The correction arrives over MLLP; the service is killed while it is handled: at a seeded
        // moment, or as soon as the correction is marked processed (before what follows the write).
        const sending = send(first, { message: correction, via: 'mllp', bsn });
        if (seed % 2) {
          await sleep(Math.floor(random() * 250));
        } else {
          const processed = async (): Promise<number> => ((await authFetch(`${first.url}/ingest/messages?status=processed`).then((r) => r.json())) as { total: number }).total;
          for (let i = 0; i < 2000 && (await processed().catch(() => 2)) < 2; i++);
        }
        await first.kill();
        const correctionAcked = await sending;
        await waitForDataDirReleased(dataDir);

        const second = await startChildService(dataDir);
        expect(await send(second, { message: original, via: 'http', bsn }), 'the original, resent').toBeDefined();
        expect(await send(second, { message: correction, via: 'mllp', bsn }), 'the correction, resent').toBeDefined();
        await untilNoneReceived(second, 60_000);
        expect(await second.stop()).toBe('0');
        await waitForDataDirReleased(dataDir);

        late = await lateStart(dataDir);
        const { database } = late.services;
        const patient = (await database.c.resources.find({ rt: 'Patient', deleted: false }).toArray()).find((d) => d.json?.includes(bsn));
        const events = await late.services.timeline.events.find({ patient: patient?.id as string }).toArray();
        expect(events.map((e) => e.summary).join(' / '), `correction acknowledged before the kill: ${String(!!correctionAcked)}`).toMatch(/\b13 U\/L/);
        expect(events.map((e) => e.summary).join(' / ')).not.toMatch(/113/);
        expect(events.every((e) => e.status !== 'final' || !e.abnormal)).toBe(true);
        const observations = (await database.c.resources.find({ patients: patient?.id as string, rt: 'Observation', deleted: false }).toArray()).map((d) => resourceOf(d));
        expect(observations.map((o) => (o as { valueQuantity?: { value?: number } }).valueQuantity?.value)).toEqual([13]);
        const report = await checkIntegrity(database);
        expect(report).toEqual({ pendingJournals: [], danglingReferences: [], duplicateIdentifiers: [], versionMismatches: [], outbox: [], timelineDifferences: [] });
      } finally {
        await late?.close();
        await rm(dataDir, { recursive: true, force: true });
      }
    }, 240_000);
  }
});
