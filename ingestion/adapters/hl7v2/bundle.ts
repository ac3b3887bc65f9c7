import type { BundleEntry, Identifier, Reference, Resource } from '@medplum/fhirtypes';
import type { AdapterContext } from '../types.ts';

/** Characters a query-string parser would misread; everything else in system and value is kept as is. */
const QUERY_UNSAFE = /[%&+#\s]/g;

/** `Type?identifier=system|value`, escaping only %, &, +, # and whitespace so a URL parser reads the value back exactly. */
export function conditionalUrl(resourceType: string, key: Identifier): string {
  const enc = (s: string): string => s.replace(QUERY_UNSAFE, (c) => encodeURIComponent(c));
  return `${resourceType}?identifier=${enc(key.system ?? '')}|${enc(key.value ?? '')}`;
}

/** Joins identifier parts with '/', replacing '|' and ',' (not allowed in conditional references) by '_'. */
export function identifierValue(...parts: string[]): string {
  return parts.map((p) => p.replace(/[|,]/g, '_')).join('/');
}

/**
 * Collects the entries of one transaction Bundle: each resource once per conditional URL, as a
 * conditional update (PUT `Type?identifier=...`), referenced by its urn:uuid fullUrl.
 */
export class EntryCollector {
  readonly entries: BundleEntry[] = [];
  readonly #byUrl = new Map<string, BundleEntry>();
  readonly #ctx: AdapterContext;

  constructor(ctx: AdapterContext) {
    this.#ctx = ctx;
  }

  /** True when a resource with this conditional URL is already in the Bundle. */
  has(resourceType: string, key: Identifier): boolean {
    return this.#byUrl.has(conditionalUrl(resourceType, key));
  }

  /** Adds the resource (or returns the entry already added for the same identity) and a reference to it. */
  add<T extends Resource>(resource: T, key: Identifier): Reference<T> {
    const url = conditionalUrl(resource.resourceType, key);
    let entry = this.#byUrl.get(url);
    if (!entry) {
      entry = { fullUrl: `urn:uuid:${this.#ctx.newId()}`, resource, request: { method: 'PUT', url } };
      this.#byUrl.set(url, entry);
      this.entries.push(entry);
    }
    return { reference: entry.fullUrl };
  }
}
