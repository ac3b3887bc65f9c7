import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { seedHl7Messages } from '../../seed/hl7v2/index.ts';
import { FUZZ_KINDS } from './testing/fuzz-cases.ts';
import type { FuzzWorkerInput, FuzzWorkerMessage } from './testing/fuzz-worker.ts';

/**
 * Mutation fuzzing of the pure adapters (HL7 v2 ORU and MDM, DICOM Part 10, QIDO-RS JSON, C-CDA, PDF, text):
 * thousands of seeded mutants of the project's fixtures and seed messages (see testing/mutator.ts).
 * Every case must either give a Bundle or be refused with an AdapterError naming a location:
 * no TypeError or RangeError, no refusal without a location, no case running past CASE_BOUND_MS.
 * More seeds on demand: IDR_FUZZ_SEEDS=7,8,9 (and IDR_FUZZ_CASES for cases per seed).
 * A finding is reproduced with fuzzCase(loadFuzzCorpus(SEED_MESSAGES), seed, index); its smallest form
 * is kept as a test in fuzz-regressions.test.ts.
 */

const SEEDS = [1, 2, 20250101];
const EXTRA_SEEDS = (process.env.IDR_FUZZ_SEEDS ?? '').split(',').map((s) => s.trim()).filter(Boolean).map(Number);
const CASES = Number(process.env.IDR_FUZZ_CASES ?? 3000);
/** A case still running after this long counts as a hang (the slowest pass in well under a second). */
const CASE_BOUND_MS = 20_000;
/** A dozen generated lab and pathology messages, spread over two synthetic patients' histories. */
const SEED_MESSAGES = seedHl7Messages({ count: 2 }).filter((_, i) => i % 4 === 0).slice(0, 12).map((m) => ({ name: `seed/${m.name}`, text: m.text }));

interface SeedRun {
  counts: Record<string, number>;
  findings: string[];
}

/** Runs one seed's cases in a worker; rejects naming the case when one hangs or kills the worker. */
function runSeed(seed: number, cases: number): Promise<SeedRun> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./testing/fuzz-worker.ts', import.meta.url), { workerData: { seed, cases, hl7Messages: SEED_MESSAGES } satisfies FuzzWorkerInput });
    let current = `seed ${seed}: before the first case`;
    let timer: NodeJS.Timeout | undefined;
    const finish = (err: Error | undefined, run?: SeedRun): void => {
      clearTimeout(timer);
      void worker.terminate();
      if (err) reject(err);
      else resolve(run as SeedRun);
    };
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => finish(new Error(`hang: ${current} did not finish within ${CASE_BOUND_MS} ms`)), CASE_BOUND_MS);
    };
    arm();
    worker.on('message', (m: FuzzWorkerMessage) => {
      if (m.type === 'case') {
        current = m.description;
        arm();
      } else {
        finish(undefined, { counts: m.counts, findings: m.findings });
      }
    });
    worker.on('error', (err) => finish(new Error(`the worker crashed during ${current}: ${err.stack ?? err.message}`)));
    worker.on('exit', (code) => finish(new Error(`the worker exited (code ${code}) during ${current}`)));
  });
}

describe('adapter mutation fuzzing', () => {
  it.each([...SEEDS, ...EXTRA_SEEDS])('seed %i: every mutant gives a Bundle or a located refusal, none hangs', async (seed) => {
    const { counts, findings } = await runSeed(seed, CASES);
    expect(findings).toEqual([]);
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    expect(total).toBe(CASES);
    // The mix reaches every kind, and both outcomes: mutants the adapters still map and mutants they refuse.
    for (const kind of Object.values(FUZZ_KINDS)) expect((counts[`${kind}:bundle`] ?? 0) + (counts[`${kind}:refused`] ?? 0), kind).toBeGreaterThan(0);
    for (const kind of ['hl7v2', 'dicom', 'ccda']) {
      expect(counts[`${kind}:bundle`], `${kind} mapped`).toBeGreaterThan(0);
      expect(counts[`${kind}:refused`], `${kind} refused`).toBeGreaterThan(0);
    }
  }, 180_000);
});
