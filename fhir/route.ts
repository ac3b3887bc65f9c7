import { badRequest, notFound } from '@medplum/core';
import { fail, withText } from '../schema/outcomes.ts';

/**
 * Which FHIR interaction a method + path asks for, the same for a REST call and a Bundle entry.
 * See: https://hl7.org/fhir/R4/http.html (the summary table of interactions)
 */

export type Route =
  | { interaction: 'capabilities' }
  | { interaction: 'batch' }
  | { interaction: 'search-type'; type: string }
  | { interaction: 'create'; type: string }
  | { interaction: 'conditional-update'; type: string }
  | { interaction: 'conditional-delete'; type: string }
  | { interaction: 'history-type'; type: string }
  | { interaction: 'read'; type: string; id: string }
  | { interaction: 'update'; type: string; id: string }
  | { interaction: 'delete'; type: string; id: string }
  | { interaction: 'history-instance'; type: string; id: string }
  | { interaction: 'vread'; type: string; id: string; vid: string }
  | { interaction: 'operation'; type: string; id: string; code: string };

/** Matches a method and a path below the base ("Patient/1/_history", no query); 404 when nothing matches. */
export function matchRoute(method: string, path: string, query: URLSearchParams): Route {
  const m = method === 'HEAD' ? 'GET' : method;
  const segments = path.replace(/^\/+|\/+$/g, '').split('/').filter((s) => s !== '').map(decodeSegment);
  const [type, id, third, vid, ...more] = segments;
  const none = (): never => fail(withText(notFound, `No route for ${method} ${path ? `/${path.replace(/^\/+/, '')}` : '/'}`));
  if (more.length || !type) return m === 'POST' && !type ? { interaction: 'batch' } : none();
  if (type === 'metadata' && !id) return m === 'GET' ? { interaction: 'capabilities' } : none();
  if (!id) {
    if (m === 'GET') return { interaction: 'search-type', type };
    if (m === 'POST') return { interaction: 'create', type };
    if (m === 'PUT' || m === 'DELETE') {
      if (!query.size) fail(badRequest(`${m} needs an id (${type}/id) or search criteria (${type}?criteria)`));
      return { interaction: m === 'PUT' ? 'conditional-update' : 'conditional-delete', type };
    }
    return none();
  }
  if (!third) {
    if (id === '_search' && (m === 'POST' || m === 'GET')) return { interaction: 'search-type', type };
    if (id === '_history' && m === 'GET') return { interaction: 'history-type', type };
    if (id.startsWith('$') || id.startsWith('_')) return none();
    if (m === 'GET') return { interaction: 'read', type, id };
    if (m === 'PUT') return { interaction: 'update', type, id };
    if (m === 'DELETE') return { interaction: 'delete', type, id };
    return none();
  }
  if (third === '_history' && m === 'GET') return vid ? { interaction: 'vread', type, id, vid } : { interaction: 'history-instance', type, id };
  if (third.startsWith('$') && !vid && (m === 'GET' || m === 'POST')) return { interaction: 'operation', type, id, code: third };
  return none();
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return fail(badRequest(`Malformed path segment "${s}"`));
  }
}
