import { createHash, randomBytes } from 'node:crypto';

/**
 * Signing in to IDR's embedded provider as a person would, driven with fetch: the authorization
 * code flow with PKCE through the login form, then the code exchanged at the token endpoint.
 */

export const DEMO_APP = 'idr-demo-app';
export const DEMO_PASSWORD = 'idr-demo';

/** A cookie jar and manual redirects: the smallest browser the login needs. */
export class Browser {
  private readonly cookies = new Map<string, string>();

  async go(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size) headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const c of res.headers.getSetCookie()) {
      const [pair = ''] = c.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (!value || /expires=Thu, 01 Jan 1970/i.test(c)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }

  /** Follows redirects until a page (returned) or a URL starting with `stopAt` (its Location returned). */
  async follow(url: string, stopAt: string, init: RequestInit = {}): Promise<{ res: Response; url: string; location?: string }> {
    let res = await this.go(url, init);
    let at = url;
    for (let hops = 0; res.status >= 300 && res.status < 400 && hops < 10; hops++) {
      const next = new URL(res.headers.get('location') ?? '', at).href;
      if (next.startsWith(stopAt)) return { res, url: at, location: next };
      at = next;
      res = await this.go(next);
    }
    return { res, url: at };
  }
}

/** Signs in `username` with the demo app and returns the access token (throws with the page when it fails). */
export async function userToken(baseUrl: string, username: string, scope: string, password = DEMO_PASSWORD): Promise<string> {
  const smart = (await (await fetch(`${baseUrl}/fhir/.well-known/smart-configuration`)).json()) as { authorization_endpoint: string; token_endpoint: string };
  const browser = new Browser();
  const verifier = randomBytes(32).toString('base64url');
  const redirectUri = `${baseUrl}/oauth/demo-callback`;
  const authorize = new URL(smart.authorization_endpoint);
  authorize.search = new URLSearchParams({ client_id: DEMO_APP, response_type: 'code', redirect_uri: redirectUri, scope, state: randomBytes(8).toString('hex'), code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256' }).toString();
  const login = await browser.follow(authorize.href, redirectUri);
  const html = await login.res.text();
  const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
  if (!action) throw new Error(`no login form at ${login.url}: ${login.res.status} ${html.slice(0, 500)}`);
  const done = await browser.follow(new URL(action.replace(/&amp;/g, '&'), login.url).href, redirectUri, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ username, password }) });
  const code = done.location ? new URL(done.location).searchParams.get('code') : null;
  if (!code) throw new Error(`sign-in of ${username} did not return a code: ${done.res.status} ${(await done.res.text()).slice(0, 500)}`);
  const res = await fetch(smart.token_endpoint, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, client_id: DEMO_APP, code_verifier: verifier }) });
  const body = (await res.json()) as { access_token?: string };
  if (!body.access_token) throw new Error(`no token for ${username}: ${res.status} ${JSON.stringify(body)}`);
  return body.access_token;
}
