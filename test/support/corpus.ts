import { existsSync } from 'node:fs';
import path from 'node:path';

/**
 * The third-party sample corpus (../shared/corpus beside the repository; see its NOTICE.md).
 * Tests that read it fail clearly when it is missing, since it is always laid out beside the clone.
 */
export function corpusDir(sub: 'hl7v2' | 'ccda'): string {
  const dir = path.resolve(import.meta.dirname, '..', '..', '..', 'shared', 'corpus', sub);
  if (!existsSync(dir)) throw new Error(`sample corpus folder missing: ${dir} (expected ../shared/corpus beside the repository)`);
  return dir;
}
