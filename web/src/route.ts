import { useEffect, useState } from 'react';

/** The page's views, addressed by the URL's hash (`#/patient/123/timeline`), so /app/ is the only page IDR serves. */
export type Route =
  | { view: 'search' }
  | { view: 'patient'; id: string; tab: PatientTab; read?: string }
  | { view: 'board'; meeting?: string };

export const PATIENT_TABS = ['summary', 'timeline', 'labs', 'reports'] as const;
export type PatientTab = (typeof PATIENT_TABS)[number];

/** Parses `#/…` into a route. */
export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'patient' && parts[1]) {
    const tab = (PATIENT_TABS as readonly string[]).includes(parts[2] ?? '') ? (parts[2] as PatientTab) : 'summary';
    return { view: 'patient', id: parts[1], tab, ...(tab === 'reports' && parts[3] && parts[4] ? { read: `${parts[3]}/${parts[4]}` } : {}) };
  }
  if (parts[0] === 'board') return { view: 'board', ...(parts[1] ? { meeting: parts[1] } : {}) };
  return { view: 'search' };
}

/** The hash of a route. */
export function href(route: Route): string {
  switch (route.view) {
    case 'search':
      return '#/';
    case 'board':
      return route.meeting ? `#/board/${encodeURIComponent(route.meeting)}` : '#/board';
    case 'patient':
      return `#/patient/${encodeURIComponent(route.id)}/${route.tab}${route.read ? `/${route.read}` : ''}`;
  }
}

/** The current route, following hash changes. */
export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const on = (): void => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}
