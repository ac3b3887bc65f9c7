import { defineConfig } from 'vitest/config';
export default defineConfig({ test: { include: ['test/support/orthanc.test.ts', 'ingestion/listeners/dicomweb-client.test.ts'], testTimeout: 30_000, hookTimeout: 60_000 } });
