import type { Filter, SearchRequest } from '@medplum/core';
import { badRequest } from '@medplum/core';
import type { Database } from './db.ts';
import { fail } from '../schema/outcomes.ts';
import { isResourceType, searchParamsFor } from '../schema/fhir-definitions.ts';
import { keyValues } from '../schema/search-index.ts';
import { parseFhirSearch, searchToMongo } from './search-to-mongo.ts';

/**
 * Chained (`subject:Patient.birthdate=lt1960`) and reverse-chained
 * (`_has:Observation:subject:code=…`) parameters, for cohort queries. The store has no joins
 * (`$lookup` is outside the subset IDR uses), so each chain is resolved first by a search of its
 * own — recursively, so chains may nest — into the ids it matches, and replaced by a plain
 * reference or `_id` filter on those ids. A chain matching more than MAX_CHAIN_MATCHES resources
 * is refused: narrow it, or use a cohort.
 * See: https://hl7.org/fhir/R4/search.html#chaining and #has
 */

export const MAX_CHAIN_MATCHES = 10_000;

/** True when a filter code is a chain or a reverse chain. */
export function isChain(code: string): boolean {
  return code.startsWith('_has:') || (code.includes('.') && !code.startsWith('_'));
}

/** The search with every chain replaced by the ids it matches. */
export async function resolveChains(database: Database, req: SearchRequest): Promise<SearchRequest> {
  if (!req.filters?.some((f) => isChain(f.code))) return req;
  const filters: Filter[] = [];
  for (const f of req.filters) {
    if (f.code.startsWith('_has:')) filters.push(await reverseChain(database, req.resourceType, f));
    else if (isChain(f.code)) filters.push(await forwardChain(database, req.resourceType, f));
    else filters.push(f);
  }
  return { ...req, filters };
}

/** `subject:Patient.birthdate=lt1960` → `subject=Patient/a,Patient/b,…` */
async function forwardChain(database: Database, resourceType: string, f: Filter): Promise<Filter> {
  const dot = f.code.indexOf('.');
  const [param = '', named] = f.code.slice(0, dot).split(':');
  const rest = f.code.slice(dot + 1);
  const def = searchParamsFor(resourceType)[param];
  if (def?.type !== 'reference') fail(badRequest(`Chained parameter "${f.code}": "${param}" is not a reference parameter of ${resourceType}`, f.code));
  const targets = (def.target ?? []) as string[];
  const type = named ?? (targets.length === 1 ? targets[0] : undefined);
  if (!type) fail(badRequest(`Chained parameter "${f.code}": ${param} can point to ${targets.join(', ')}; name the type, e.g. ${param}:${targets[0]}.${rest}`, f.code));
  if (!isResourceType(type) || (targets.length && !targets.includes(type))) fail(badRequest(`Chained parameter "${f.code}": ${param} of ${resourceType} cannot point to ${type}`, f.code));
  const docs = await innerSearch(database, type, rest, f, { _id: 1 });
  return { code: param, operator: 'eq' as Filter['operator'], value: docs.map((d) => d._id).join(',') };
}

/** `_has:Observation:subject:code=…` on Patient → `_id=` the patients those Observations' subject names. */
async function reverseChain(database: Database, resourceType: string, f: Filter): Promise<Filter> {
  const [, type = '', param = '', ...restParts] = f.code.split(':');
  const rest = restParts.join(':');
  if (!isResourceType(type)) fail(badRequest(`_has: "${type}" is not a resource type (${f.code})`, f.code));
  if (searchParamsFor(type)[param]?.type !== 'reference') fail(badRequest(`_has: "${param}" is not a reference parameter of ${type} (${f.code})`, f.code));
  if (!rest) fail(badRequest(`_has needs a parameter of ${type} to match: _has:${type}:${param}:<parameter>=<value>`, f.code));
  const docs = await innerSearch(database, type, rest, f, { keys: 1 });
  const prefix = `${resourceType}/`;
  const ids = new Set<string>();
  for (const d of docs) for (const v of keyValues(d.keys, param)) if (v.startsWith(prefix)) ids.add(v.slice(prefix.length));
  return { code: '_id', operator: 'eq' as Filter['operator'], value: [...ids].join(',') };
}

async function innerSearch(database: Database, type: string, code: string, f: Filter, projection: Record<string, 1>): Promise<{ _id: string; keys?: string[] }[]> {
  const inner = await resolveChains(database, parseFhirSearch(type, new URLSearchParams([[code, f.value]]).toString()));
  const { filter } = searchToMongo(inner);
  const docs = await database.c.resources.find(filter, { projection }).limit(MAX_CHAIN_MATCHES + 1).toArray();
  if (docs.length > MAX_CHAIN_MATCHES) fail(badRequest(`"${f.code}" matches more than ${MAX_CHAIN_MATCHES} ${type} resources; narrow it, or define a cohort`, f.code));
  return docs;
}
