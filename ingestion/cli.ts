import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { splitHl7Batch } from './adapters/hl7v2/index.ts';
import { decodeHl7Text, hl7Encoding } from './adapter-registry.ts';
import { expandInputs } from './cli/files.ts';
import { Progress } from './cli/progress.ts';
import { IngestClient, type ReportedResult } from './cli/client.ts';
import { signIn } from './cli/auth.ts';
import { dicomCommand, dicomwebCommand } from './imaging/cli-commands.ts';

const USAGE = `IDR ingestion CLI — a client of a running IDR (make demo, or your deployment)

Usage:
  node ingestion/cli.ts ingest <file|folder|glob>... [--server URL]
      Sends HL7 v2 messages: single messages, MLLP-framed files and FHS/BHS batch files.
      Folders are read recursively (.hl7 .er7 .txt .mllp .msg .dat). Prints a progress bar
      and a summary per file (ok / duplicate / failed, with the reason of each failure).
  node ingestion/cli.ts dicom <file|folder>... [--wado-rs-base URL] [--server URL]
      Sends DICOM Part 10 files (all files under a folder) one by one to POST /ingest/dicom;
      the server keeps the headers only and merges the instances of a study.
  node ingestion/cli.ts dicomweb [--source NAME] [--patient ID] [--study-date YYYYMMDD-YYYYMMDD]
      [--study-uid UID] [--since YYYY-MM-DD|last] [--server URL]
      Imports studies from a PACS (QIDO-RS) via POST /ingest/dicomweb. NAME is one the server
      has in IDR_DICOMWEB_SOURCES (default: "default", its IDR_DICOMWEB_URL).
  node ingestion/cli.ts failed [--kind hl7v2] [--server URL]   list failed inputs
  node ingestion/cli.ts reprocess <inbox-id>... | --all-failed [--server URL]
  --server defaults to $IDR_SERVER or http://127.0.0.1:8080
Credentials: $IDR_TOKEN (a bearer token), or $IDR_CLIENT_ID and $IDR_CLIENT_SECRET of a client
  with the idr/ingest scope (make demo prints the demo client's).
Exit status: 0 when nothing failed, 1 when an input failed, 2 on a usage or connection error.`;

interface FileSummary {
  file: string;
  ok: number;
  duplicate: number;
  failed: number;
  failures: string[];
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      server: { type: 'string' }, kind: { type: 'string' }, 'all-failed': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      url: { type: 'string' }, source: { type: 'string' }, patient: { type: 'string' }, since: { type: 'string' }, 'study-date': { type: 'string' }, 'study-uid': { type: 'string' }, 'wado-rs-base': { type: 'string' },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    process.stdout.write(`${USAGE}\n`);
    return command || values.help ? 0 : 2;
  }
  const client = new IngestClient(values.server ?? process.env.IDR_SERVER ?? 'http://127.0.0.1:8080');
  const server = (values.server ?? process.env.IDR_SERVER ?? 'http://127.0.0.1:8080').replace(/\/$/, '');
  try {
    await signIn(server);
  } catch (err) {
    process.stderr.write(`cannot sign in to ${server}: ${(err as Error).message}\n`);
    return 2;
  }
  switch (command) {
    case 'ingest':
      return ingest(client, rest);
    case 'dicom':
      return dicomCommand(server, rest, values['wado-rs-base'], process.stdout);
    case 'dicomweb':
      return dicomwebCommand(server, { ...(values.url ? { url: values.url } : {}), ...(values.source ? { source: values.source } : {}), ...(values.patient ? { patient: values.patient } : {}), ...(values.since ? { since: values.since } : {}), ...(values['study-date'] ? { studyDate: values['study-date'] } : {}), ...(values['study-uid'] ? { studyUid: values['study-uid'] } : {}) }, process.stdout);
    case 'failed': {
      const page = await client.list('failed', values.kind, 500);
      for (const e of page.entries) {
        const err = e.error as { location?: string; message?: string } | undefined;
        process.stdout.write(`${e._id}  ${String(e.receivedAt)}  ${e.kind}/${e.source}  ${err?.location ? `${err.location}: ` : ''}${err?.message ?? ''}\n`);
      }
      process.stdout.write(`${page.total} failed input(s)\n`);
      return 0;
    }
    case 'reprocess': {
      const results = values['all-failed'] ? await client.reprocessFailed() : await Promise.all(rest.map((id) => client.reprocess(id)));
      if (!values['all-failed'] && rest.length === 0) {
        process.stderr.write('reprocess: give inbox ids or --all-failed\n');
        return 2;
      }
      for (const r of results) process.stdout.write(`${r.inboxId}  ${r.status}${r.error ? `  ${r.error.location ? `${r.error.location}: ` : ''}${r.error.message}` : ''}\n`);
      return results.some((r) => r.status === 'failed') ? 1 : 0;
    }
    default:
      process.stderr.write(`unknown command "${command}"\n\n${USAGE}\n`);
      return 2;
  }
}

async function ingest(client: IngestClient, args: string[]): Promise<number> {
  if (!args.length) {
    process.stderr.write('ingest: give files, folders or globs\n');
    return 2;
  }
  const { files, missing } = await expandInputs(args);
  for (const m of missing) process.stderr.write(`not found: ${m}\n`);
  const units: { file: string; bytes: Uint8Array; index: number }[] = [];
  for (const file of files) {
    const bytes = await readFile(file);
    units.push(...splitFile(bytes).map((b, index) => ({ file, bytes: b, index })));
  }
  const summaries = new Map<string, FileSummary>(files.map((f) => [f, { file: f, ok: 0, duplicate: 0, failed: 0, failures: [] }]));
  const totals = { ok: 0, duplicate: 0, failed: 0 };
  const progress = new Progress(units.length);
  for (const u of units) {
    const s = summaries.get(u.file) as FileSummary;
    let results: ReportedResult[];
    try {
      results = await client.postHl7(u.bytes);
    } catch (err) {
      s.failed++;
      totals.failed++;
      s.failures.push(`message ${u.index + 1}: not stored: ${(err as Error).message}`);
      progress.tick(path.basename(u.file), totals);
      if (/cannot reach IDR/.test((err as Error).message)) {
        progress.finish();
        process.stderr.write(`${(err as Error).message}\n`);
        return 2;
      }
      continue;
    }
    for (const r of results) {
      const key = r.status === 'processed' ? 'ok' : r.status;
      s[key]++;
      totals[key]++;
      if (r.status === 'failed') s.failures.push(`message ${u.index + 1}: ${r.error?.location ? `${r.error.location}: ` : ''}${r.error?.message ?? 'failed'} (inbox ${r.inboxId})`);
    }
    progress.tick(path.basename(u.file), totals);
  }
  progress.finish();
  const cwd = process.cwd();
  for (const s of summaries.values()) {
    process.stdout.write(`${path.relative(cwd, s.file) || s.file}: ok ${s.ok}, duplicate ${s.duplicate}, failed ${s.failed}\n`);
    for (const f of s.failures) process.stdout.write(`  FAILED ${f}\n`);
  }
  process.stdout.write(`total: ${files.length} file(s), ${units.length} message(s): ok ${totals.ok}, duplicate ${totals.duplicate}, failed ${totals.failed}\n`);
  return totals.failed > 0 || missing.length > 0 ? 1 : 0;
}

/** One file -> the bodies to send: the file as is when it holds one message, else each message. */
function splitFile(bytes: Buffer): Uint8Array[] {
  try {
    const messages = splitHl7Batch(decodeHl7Text(bytes));
    if (messages.length > 1) return messages.map((m) => Buffer.from(m, hl7Encoding(bytes)));
  } catch {
    // not splittable: send whole, the server keeps it and says why it failed
  }
  return [bytes];
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  },
);
