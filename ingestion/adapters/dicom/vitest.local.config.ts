import { defineConfig } from 'vitest/config';

export default defineConfig({ test: { include: ['ingestion/adapters/dicom/**/*.test.ts', 'ingestion/adapters/documents/**/*.test.ts'] } });
