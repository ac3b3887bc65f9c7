/**
 * Runs fuzz cases in a worker thread, so the test can stop a case that hangs (a synchronous loop
 * cannot be interrupted from inside) and name it. Posts `case` before each case and `done` with
 * the counts and findings at the end.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { classify, describeCase, fuzzCase, loadFuzzCorpus } from './fuzz-cases.ts';

/** What the test hands the worker. */
export interface FuzzWorkerInput {
  seed: number;
  cases: number;
  /** HL7 v2 messages mutated beside the fixtures (the seed generator's; ingestion/ may not import seed/). */
  hl7Messages: { name: string; text: string }[];
}

/** What the worker posts. */
export type FuzzWorkerMessage =
  | { type: 'case'; index: number; description: string }
  | { type: 'done'; counts: Record<string, number>; findings: string[] };

const { seed, cases, hl7Messages } = workerData as FuzzWorkerInput;
const corpus = loadFuzzCorpus(hl7Messages);
const counts: Record<string, number> = {};
const findings: string[] = [];
for (let index = 0; index < cases; index++) {
  parentPort?.postMessage({ type: 'case', index, description: `seed ${seed} case ${index} (while making the mutant)` } satisfies FuzzWorkerMessage);
  const fc = fuzzCase(corpus, seed, index);
  const description = describeCase(fc);
  parentPort?.postMessage({ type: 'case', index, description } satisfies FuzzWorkerMessage);
  const outcome = await classify(fc);
  const key = `${fc.kind}:${outcome.result}`;
  counts[key] = (counts[key] ?? 0) + 1;
  if (outcome.result === 'finding') findings.push(`${description}\n  -> ${outcome.error}`);
}
parentPort?.postMessage({ type: 'done', counts, findings } satisfies FuzzWorkerMessage);
