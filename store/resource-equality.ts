import type { Resource } from '@medplum/fhirtypes';

/** True when two resources are equal apart from meta.versionId and meta.lastUpdated. */
export function sameContent(a: Resource, b: Resource): boolean {
  return stableJson(stripVersionMeta(a)) === stableJson(stripVersionMeta(b));
}

function stripVersionMeta(r: Resource): Resource {
  if (!r.meta) return r;
  const { versionId: _v, lastUpdated: _l, ...meta } = r.meta;
  const copy = { ...r, meta } as Resource;
  if (Object.keys(meta).length === 0) delete (copy as { meta?: unknown }).meta;
  return copy;
}

function stableJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
    }
    return v;
  });
}
