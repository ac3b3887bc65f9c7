/**
 * Writes the seed's HL7 v2 messages to a folder, one `.hl7` file per message (segments separated
 * by CR), named so that `ls` lists them in the order they were sent.
 *
 * Usage: node seed/write-hl7.ts <outdir> [--seed N] [--patients N]
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_SEED, seedHl7Messages } from './hl7v2/index.ts';

const USAGE = 'usage: node seed/write-hl7.ts <outdir> [--seed N] [--patients N]';

function integerOption(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value)) throw new Error(`--${name} must be a non-negative integer, got "${value}"\n${USAGE}`);
  return Number(value);
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { seed: { type: 'string' }, patients: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const outDir = positionals[0];
  if (!outDir || positionals.length > 1) throw new Error(USAGE);
  const seed = integerOption('seed', values.seed, DEFAULT_SEED);
  const count = integerOption('patients', values.patients, 4);
  const messages = seedHl7Messages({ seed, count });
  await mkdir(outDir, { recursive: true });
  for (const m of messages) await writeFile(join(outDir, m.name), m.text, 'utf8');
  console.log(`wrote ${messages.length} messages for ${count} patients (seed ${seed}) to ${outDir}`);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
