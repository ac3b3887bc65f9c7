import { glob, readdir, stat } from 'node:fs/promises';
import path from 'node:path';

const HL7_EXTENSIONS = new Set(['.hl7', '.er7', '.txt', '.mllp', '.msg', '.dat', '']);

/**
 * Expands CLI arguments into a sorted list of files: plain files as given, folders recursively
 * (files with HL7-ish extensions), and glob patterns (e.g. "feeds/2025-*.hl7").
 */
export async function expandInputs(args: string[]): Promise<{ files: string[]; missing: string[] }> {
  const files = new Set<string>();
  const missing: string[] = [];
  for (const arg of args) {
    if (/[*?[\]{}]/.test(arg)) {
      let any = false;
      for await (const f of glob(arg)) {
        const s = await stat(f).catch(() => undefined);
        if (s?.isFile()) {
          files.add(path.resolve(f));
          any = true;
        } else if (s?.isDirectory()) {
          for (const x of await walk(f)) files.add(x);
          any = true;
        }
      }
      if (!any) missing.push(arg);
      continue;
    }
    const s = await stat(arg).catch(() => undefined);
    if (!s) missing.push(arg);
    else if (s.isDirectory()) for (const x of await walk(arg)) files.add(x);
    else files.add(path.resolve(arg));
  }
  return { files: [...files].sort(), missing };
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else if (e.isFile() && !e.name.startsWith('.') && HL7_EXTENSIONS.has(path.extname(e.name).toLowerCase())) out.push(path.resolve(p));
  }
  return out;
}
