import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer, TEST_CLIENT } from './support/server.ts';
import { countOf, patientIdByBsn } from './fixtures/ingest/clients.ts';
import { batchFile, labMessage, mllpFrame, newBsn, uid } from './fixtures/ingest/messages.ts';

/** The ingestion CLI run as a child process (the same Node) against the running service. */

const CLI = path.resolve(import.meta.dirname, '..', 'ingestion', 'cli.ts');
let server: TestServer;
let dir: string;
const bsn = newBsn();

beforeAll(async () => {
  server = await startTestServer();
  dir = await mkdtemp(path.join(tmpdir(), 'idr-cli-'));
  const lab = (): string => {
    const id = uid();
    return labMessage({ controlId: id, bsn, filler: `F-${id}` });
  };
  await writeFile(path.join(dir, 'single.hl7'), lab());
  await writeFile(path.join(dir, 'framed.mllp'), Buffer.concat([mllpFrame(lab()), mllpFrame(lab())]));
  await writeFile(path.join(dir, 'batch.hl7'), batchFile([lab(), lab()]));
  await writeFile(path.join(dir, 'bad.hl7'), labMessage({ controlId: uid(), bsn, filler: `F-${uid()}`, version: '2.2' }));
});
afterAll(async () => {
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function cli(args: string[], cwd = dir, credentials: Record<string, string> = { IDR_CLIENT_ID: TEST_CLIENT.id, IDR_CLIENT_SECRET: TEST_CLIENT.secret }): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env, ...credentials };
  if (!credentials.IDR_CLIENT_ID) delete env.IDR_CLIENT_ID;
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args, '--server', server.url], { cwd, timeout: 60_000, env }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr });
    });
  });
}
const lineOf = (out: string, file: string): string => out.split('\n').find((l) => l.startsWith(`${file}:`)) ?? `(no line for ${file})`;

describe('node ingestion/cli.ts', () => {
  let badInboxId = '';

  it('signs in with client credentials; without any it is refused, and a wrong secret is named', async () => {
    const anonymous = await cli(['failed'], dir, {});
    expect(anonymous.code).not.toBe(0);
    expect(anonymous.stderr + anonymous.stdout).toMatch(/401|bearer token/i);
    const wrong = await cli(['failed'], dir, { IDR_CLIENT_ID: TEST_CLIENT.id, IDR_CLIENT_SECRET: 'not-the-secret' });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain(`cannot sign in to ${server.url}: no token from`);
  });

  it('ingests a folder: a summary per file, a FAILED line naming the location, exit 1 because of the bad file', async () => {
    const r = await cli(['ingest', dir]);
    expect(r.code).toBe(1);
    expect(lineOf(r.stdout, 'single.hl7')).toBe('single.hl7: ok 1, duplicate 0, failed 0');
    expect(lineOf(r.stdout, 'framed.mllp')).toBe('framed.mllp: ok 2, duplicate 0, failed 0');
    expect(lineOf(r.stdout, 'batch.hl7')).toBe('batch.hl7: ok 2, duplicate 0, failed 0');
    expect(lineOf(r.stdout, 'bad.hl7')).toBe('bad.hl7: ok 0, duplicate 0, failed 1');
    const failed = /^ {2}FAILED message 1: MSH-12: version "2\.2".*\(inbox ([0-9a-f-]{36})\)$/m.exec(r.stdout);
    expect(failed, r.stdout).not.toBeNull();
    badInboxId = failed?.[1] ?? '';
    expect(r.stdout).toContain('total: 4 file(s), 6 message(s): ok 5, duplicate 0, failed 1');
    expect(r.stderr).toMatch(/\] 6\/6 ok 5 dup 0 failed 1/);
    const pid = await patientIdByBsn(server.fhir, bsn);
    expect(await countOf(server.fhir, `DiagnosticReport?subject=Patient/${pid}`)).toBe(5);
  });

  it('run again: every good message is a duplicate, nothing new is written', async () => {
    const pid = await patientIdByBsn(server.fhir, bsn);
    const before = await countOf(server.fhir, `Observation?subject=Patient/${pid}`);
    const r = await cli(['ingest', dir]);
    expect(r.code).toBe(1);
    expect(lineOf(r.stdout, 'single.hl7')).toBe('single.hl7: ok 0, duplicate 1, failed 0');
    expect(lineOf(r.stdout, 'framed.mllp')).toBe('framed.mllp: ok 0, duplicate 2, failed 0');
    expect(lineOf(r.stdout, 'batch.hl7')).toBe('batch.hl7: ok 0, duplicate 2, failed 0');
    expect(r.stdout).toContain('ok 0, duplicate 5, failed 1');
    expect(await countOf(server.fhir, `Observation?subject=Patient/${pid}`)).toBe(before);
  });

  it('"failed" lists the failed input with its location and reason', async () => {
    const r = await cli(['failed']);
    expect(r.code).toBe(0);
    const line = r.stdout.split('\n').find((l) => l.startsWith(badInboxId));
    expect(line).toMatch(/hl7v2\/http {2}MSH-12: version "2\.2"/);
    expect(r.stdout).toMatch(/^2 failed input\(s\)$/m);
  });

  it('"reprocess" by id and with --all-failed runs and reports each result', async () => {
    const one = await cli(['reprocess', badInboxId]);
    expect(one.code).toBe(1);
    expect(one.stdout.trim()).toMatch(new RegExp(`^${badInboxId} {2}failed {2}MSH-12: `));
    const all = await cli(['reprocess', '--all-failed']);
    expect(all.code).toBe(1);
    const lines = all.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines.every((l) => / {2}failed {2}MSH-12: /.test(l))).toBe(true);
    const usage = await cli(['reprocess']);
    expect(usage.code).toBe(2);
  });

  it('expands a glob argument itself', async () => {
    const globDir = await mkdtemp(path.join(dir, 'glob-'));
    const other = newBsn();
    for (const name of ['lab-a.hl7', 'lab-b.hl7', 'other.hl7']) {
      const id = uid();
      await writeFile(path.join(globDir, name), labMessage({ controlId: id, bsn: other, filler: `F-${id}` }));
    }
    const r = await cli(['ingest', `${path.basename(globDir)}/lab-*.hl7`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${path.basename(globDir)}/lab-a.hl7: ok 1, duplicate 0, failed 0`);
    expect(r.stdout).toContain(`${path.basename(globDir)}/lab-b.hl7: ok 1, duplicate 0, failed 0`);
    expect(r.stdout).not.toContain('other.hl7');
    expect(r.stdout).toContain('total: 2 file(s), 2 message(s): ok 2, duplicate 0, failed 0');
    const missing = await cli(['ingest', 'nothing-*.hl7']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('not found: nothing-*.hl7');
  });
});
