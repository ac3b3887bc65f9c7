import { defineConfig } from 'vitest/config';

/** Tests that read the third-party sample corpus (../shared/corpus); run by `make test-corpus` only. */
export const CORPUS_TESTS = '**/*.corpus.test.ts';

/** Settings shared by `make test` (this file) and `make test-corpus` (vitest.corpus.config.ts). */
export const shared = {
  exclude: ['node_modules/**', '.cache/**', 'data/**'],
  globalSetup: ['test/global-setup.ts'],
  testTimeout: 30_000,
  hookTimeout: 120_000,
  // Integration tests share one embedded database; files run in parallel workers against it.
  fileParallelism: true,
  maxWorkers: 2,
};

export default defineConfig({
  test: {
    ...shared,
    include: ['**/*.test.ts'],
    // Needs nothing beside the repository: the corpus tests have their own target.
    exclude: [...shared.exclude, CORPUS_TESTS],
  },
});
