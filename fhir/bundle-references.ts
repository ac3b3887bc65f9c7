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

/**
 * Every `reference` value in a resource that starts with urn:uuid: or urn:oid:, except those a
 * Bundle inside it (e.g. a stored document or collection) resolves by its own entries' fullUrls.
 */
export function unresolvedUrnReferences(value: unknown, out: string[] = [], inner: ReadonlySet<string> = new Set()): string[] {
  if (Array.isArray(value)) for (const v of value) unresolvedUrnReferences(v, out, inner);
  else if (value && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    if (obj.resourceType === 'Bundle' && Array.isArray(obj.entry)) {
      inner = new Set([...inner, ...obj.entry.map((e: { fullUrl?: unknown }) => e?.fullUrl).filter((u): u is string => typeof u === 'string')]);
    }
    for (const [k, v] of Object.entries(obj)) {
      if (k === 'reference' && typeof v === 'string' && /^urn:(uuid|oid):/.test(v)) {
        if (!inner.has(v)) out.push(v);
      } else unresolvedUrnReferences(v, out, inner);
    }
  }
  return out;
}

/**
 * Every conditional reference (`Type?criteria`) in a resource, once each; a Bundle stored as a
 * resource keeps its references as they are (they are its content, not requests).
 * See: https://hl7.org/fhir/R4/http.html#trules
 */
export function conditionalReferences(resource: unknown): string[] {
  const out = new Set<string>();
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) for (const v of value) walk(v);
    else if (value && typeof value === 'object' && (value as { resourceType?: unknown }).resourceType !== 'Bundle') {
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (k === 'reference' && typeof v === 'string' && /^[A-Z][A-Za-z]+\?./.test(v)) out.add(v);
        else walk(v);
      }
    }
  };
  walk(resource);
  return [...out];
}
