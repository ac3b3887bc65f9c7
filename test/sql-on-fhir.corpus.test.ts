import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Resource } from '@medplum/fhirtypes';
import { compileView, runView, type Row } from '../fhir/view-definition.ts';
import { corpusRoot } from './support/corpus.ts';

/**
 * The official SQL on FHIR v2 test cases (../shared/corpus/sql-on-fhir-v2/tests, `make test-corpus`):
 * every case of every file through IDR's ViewDefinition runner, one test per case. Rows are
 * compared as a multiset (the specification leaves row order open); `expectColumns` in order.
 */

interface TestCase {
  title: string;
  view: unknown;
  expect?: Row[];
  expectColumns?: string[];
  expectError?: boolean;
}

const DIR = path.join(corpusRoot(), 'sql-on-fhir-v2', 'tests');
if (!existsSync(DIR)) throw new Error(`sample corpus folder missing: ${DIR} (expected ../shared/corpus beside the repository, or set IDR_CORPUS_DIR)`);

/** A row as sorted-key JSON, so rows compare whatever order their keys came in. */
const canonical = (rows: Row[]): string[] => rows.map((r) => JSON.stringify(Object.fromEntries(Object.entries(r).sort(([a], [b]) => a.localeCompare(b))))).sort();

for (const file of readdirSync(DIR).filter((f) => f.endsWith('.json')).sort()) {
  const suite = JSON.parse(readFileSync(path.join(DIR, file), 'utf8')) as { title: string; resources: Resource[]; tests: TestCase[] };
  describe(`${file}: ${suite.title}`, () => {
    for (const t of suite.tests) {
      it(t.title, () => {
        const run = (): Row[] => [...runView(compileView(t.view), suite.resources)];
        if (t.expectError) {
          expect(run).toThrow();
          return;
        }
        const view = compileView(t.view);
        const rows = [...runView(view, suite.resources)];
        expect(canonical(rows)).toEqual(canonical(t.expect ?? []));
        if (t.expectColumns) expect(view.columns.map((c) => c.name)).toEqual(t.expectColumns);
      });
    }
  });
}
