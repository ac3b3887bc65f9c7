/**
 * Signing in: the authorisation code flow with PKCE (S256) as a public client, against the
 * provider that IDR's SMART discovery names. The access token lives in memory and in
 * sessionStorage (this tab only, gone when it closes), never in localStorage.
 * See: https://hl7.org/fhir/smart-app-launch/app-launch.html
 */

import { setTimeZone } from './format.ts';

/** What IDR tells the page at /app/config.json (api/http/web-app.ts). */
export interface AppConfig {
  clientId: string;
  redirectUri: string;
  smartConfiguration: string;
  fhir: string;
  graphql: string;
  /** The hospital's time zone (IANA), in which every date-time is shown. */
  timeZone: string;
}

export interface Session {
  accessToken: string;
  /** Epoch ms. */
  expiresAt: number;
  name: string;
  role: string;
  scope: string;
}

/** The scopes asked for; the role caps them (a clinician reads and puts cases on an agenda; a board member also prepares, shares and decides). */
export const SCOPES = 'openid fhirUser user/*.rs user/Task.cu user/Bundle.c user/ClinicalImpression.c';

const SESSION_KEY = 'idr.session';
const PKCE_KEY = 'idr.pkce';

let config: AppConfig | undefined;
let session: Session | undefined;

/** The page's configuration (fetched once). */
export async function appConfig(): Promise<AppConfig> {
  if (!config) {
    const res = await fetch('config.json', { headers: { accept: 'application/json' } });
    if (!res.ok) throw new Error(`IDR did not answer its web configuration (${res.status})`);
    config = (await res.json()) as AppConfig;
    setTimeZone(config.timeZone);
  }
  return config;
}

async function endpoints(cfg: AppConfig): Promise<{ authorization_endpoint: string; token_endpoint: string }> {
  const res = await fetch(cfg.smartConfiguration, { headers: { accept: 'application/json' } });
  if (!res.ok) throw new Error(`SMART discovery failed (${res.status})`);
  return (await res.json()) as { authorization_endpoint: string; token_endpoint: string };
}

function base64url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function randomString(bytes = 32): string {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** The signed-in session, if any and not expired. */
export function currentSession(): Session | undefined {
  if (!session) {
    const stored = sessionStorage.getItem(SESSION_KEY);
    if (stored) session = JSON.parse(stored) as Session;
  }
  if (session && session.expiresAt <= Date.now()) signOut();
  return session;
}

/** Leaves the page signed out (the token is forgotten). */
export function signOut(): void {
  session = undefined;
  sessionStorage.removeItem(SESSION_KEY);
}

/** Sends the browser to the provider's login page. */
export async function signIn(): Promise<void> {
  if (!crypto.subtle) throw new Error('Signing in needs a secure context: open the page over https or on localhost');
  const cfg = await appConfig();
  const smart = await endpoints(cfg);
  const verifier = randomString();
  const state = randomString(16);
  const challenge = base64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))));
  sessionStorage.setItem(PKCE_KEY, JSON.stringify({ verifier, state, hash: location.hash }));
  const url = new URL(smart.authorization_endpoint);
  url.search = new URLSearchParams({
    client_id: cfg.clientId,
    response_type: 'code',
    redirect_uri: cfg.redirectUri,
    scope: SCOPES,
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    aud: cfg.fhir,
    // Ask for the password again after a sign-out, even while the provider's session lasts.
    prompt: 'login',
  }).toString();
  location.assign(url.href);
}

function claims(token: string): Record<string, unknown> {
  const part = token.split('.')[1];
  if (!part) return {};
  const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(json, (c) => c.charCodeAt(0)))) as Record<string, unknown>;
}

/** Finishes a sign-in when the provider sent the browser back with a code; returns the session or undefined when this is no callback. */
export async function completeSignIn(): Promise<Session | undefined> {
  const params = new URLSearchParams(location.search);
  const code = params.get('code');
  const error = params.get('error');
  if (!code && !error) return undefined;
  const pending = JSON.parse(sessionStorage.getItem(PKCE_KEY) ?? 'null') as { verifier: string; state: string; hash: string } | null;
  sessionStorage.removeItem(PKCE_KEY);
  history.replaceState(null, '', `${location.pathname}${pending?.hash ?? ''}`);
  if (error) throw new Error(`Sign-in refused: ${params.get('error_description') ?? error}`);
  if (!pending || params.get('state') !== pending.state) throw new Error('Sign-in answer does not belong to this tab: sign in again');
  const cfg = await appConfig();
  const smart = await endpoints(cfg);
  const res = await fetch(smart.token_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code: code as string, redirect_uri: cfg.redirectUri, client_id: cfg.clientId, code_verifier: pending.verifier }),
  });
  const body = (await res.json()) as { access_token?: string; expires_in?: number; scope?: string; error_description?: string; error?: string };
  if (!res.ok || !body.access_token) throw new Error(`No token: ${body.error_description ?? body.error ?? res.status}`);
  const c = claims(body.access_token);
  session = {
    accessToken: body.access_token,
    expiresAt: Date.now() + (body.expires_in ?? 3600) * 1000,
    name: typeof c.name === 'string' ? c.name : String(c.sub ?? 'signed in'),
    role: typeof c.idr_role === 'string' ? c.idr_role : '',
    scope: body.scope ?? (typeof c.scope === 'string' ? c.scope : ''),
  };
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  return session;
}
