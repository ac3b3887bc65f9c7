import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type Provider from 'oidc-provider';
import type { Interaction, InteractionResults } from 'oidc-provider';
import { DEMO_PASSWORD, demoUser, type DemoUser } from './provider-accounts.ts';
import { grantableScopes } from './roles.ts';

/**
 * The embedded provider's own pages: the login form of the authorisation code flow (server
 * rendered, no external assets), the implicit consent that follows it, and the demo app's
 * redirect target. Consent is never asked: a user is granted the requested scopes their role
 * allows, and the rest are recorded as rejected so the provider does not ask again.
 */

export interface LoginPagesOptions {
  provider: Provider;
  /** The resource indicator (and audience) scopes are granted for. */
  audience: string;
  /** The OpenID scopes the provider knows (openid, fhirUser). */
  oidcScopes: ReadonlySet<string>;
  demoAuth: boolean;
  logger: Logger;
  findPatient?: (identifier: string) => Promise<string | undefined>;
}

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A minimal, self-contained HTML page. */
export function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · IDR</title>
<style>
body{font-family:system-ui,sans-serif;max-width:26rem;margin:3rem auto;padding:0 1rem;color:#1a1a1a}
label{display:block;margin-top:1rem;font-weight:600}
input{display:block;width:100%;box-sizing:border-box;padding:.5rem;margin-top:.25rem;font-size:1rem}
button{margin-top:1.5rem;padding:.6rem 1.2rem;font-size:1rem}
.error{color:#a00000;border-left:4px solid #a00000;padding-left:.5rem}
code{word-break:break-all}
</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}

function send(res: ServerResponse, status: number, html: string): void {
  res.statusCode = status;
  res.setHeader('content-type', 'text/html; charset=utf-8');
  res.setHeader('cache-control', 'no-store');
  res.setHeader('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'");
  res.end(html);
}

function loginForm(action: string, clientName: string, error?: string, username = ''): string {
  const alert = error ? `<p class="error" id="login-error" role="alert">${escapeHtml(error)}</p>` : '';
  const described = error ? ' aria-describedby="login-error"' : '';
  return page(
    'Sign in',
    `<h1>Sign in to IDR</h1>
<p>${escapeHtml(clientName)} asks to use IDR on your behalf.</p>
${alert}
<form method="post" action="${escapeHtml(action)}">
<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" required value="${escapeHtml(username)}"${described}>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required${described}>
<button type="submit">Sign in</button>
</form>`,
  );
}

const MAX_FORM_BYTES = 8 * 1024;

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_FORM_BYTES) throw new Error('form too large');
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function samePassword(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The handler of `/interaction/:uid` and `/demo-callback` (paths relative to the provider's mount). */
export function loginPages(options: LoginPagesOptions) {
  const { provider, audience, oidcScopes, logger } = options;

  /**
   * Implicit consent: the request's scopes are narrowed to what the user's role allows (kept in
   * the interaction, so the code and its tokens carry exactly those), and granted.
   */
  async function implicitConsent(user: DemoUser, details: Interaction): Promise<string> {
    const clientId = String(details.params.client_id);
    const requested = typeof details.params.scope === 'string' ? details.params.scope.split(' ').filter(Boolean) : [];
    const allowed = grantableScopes(user.role, requested);
    details.params.scope = allowed.join(' ');
    await details.save(details.exp - Math.floor(Date.now() / 1000));
    const grant = (details.grantId ? await provider.Grant.find(details.grantId) : undefined) ?? new provider.Grant({ accountId: user.username, clientId });
    const oidc = allowed.filter((s) => oidcScopes.has(s));
    const resource = allowed.filter((s) => !oidcScopes.has(s));
    if (oidc.length) grant.addOIDCScope(oidc.join(' '));
    if (resource.length) grant.addResourceScope(audience, resource.join(' '));
    return grant.save();
  }

  async function interaction(req: IncomingMessage, res: ServerResponse, uid: string): Promise<void> {
    const details = await provider.interactionDetails(req, res);
    if (details.uid !== uid) {
      send(res, 400, page('Sign-in expired', '<h1>This sign-in has expired</h1><p>Go back to the application and start again.</p>'));
      return;
    }
    const clientId = String(details.params.client_id);
    const client = await provider.Client.find(clientId);
    const clientName = client?.clientName ?? clientId;
    // Relative to this page's own URL (…/interaction/<uid>), wherever the provider is mounted.
    const action = encodeURIComponent(uid);

    if (details.prompt.name === 'consent') {
      const user = details.session?.accountId ? demoUser(details.session.accountId) : undefined;
      if (!options.demoAuth || !user) {
        await provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'unknown account' }, { mergeWithLastSubmission: false });
        return;
      }
      const grantId = await implicitConsent(user, details);
      await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
      return;
    }

    if (req.method !== 'POST') {
      send(res, 200, loginForm(action, clientName));
      return;
    }
    const form = await readForm(req);
    const username = form.get('username') ?? '';
    const user = options.demoAuth ? demoUser(username) : undefined;
    if (!user || !samePassword(form.get('password') ?? '', DEMO_PASSWORD)) {
      logger.info({ client: clientId }, 'oauth: sign-in refused (wrong username or password)');
      send(res, 400, loginForm(action, clientName, 'Wrong username or password.', username));
      return;
    }
    if (user.patientIdentifier) {
      const patient = await options.findPatient?.(user.patientIdentifier);
      if (!patient) {
        send(res, 400, loginForm(action, clientName, 'No patient record belongs to this account yet.', username));
        return;
      }
    }
    const result: InteractionResults = { login: { accountId: user.username } };
    if (details.prompt.name === 'login') {
      result.consent = { grantId: await implicitConsent(user, details) };
    }
    await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  }

  function demoCallback(res: ServerResponse, url: URL): void {
    const code = url.searchParams.get('code');
    const error = url.searchParams.get('error');
    if (error) {
      const description = url.searchParams.get('error_description') ?? '';
      send(res, 400, page('Not signed in', `<h1>Not signed in</h1><p class="error" role="alert">${escapeHtml(error)}${description ? `: ${escapeHtml(description)}` : ''}</p>`));
      return;
    }
    send(
      res,
      200,
      page(
        'Signed in',
        `<h1>You are signed in</h1>
<p>The authorisation code (valid for one minute, usable once, with the PKCE code verifier of the request) is:</p>
<p><code id="code">${escapeHtml(code ?? '')}</code></p>
<p>Exchange it at the token endpoint with <code>grant_type=authorization_code</code>, <code>client_id=idr-demo-app</code>, <code>redirect_uri</code> and <code>code_verifier</code>.</p>`,
      ),
    );
  }

  /** Answers the request and returns true when it is one of these pages. */
  return async function handle(req: IncomingMessage, res: ServerResponse, path: string, url: URL): Promise<boolean> {
    const match = /^\/interaction\/([\w-]+)$/.exec(path);
    if (match?.[1] && (req.method === 'GET' || req.method === 'POST')) {
      try {
        await interaction(req, res, match[1]);
      } catch (err) {
        const name = (err as Error).name;
        if (name === 'SessionNotFound' || name === 'InvalidRequest') {
          send(res, 400, page('Sign-in expired', '<h1>This sign-in has expired</h1><p>Go back to the application and start again.</p>'));
        } else {
          logger.error({ err }, 'oauth: sign-in page failed');
          if (!res.headersSent) send(res, 500, page('Error', '<h1>Something went wrong</h1><p>Try again later.</p>'));
        }
      }
      return true;
    }
    if (path === '/demo-callback' && req.method === 'GET' && options.demoAuth) {
      demoCallback(res, url);
      return true;
    }
    return false;
  };
}
