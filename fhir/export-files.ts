import { chmod, mkdir, open, readdir, readFile, rm, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';

/**
 * Where bulk export files live: `<root>/<job id>/<Type>.ndjson` (root = IDR_DATA_DIR/exports),
 * directories 0700 and files 0600, so only IDR's own account reads them. Each job directory holds
 * `job.json` with its times; a finished export expires `expiryHours` after it completed, an
 * unfinished one (its process stopped) is removed at the next start.
 * See: https://hl7.org/fhir/uv/bulkdata/export.html#file-request
 */

interface JobTimes {
  createdAt: string;
  completedAt?: string;
  expiresAt?: string;
}

const JOB_ID = /^[A-Za-z0-9-]{1,64}$/;
const FILE_NAME = /^[A-Z][A-Za-z]{1,63}\.ndjson$/;

export class ExportFiles {
  readonly root: string;
  private readonly expiryMs: number;

  constructor(root: string, expiryHours: number) {
    this.root = root;
    this.expiryMs = expiryHours * 3_600_000;
  }

  /** Creates the (empty) directory of a job and returns its path. */
  async create(jobId: string): Promise<string> {
    const dir = this.dirOf(jobId);
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    await chmod(this.root, 0o700);
    await mkdir(dir, { mode: 0o700 });
    await this.writeTimes(dir, { createdAt: new Date().toISOString() });
    return dir;
  }

  /** Marks a job's files complete; they expire after the configured time. Returns the expiry. */
  async complete(jobId: string): Promise<Date> {
    const dir = this.dirOf(jobId);
    const times = await readTimes(dir);
    const now = new Date();
    const expiresAt = new Date(now.getTime() + this.expiryMs);
    await this.writeTimes(dir, { createdAt: times?.createdAt ?? now.toISOString(), completedAt: now.toISOString(), expiresAt: expiresAt.toISOString() });
    return expiresAt;
  }

  /** When a completed job's files expire, or undefined when the job has no (complete, unexpired) files. */
  async expiresAt(jobId: string): Promise<Date | undefined> {
    if (!JOB_ID.test(jobId)) return undefined;
    const times = await readTimes(this.dirOf(jobId));
    if (!times?.expiresAt) return undefined;
    const at = new Date(times.expiresAt);
    return at.getTime() > Date.now() ? at : undefined;
  }

  /** The path of one file of a completed job, or undefined when the name is not an export file name. */
  filePath(jobId: string, name: string): string | undefined {
    if (!JOB_ID.test(jobId) || !FILE_NAME.test(name)) return undefined;
    return path.join(this.dirOf(jobId), name);
  }

  /** Opens a new file of a job for writing (0600; fails if it exists). */
  async openFile(jobId: string, name: string): Promise<FileHandle> {
    const file = this.filePath(jobId, name);
    if (!file) throw new Error(`not an export file name: ${name}`);
    return open(file, 'wx', 0o600);
  }

  /** Removes a job's directory and files (cancel, failure, expiry). */
  async remove(jobId: string): Promise<void> {
    if (!JOB_ID.test(jobId)) return;
    await rm(this.dirOf(jobId), { recursive: true, force: true });
  }

  /**
   * Removes expired exports; with `unfinished`, also those never completed (at start-up, when no
   * job of this process can be writing). Returns how many directories were removed.
   */
  async cleanup(options: { unfinished?: boolean } = {}): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.root);
    } catch {
      return 0;
    }
    let removed = 0;
    const now = Date.now();
    for (const name of names) {
      if (!JOB_ID.test(name)) continue;
      const dir = this.dirOf(name);
      const times = await readTimes(dir);
      const created = times ? Date.parse(times.createdAt) : (await stat(dir).catch(() => undefined))?.mtimeMs ?? 0;
      const expired = times?.expiresAt ? Date.parse(times.expiresAt) <= now : options.unfinished === true || now - created > 2 * this.expiryMs;
      if (!expired) continue;
      await rm(dir, { recursive: true, force: true });
      removed++;
    }
    return removed;
  }

  private dirOf(jobId: string): string {
    return path.join(this.root, jobId);
  }

  private async writeTimes(dir: string, times: JobTimes): Promise<void> {
    const fh = await open(path.join(dir, 'job.json'), 'w', 0o600);
    try {
      await fh.writeFile(JSON.stringify(times));
    } finally {
      await fh.close();
    }
  }
}

async function readTimes(dir: string): Promise<JobTimes | undefined> {
  try {
    return JSON.parse(await readFile(path.join(dir, 'job.json'), 'utf8')) as JobTimes;
  } catch {
    return undefined;
  }
}
