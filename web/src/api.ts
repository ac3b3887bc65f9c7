import { appConfig, currentSession } from './auth.ts';

/** Calls to IDR's GraphQL and FHIR APIs with the signed-in user's token. */

/** Thrown when IDR refuses the token (expired or signed out): the page asks to sign in again. */
export class SignedOutError extends Error {}

let onSignedOut: () => void = () => undefined;
/** What to do when a call answers 401. */
export function whenSignedOut(handler: () => void): void {
  onSignedOut = handler;
}

async function authorised(url: string, init: RequestInit = {}): Promise<Response> {
  const s = currentSession();
  if (!s) {
    onSignedOut();
    throw new SignedOutError('Signed out');
  }
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${s.accessToken}`);
  const res = await fetch(url, { ...init, headers });
  if (res.status === 401) {
    onSignedOut();
    throw new SignedOutError('The session has ended: sign in again');
  }
  return res;
}

/** A GraphQL query; its first error is thrown. */
export async function gql<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const cfg = await appConfig();
  const res = await authorised(cfg.graphql, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify({ query, variables }) });
  const body = (await res.json()) as { data?: T; errors?: { message: string }[] };
  if (body.errors?.length) throw new Error(body.errors.map((e) => e.message).join('; '));
  if (!res.ok || !body.data) throw new Error(`GraphQL answered ${res.status}`);
  return body.data;
}

/** The text of an OperationOutcome (or the status). */
function outcomeText(body: unknown, status: number): string {
  const issues = (body as { issue?: { diagnostics?: string; details?: { text?: string } }[] } | undefined)?.issue ?? [];
  const text = issues.map((i) => i.details?.text ?? i.diagnostics).filter(Boolean).join('; ');
  return `${status}${text ? `: ${text}` : ''}`;
}

/** A FHIR interaction relative to the FHIR base (e.g. `Task/1/$prepare`); non-2xx answers are thrown with their OperationOutcome's text. */
export async function fhir<T = unknown>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const cfg = await appConfig();
  const res = await authorised(`${cfg.fhir}/${path}`, {
    method: init.method ?? 'GET',
    headers: { accept: 'application/fhir+json', ...(init.body !== undefined ? { 'content-type': 'application/fhir+json' } : {}) },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  const text = await res.text();
  const body = text ? (JSON.parse(text) as unknown) : undefined;
  if (!res.ok) throw new Error(outcomeText(body, res.status));
  return body as T;
}

/** Downloads a URL on IDR with the token (an original message or document) and saves it. */
export async function download(url: string, filename: string): Promise<void> {
  const res = await authorised(url);
  if (!res.ok) throw new Error(`The original could not be fetched (${res.status})`);
  const blob = await res.blob();
  const href = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = href;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 10_000);
}
