import type { Pipeline } from '../ingestion/pipeline.ts';
import { seedHl7Messages } from './hl7v2/index.ts';

export interface DemoSummary {
  messages: number;
  processed: number;
  duplicate: number;
  failed: number;
  failures: string[];
}

/**
 * Loads the synthetic demo patients through the real ingestion pipeline (inbox, adapters,
 * patient matching, Provenance). Idempotent: loading twice stores the raw messages again but
 * writes nothing new (they are duplicates).
 */
export async function loadDemoData(services: { pipeline: Pipeline }, options: { seed?: number; patients?: number } = {}): Promise<DemoSummary> {
  const summary: DemoSummary = { messages: 0, processed: 0, duplicate: 0, failed: 0, failures: [] };
  const messages = seedHl7Messages({ ...(options.seed !== undefined ? { seed: options.seed } : {}), ...(options.patients !== undefined ? { count: options.patients } : {}) });
  for (const m of messages) {
    const r = await services.pipeline.ingest({ bytes: Buffer.from(m.text, 'utf8'), kind: 'hl7v2', source: 'seed', origin: m.name });
    summary.messages++;
    summary[r.status]++;
    if (r.status === 'failed') summary.failures.push(`${m.name}: ${r.error?.location ? `${r.error.location}: ` : ''}${r.error?.message}`);
  }
  return summary;
}
