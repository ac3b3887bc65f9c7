/**
 * A real DICOMweb server for the test suite: Debian's Orthanc with its DICOMweb plugin, started
 * directly (never the system service) on a free loopback port, with its storage in a temp dir.
 *
 * Install once with `scripts/install-orthanc.sh` (Debian packages orthanc, orthanc-dicomweb,
 * dcmtk, python3-pydicom). Locations can be overridden with ORTHANC_BIN,
 * ORTHANC_DICOMWEB_PLUGIN, DCMODIFY_BIN and PYDICOM_TEST_FILES.
 *
 * Notes on Orthanc 1.10 (Debian 12): it has no bind-address option, so its HTTP server listens on
 * all interfaces; `RemoteAccessAllowed: false` makes it refuse every client that is not loopback.
 * The DICOM (DIMSE) server is disabled, so only one port is used.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface OrthancInstance {
  /** Orthanc's REST root, e.g. http://127.0.0.1:41234 */
  baseUrl: string;
  /** DICOMweb root (QIDO-RS / WADO-RS / STOW-RS), e.g. http://127.0.0.1:41234/dicom-web */
  dicomWebUrl: string;
  /** Kills the server and removes its temp dir (storage, index, config, log). Idempotent. */
  stop(): Promise<void>;
  /** Stores one DICOM Part 10 file through Orthanc's REST API (POST /instances). */
  upload(bytes: Uint8Array): Promise<OrthancUploadResult>;
}

export interface OrthancUploadResult {
  ID: string;
  ParentStudy: string;
  ParentSeries?: string;
  ParentPatient?: string;
  Path?: string;
  /** 'Success' or 'AlreadyStored' */
  Status?: string;
}

export interface StartOrthancOptions {
  /** HTTP port; a free loopback port is picked when omitted. */
  port?: number;
  /** Milliseconds to wait for GET /system to answer (default 30 000). */
  startTimeoutMs?: number;
}

const DEFAULT_PLUGIN_CANDIDATES = ['/usr/share/orthanc/plugins/libOrthancDicomWeb.so', '/usr/lib/orthanc/libOrthancDicomWeb.so'];
const DEFAULT_PYDICOM_DIRS = [
  '/usr/lib/python3/dist-packages/pydicom/data/test_files',
  '/usr/local/lib/python3/dist-packages/pydicom/data/test_files',
];

function onPath(name: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/** Path of the Orthanc binary, or undefined when it is not installed. */
export function findOrthancBinary(): string | undefined {
  const env = process.env['ORTHANC_BIN'];
  if (env) return existsSync(env) ? env : undefined;
  return onPath('Orthanc') ?? (existsSync('/usr/sbin/Orthanc') ? '/usr/sbin/Orthanc' : undefined);
}

/** Path of the DICOMweb plugin shared library, or undefined when it is not installed. */
export function findDicomWebPlugin(): string | undefined {
  const env = process.env['ORTHANC_DICOMWEB_PLUGIN'];
  if (env) return existsSync(env) ? env : undefined;
  for (const p of DEFAULT_PLUGIN_CANDIDATES) if (existsSync(p)) return p;
  // Debian installs the versioned library in /usr/lib/orthanc (libOrthancDicomWeb.so.1.7).
  if (existsSync('/usr/lib/orthanc')) {
    const hit = readdirSync('/usr/lib/orthanc').find((f) => f.startsWith('libOrthancDicomWeb.so'));
    if (hit) return join('/usr/lib/orthanc', hit);
  }
  return undefined;
}

function findDcmodify(): string | undefined {
  const env = process.env['DCMODIFY_BIN'];
  if (env) return existsSync(env) ? env : undefined;
  return onPath('dcmodify') ?? (existsSync('/usr/bin/dcmodify') ? '/usr/bin/dcmodify' : undefined);
}

function pydicomDirs(): string[] {
  const env = process.env['PYDICOM_TEST_FILES'];
  return env ? [env] : DEFAULT_PYDICOM_DIRS;
}

/**
 * What is missing for the Orthanc-based tests, as a sentence; null when everything is installed.
 */
export function orthancMissing(): string | null {
  const missing: string[] = [];
  if (!findOrthancBinary()) missing.push('the Orthanc binary');
  if (!findDicomWebPlugin()) missing.push('the Orthanc DICOMweb plugin (libOrthancDicomWeb.so)');
  if (!findDcmodify()) missing.push("dcmtk's dcmodify");
  if (!pydicomDirs().some((d) => existsSync(join(d, 'CT_small.dcm')))) missing.push("pydicom's test files");
  if (missing.length === 0) return null;
  return `${missing.join(', ')} not found: run scripts/install-orthanc.sh (as root)`;
}

/** Absolute path of one of python3-pydicom's bundled DICOM test files, e.g. 'CT_small.dcm'. */
export function findPydicomTestFile(name: string): string {
  for (const dir of pydicomDirs()) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  throw new Error(`pydicom test file ${name} not found in ${pydicomDirs().join(', ')}: run scripts/install-orthanc.sh`);
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('could not determine a free port'))));
    });
  });
}

/**
 * Writes a copy of `srcPath` to `outPath` with the given attributes set (inserted or
 * overwritten) by dcmtk's dcmodify. Keys are tags "(gggg,eeee)" or dictionary names
 * ("PatientID"); values are DICOM string values ("20240131", "DOE^JANE", ...).
 * New StudyInstanceUID, SeriesInstanceUID and SOPInstanceUID are generated unless the
 * corresponding UID is among `tags` or switched off in `opts` (e.g. to add a second instance to
 * an existing series, pass its StudyInstanceUID and SeriesInstanceUID).
 */
export async function makeDicomVariant(
  srcPath: string,
  outPath: string,
  tags: Record<string, string>,
  opts: { newStudyUid?: boolean; newSeriesUid?: boolean; newInstanceUid?: boolean } = {},
): Promise<string> {
  const dcmodify = findDcmodify();
  if (!dcmodify) throw new Error("dcmtk's dcmodify not found: run scripts/install-orthanc.sh");
  const keys = new Set(Object.keys(tags).map((k) => k.replace(/\s+/g, '').toUpperCase()));
  const has = (name: string, tag: string) => keys.has(name.toUpperCase()) || keys.has(tag);
  const args = ['--no-backup'];
  if (opts.newStudyUid !== false && !has('StudyInstanceUID', '(0020,000D)')) args.push('--gen-stud-uid');
  if (opts.newSeriesUid !== false && !has('SeriesInstanceUID', '(0020,000E)')) args.push('--gen-ser-uid');
  if (opts.newInstanceUid !== false && !has('SOPInstanceUID', '(0008,0018)')) args.push('--gen-inst-uid');
  for (const [key, value] of Object.entries(tags)) {
    if (/[\r\n]/.test(value)) throw new Error(`makeDicomVariant: value for ${key} contains a line break`);
    args.push('--insert', `${key}=${value}`);
  }
  await copyFile(srcPath, outPath);
  args.push(outPath);
  try {
    await execFileAsync(dcmodify, args, { timeout: 30_000 });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`dcmodify failed on ${outPath}: ${(e.stderr || e.stdout || e.message).trim()}`, { cause: err });
  }
  return outPath;
}

// Instances still running when the test process exits are killed, so no Orthanc outlives a run.
const running = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
}

class LogTail {
  private buf = '';
  private readonly max: number;
  constructor(max = 16_000) {
    this.max = max;
  }
  push(chunk: Buffer | string): void {
    this.buf += chunk.toString();
    if (this.buf.length > this.max * 2) this.buf = this.buf.slice(-this.max);
  }
  tail(lines = 40): string {
    return this.buf.split('\n').slice(-lines).join('\n').trim();
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Writes `dir/<name>.dcm`, a variant of a pydicom test file with these tags (makeDicomVariant, new
 * UIDs), stores it in Orthanc and returns its StudyInstanceUID.
 */
export async function uploadVariant(orthanc: OrthancInstance, dir: string, name: string, src: string, tags: Record<string, string>): Promise<string> {
  const out = await makeDicomVariant(findPydicomTestFile(src), join(dir, `${name}.dcm`), tags);
  const r = await orthanc.upload(await readFile(out));
  const study = (await (await fetch(`${orthanc.baseUrl}/studies/${r.ParentStudy}`)).json()) as { MainDicomTags: { StudyInstanceUID: string } };
  return study.MainDicomTags.StudyInstanceUID;
}

class PortInUseError extends Error {
  override name = 'PortInUseError';
}

/** Starts a private Orthanc with the DICOMweb plugin; resolves once GET /system answers. */
export async function startOrthanc(opts: StartOrthancOptions = {}): Promise<OrthancInstance> {
  const missing = orthancMissing();
  const bin = findOrthancBinary();
  const plugin = findDicomWebPlugin();
  if (!bin || !plugin) throw new Error(`cannot start Orthanc: ${missing ?? 'not installed'}`);
  // A picked port can be taken between picking and binding; retry then with another one.
  const attempts = opts.port ? 1 : 3;
  let lastErr: unknown;
  for (let i = 0; i < attempts; i++) {
    const port = opts.port ?? (await freePort());
    try {
      return await startOnce(bin, plugin, port, opts.startTimeoutMs ?? 30_000);
    } catch (err) {
      lastErr = err;
      if (!(err instanceof PortInUseError)) throw err;
    }
  }
  throw lastErr;
}

async function startOnce(bin: string, plugin: string, port: number, startTimeoutMs: number): Promise<OrthancInstance> {
  const dir = await mkdtemp(join(tmpdir(), 'idr-orthanc-'));
  const baseUrl = `http://127.0.0.1:${port}`;
  const config = {
    Name: `IDR-test-${port}`,
    StorageDirectory: join(dir, 'storage'),
    IndexDirectory: join(dir, 'index'),
    HttpServerEnabled: true,
    HttpPort: port,
    RemoteAccessAllowed: false,
    AuthenticationEnabled: false,
    SslEnabled: false,
    DicomServerEnabled: false,
    DicomPort: 0,
    SaveJobs: false,
    HttpThreadsCount: 10,
    ConcurrentJobs: 1,
    StableAge: 1,
    LimitFindResults: 0,
    LimitFindInstances: 0,
    DefaultEncoding: 'Utf8',
    Plugins: [plugin],
    DicomWeb: {
      Enable: true,
      Root: '/dicom-web/',
      EnableWado: true,
      WadoRoot: '/wado',
      Ssl: false,
      // Read non-main tags from the stored files so includefield works for any attribute.
      StudiesMetadata: 'Full',
      SeriesMetadata: 'Full',
    },
  };
  const configPath = join(dir, 'orthanc.json');
  await writeFile(configPath, JSON.stringify(config, null, 2));

  installExitHook();
  const log = new LogTail();
  const child = spawn(bin, [configPath], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  child.stdout?.on('data', (c: Buffer) => log.push(c));
  child.stderr?.on('data', (c: Buffer) => log.push(c));
  let exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  let spawnError: Error | null = null;
  const exitPromise = new Promise<void>((resolve) => {
    // 'close' (not 'exit'): stdout/stderr are drained by then, so the log tail is complete.
    child.once('close', (code, signal) => {
      exited = { code, signal };
      running.delete(child);
      resolve();
    });
    child.once('error', (err) => {
      spawnError = err;
      running.delete(child);
      resolve();
    });
  });

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (!exited && !spawnError) {
      // Everything it stored is thrown away with the temp dir, so there is nothing to shut down
      // cleanly; SIGTERM costs ~2.5 s per instance, SIGKILL a few ms.
      child.kill('SIGKILL');
      await exitPromise;
    }
    await rm(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + startTimeoutMs;
  for (;;) {
    if (spawnError || exited) {
      const tail = log.tail();
      await stop();
      const why = spawnError ? `could not run ${bin}: ${(spawnError as Error).message}` : `Orthanc exited (${JSON.stringify(exited)})`;
      if (/already in use/i.test(tail)) {
        throw new PortInUseError(`${why} on port ${port}; log tail:\n${tail}`);
      }
      throw new Error(`${why} before answering on ${baseUrl}; log tail:\n${tail}`);
    }
    try {
      const res = await fetch(`${baseUrl}/system`, { signal: AbortSignal.timeout(1_000) });
      if (res.ok) {
        await res.json();
        break;
      }
      await res.body?.cancel();
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      const tail = log.tail();
      await stop();
      throw new Error(`Orthanc did not answer GET ${baseUrl}/system within ${startTimeoutMs} ms; log tail:\n${tail}`);
    }
    await sleep(100);
  }

  const upload = async (bytes: Uint8Array): Promise<OrthancUploadResult> => {
    const res = await fetch(`${baseUrl}/instances`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/dicom' },
      body: new Uint8Array(bytes),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`Orthanc refused the upload: HTTP ${res.status}: ${text.slice(0, 500)}`);
    const parsed = JSON.parse(text) as OrthancUploadResult;
    if (!parsed.ID || !parsed.ParentStudy) throw new Error(`unexpected Orthanc upload answer: ${text.slice(0, 500)}`);
    return parsed;
  };

  return { baseUrl, dicomWebUrl: `${baseUrl}/dicom-web`, stop, upload };
}
