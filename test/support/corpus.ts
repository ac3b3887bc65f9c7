import { existsSync } from 'node:fs';
import path from 'node:path';

/**
 * The third-party sample corpus: `../shared/corpus` beside the repository (see its NOTICE.md),
 * or the folder named by IDR_CORPUS_DIR. Only `*.corpus.test.ts` files read it; they run with
 * `make test-corpus`, never with `make test`, and fail clearly when the folder is missing.
 */
export function corpusRoot(): string {
  return path.resolve(process.env.IDR_CORPUS_DIR || path.resolve(import.meta.dirname, '..', '..', '..', 'shared', 'corpus'));
}

/** One sub-folder of the corpus; throws naming the folder when it is missing. */
export function corpusDir(sub: 'hl7v2' | 'ccda'): string {
  const dir = path.join(corpusRoot(), sub);
  if (!existsSync(dir)) throw new Error(`sample corpus folder missing: ${dir} (expected ../shared/corpus beside the repository, or set IDR_CORPUS_DIR)`);
  return dir;
}
