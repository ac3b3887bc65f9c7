import { defineConfig } from 'vitest/config';
import { CORPUS_TESTS, shared } from './vitest.config.ts';

/** `make test-corpus`: the tests that read ../shared/corpus (or IDR_CORPUS_DIR); fails at once when it is missing. */
export default defineConfig({
  test: {
    ...shared,
    include: [CORPUS_TESTS],
    globalSetup: ['test/corpus-setup.ts', ...shared.globalSetup],
  },
});
