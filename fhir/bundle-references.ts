/** Replaces every `reference` whose value is a key of `map` (e.g. "urn:uuid:…" -> "Patient/123"), deeply. */
export function rewriteReferences<T>(value: T, map: Map<string, string>): T {
  if (Array.isArray(value)) return value.map((v) => rewriteReferences(v, map)) as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      out[k] = k === 'reference' && typeof v === 'string' && map.has(v) ? map.get(v) : rewriteReferences(v, map);
    }
    return out as T;
  }
  return value;
}

/** Every `reference` value in a resource that starts with urn:uuid: or urn:oid:. */
export function unresolvedUrnReferences(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) unresolvedUrnReferences(v, out);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (k === 'reference' && typeof v === 'string' && /^urn:(uuid|oid):/.test(v)) out.push(v);
      else unresolvedUrnReferences(v, out);
    }
  }
  return out;
}
