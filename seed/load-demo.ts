import type { IngestResult, Pipeline } from '../ingestion/pipeline.ts';
import { seedHl7Messages, seedPatients } from './hl7v2/index.ts';
import { seedDicomFiles } from './imaging/index.ts';
import { seedLetters } from './letters/index.ts';
import type { Appointment, Group, Task } from '@medplum/fhirtypes';
import { systemContext } from '../store/request-context.ts';

/** The demo tumour board: a Group of the breast cancer patients; the demo board member sits on it (idr_boards). */
export const DEMO_BOARD_ID = 'tumour-board-breast';

export interface DemoSummary {
  /** Raw inputs loaded: HL7 v2 messages, DICOM files and letters. */
  messages: number;
  dicomFiles: number;
  letters: number;
  processed: number;
  duplicate: number;
  failed: number;
  /** Inputs about a patient not (yet) known: held until that patient is written. */
  waiting: number;
  failures: string[];
}

/**
 * Loads the synthetic demo patients through the real ingestion pipeline (inbox, adapters,
 * patient matching, Provenance). Idempotent: loading twice stores the raw messages again but
 * writes nothing new (they are duplicates). After the HL7 v2 messages come the seed's DICOM files
 * (the demo runs no PACS, so the Part 10 files are imported as POST /ingest/dicom would) and the
 * letters (PDF, text, MDM radiology reports), unless `imaging` / `letters` is false.
 */
export async function loadDemoData(
  services: { pipeline: Pipeline },
  options: { seed?: number; patients?: number; imaging?: boolean; letters?: boolean; onProgress?: (done: number, total: number) => void } = {},
): Promise<DemoSummary> {
  const summary: DemoSummary = { messages: 0, dicomFiles: 0, letters: 0, processed: 0, duplicate: 0, failed: 0, waiting: 0, failures: [] };
  const seedOpts = { ...(options.seed !== undefined ? { seed: options.seed } : {}), ...(options.patients !== undefined ? { count: options.patients } : {}) };
  const hl7 = seedHl7Messages(seedOpts);
  const patients = seedPatients(seedOpts);
  const dicom = options.imaging !== false ? seedDicomFiles(patients) : [];
  const letters = options.letters !== false ? await seedLetters(patients) : [];
  const total = hl7.length + dicom.length + letters.length;
  const record = (name: string, r: IngestResult): void => {
    options.onProgress?.(summary.messages + 1, total);
    summary.messages++;
    summary[r.status]++;
    if (r.status === 'failed') summary.failures.push(`${name}: ${r.error?.location ? `${r.error.location}: ` : ''}${r.error?.message}`);
  };
  // As an interface engine's batch would arrive: fifty messages at a time, written in groups.
  for (let i = 0; i < hl7.length; i += 50) {
    const chunk = hl7.slice(i, i + 50);
    const results = await services.pipeline.ingestMany(chunk.map((m) => ({ bytes: Buffer.from(m.text, 'utf8'), kind: 'hl7v2', source: 'seed', origin: m.name })));
    results.forEach((r, j) => record((chunk[j] as (typeof chunk)[number]).name, r));
  }
  if (dicom.length) {
    for (const f of dicom) {
      record(f.name, await services.pipeline.ingest({ bytes: f.bytes, kind: 'dicom', source: 'seed', origin: f.name, filename: f.name, contentType: 'application/dicom', metadata: { size: f.bytes.length, truncated: false } }));
      summary.dicomFiles++;
    }
  }
  if (letters.length) {
    for (const l of letters) {
      record(l.name, await services.pipeline.ingest({ bytes: l.bytes, kind: l.kind, source: 'seed', origin: l.name, filename: l.name, contentType: l.contentType, ...(l.metadata ? { metadata: l.metadata } : {}) }));
      summary.letters++;
    }
  }
  await writeDemoBoard(services.pipeline, patients.filter((p) => p.cancer === 'breast'));
  return summary;
}

/** The demo board's patient list (a FHIR Group), matched by BSN; rewritten only when it changes. */
async function writeDemoBoard(pipeline: Pipeline, members: { bsn: string }[]): Promise<void> {
  const ctx = systemContext('seed');
  const ids: string[] = [];
  for (const m of members) {
    const [found] = await pipeline.repo.searchByQuery(ctx, 'Patient', `identifier=http://fhir.nl/fhir/NamingSystem/bsn|${m.bsn}`, 1);
    if (found?.id) ids.push(found.id);
  }
  const board: Group = {
    resourceType: 'Group',
    id: DEMO_BOARD_ID,
    type: 'person',
    actual: true,
    name: 'Breast MDT (Tuesdays)',
    member: ids.map((id) => ({ entity: { reference: `Patient/${id}` } })),
  };
  await pipeline.repo.update(ctx, board);
  await writeDemoMeeting(pipeline, ids);
}

/** The demo meeting: the board's next Tuesday session (an Appointment) with a case (a Task) per member, written once (a later start leaves them as the demo user left them). */
export const DEMO_MEETING_ID = 'demo-breast-mdt';

async function writeDemoMeeting(pipeline: Pipeline, patients: string[]): Promise<void> {
  const ctx = systemContext('seed');
  const exists = async (type: string, id: string): Promise<boolean> => !!(await pipeline.repo.currentDoc(type, id));
  if (!(await exists('Appointment', DEMO_MEETING_ID))) {
    const start = nextTuesday(new Date());
    const meeting: Appointment = {
      resourceType: 'Appointment',
      id: DEMO_MEETING_ID,
      status: 'booked',
      description: 'Breast tumour board',
      serviceType: [{ text: 'Tumour board' }],
      start: start.toISOString(),
      end: new Date(start.getTime() + 3_600_000).toISOString(),
      participant: [{ type: [{ text: 'Tumour board' }], status: 'accepted' }],
      supportingInformation: [{ reference: `Group/${DEMO_BOARD_ID}`, display: 'Breast MDT (Tuesdays)' }],
    };
    await pipeline.repo.update(ctx, meeting);
  }
  const questions = ['Neoadjuvant systemic therapy or primary surgery?', 'Is radiotherapy indicated after breast-conserving surgery?'];
  for (const [i, pid] of patients.entries()) {
    const id = `demo-case-${i + 1}`;
    if (await exists('Task', id)) continue;
    const task: Task = {
      resourceType: 'Task',
      id,
      status: 'requested',
      intent: 'order',
      code: { text: 'Tumour board review' },
      for: { reference: `Patient/${pid}` },
      basedOn: [{ reference: `Appointment/${DEMO_MEETING_ID}` }],
      input: [{ type: { text: 'Question for the board' }, valueString: questions[i % questions.length] as string }],
    };
    await pipeline.repo.update(ctx, task);
  }
}

/** 16:00 UTC on the next Tuesday after `now`. */
function nextTuesday(now: Date): Date {
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), 16));
  do d.setUTCDate(d.getUTCDate() + 1);
  while (d.getUTCDay() !== 2);
  return d;
}
