/**
 * Fails when relative imports form a cycle or cross the layers DESIGN.md allows
 * (api -> ingestion -> fhir -> timeline -> store -> schema; nothing imports upwards).
 * Usage: node tools/check-cycles.ts
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');
const DIRS = ['api', 'ingestion', 'fhir', 'timeline', 'store', 'schema', 'seed', 'tools', 'bench', 'web'];
const IMPORT_RE = /(?:import|export)\s+(?:type\s+)?(?:[^'"]*?\sfrom\s+)?['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

function files(dir: string): string[] {
  const abs = path.join(ROOT, dir);
  let out: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(abs);
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = path.join(abs, e);
    if (statSync(p).isDirectory()) out = out.concat(files(path.join(dir, e)));
    else if (p.endsWith('.ts') && !p.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const graph = new Map<string, string[]>();
for (const file of DIRS.flatMap(files)) {
  const text = readFileSync(file, 'utf8');
  const deps: string[] = [];
  for (const m of text.matchAll(IMPORT_RE)) {
    const spec = m[1] ?? m[2];
    if (!spec) continue;
    // type-only imports cannot form runtime cycles, but layering applies to them too
    deps.push(path.resolve(path.dirname(file), spec));
  }
  graph.set(file, deps);
}

const layer = (f: string): string => path.relative(ROOT, f).split(path.sep)[0] ?? '';
const FORBIDDEN: Record<string, string[]> = {
  schema: ['api', 'ingestion', 'fhir', 'timeline', 'store', 'seed'],
  store: ['api', 'ingestion', 'fhir', 'timeline', 'seed'],
  timeline: ['api', 'ingestion', 'fhir', 'seed'],
  fhir: ['api', 'ingestion', 'seed'],
  ingestion: ['api', 'seed'],
};
const problems: string[] = [];
for (const [file, deps] of graph) {
  for (const d of deps) {
    if (FORBIDDEN[layer(file)]?.includes(layer(d))) problems.push(`layering: ${path.relative(ROOT, file)} imports ${path.relative(ROOT, d)}`);
  }
}

const state = new Map<string, 1 | 2>();
const stack: string[] = [];
function visit(f: string): void {
  state.set(f, 1);
  stack.push(f);
  for (const d of graph.get(f) ?? []) {
    if (!graph.has(d)) continue;
    const s = state.get(d);
    if (s === 1) problems.push(`cycle: ${stack.slice(stack.indexOf(d)).concat(d).map((x) => path.relative(ROOT, x)).join(' -> ')}`);
    else if (s === undefined) visit(d);
  }
  stack.pop();
  state.set(f, 2);
}
for (const f of graph.keys()) if (!state.has(f)) visit(f);

if (problems.length) {
  process.stderr.write(`${problems.join('\n')}\n`);
  process.exit(1);
}
process.stdout.write(`import check: ${graph.size} modules, no cycles, layering respected\n`);
