/**
 * The CLI's credentials for a running IDR: `IDR_TOKEN` (a bearer token), or `IDR_CLIENT_ID` and
 * `IDR_CLIENT_SECRET` of a registered client, exchanged for a token with client_credentials at the
 * token endpoint the server's SMART configuration names (HTTP Basic client authentication).
 */

let authorization: string | undefined;

/** Gets a token for `server` from the environment's credentials; without any, requests go without one (and IDR answers 401). */
export async function signIn(server: string, env: Record<string, string | undefined> = process.env): Promise<void> {
  if (env.IDR_TOKEN) {
    authorization = `Bearer ${env.IDR_TOKEN}`;
    return;
  }
  if (!env.IDR_CLIENT_ID || !env.IDR_CLIENT_SECRET) return;
  const discovery = `${server}/fhir/.well-known/smart-configuration`;
  const smart = (await (await fetch(discovery)).json().catch(() => ({}))) as { token_endpoint?: string };
  if (!smart.token_endpoint) throw new Error(`${discovery} names no token endpoint`);
  const basic = Buffer.from(`${encodeURIComponent(env.IDR_CLIENT_ID)}:${encodeURIComponent(env.IDR_CLIENT_SECRET)}`).toString('base64');
  const res = await fetch(smart.token_endpoint, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: env.IDR_SCOPE ?? 'idr/ingest' }),
  });
  const body = (await res.json().catch(() => ({}))) as { access_token?: string; error?: string; error_description?: string };
  if (!res.ok || !body.access_token) throw new Error(`no token from ${smart.token_endpoint} for client ${env.IDR_CLIENT_ID}: ${body.error_description ?? body.error ?? res.status}`);
  authorization = `Bearer ${body.access_token}`;
}

/** Request options with the Authorization header, when signed in. */
export function authorized(init: RequestInit = {}): RequestInit {
  if (!authorization) return init;
  const headers = new Headers(init.headers);
  headers.set('authorization', authorization);
  return { ...init, headers };
}
