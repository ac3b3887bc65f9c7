import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedDb } from '../store/embedded-db.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    mongoUrl: string;
  }
}

/**
 * Starts one embedded database for the whole run (unless MONGODB_URL points at a real MongoDB);
 * each test file then uses its own database on it, over TCP.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const external = process.env.MONGODB_URL;
  if (external) {
    project.provide('mongoUrl', external);
    return async () => {};
  }
  const dataDir = await mkdtemp(path.join(tmpdir(), 'idr-test-db-'));
  const db = await startEmbeddedDb({ dataDir, ...(process.env.IDR_CACHE_DIR ? { cacheDir: process.env.IDR_CACHE_DIR } : {}), ...(process.env.IDR_DB_LOG_LEVEL ? { logLevel: process.env.IDR_DB_LOG_LEVEL } : {}) });
  project.provide('mongoUrl', db.url);
  return async () => {
    await db.stop();
    await rm(dataDir, { recursive: true, force: true });
  };
}
