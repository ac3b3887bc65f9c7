import { existsSync } from 'node:fs';
import path from 'node:path';
import express, { type Router } from 'express';

/**
 * The clinician's web page (web/, built by `npm run build:web` into web/dist) at /app/. The page is
 * static: it signs in with the authorisation code flow and PKCE as the public client `clientId`
 * and calls /graphql and /fhir with its token, so nothing here needs a token. Until web/dist is
 * built, /app/ answers 503 with a page saying how to build it.
 */
export interface WebAppOptions {
  /** The built page (web/dist). */
  distDir: string;
  /** Public root URL of IDR, without a trailing slash. */
  baseUrl: string;
  /** The page's OAuth client id (IDR_WEB_CLIENT_ID). */
  clientId: string;
  /** The hospital's time zone (IDR_TIMEZONE): the page shows every date-time in it. */
  timeZone: string;
}

/** What the page reads at start: its client id, redirect URI and where discovery is. */
export interface WebAppConfig {
  clientId: string;
  redirectUri: string;
  smartConfiguration: string;
  fhir: string;
  graphql: string;
  timeZone: string;
}

const NOT_BUILT = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>IDR web page not built</title>
<style>body{font-family:system-ui,sans-serif;margin:3rem auto;max-width:40rem;padding:0 1rem;color:#1a1a1a}code{background:#f0f0f0;padding:.1em .3em}</style></head>
<body><main>
<h1>The web page has not been built</h1>
<p>IDR serves its clinician web page from <code>web/dist</code>, which is not there yet. Build it at the repository root with</p>
<pre><code>npm run build:web</code></pre>
<p>(or <code>make web</code>; <code>make demo</code> and <code>make test</code> build it first), then reload this page.</p>
</main></body>
</html>
`;

/** The router mounted at /app: the built single-page app, its config, or 503 while unbuilt. */
export function webAppRouter(options: WebAppOptions): Router {
  const router = express.Router({ strict: true });
  const index = path.join(options.distDir, 'index.html');
  const config: WebAppConfig = {
    clientId: options.clientId,
    redirectUri: `${options.baseUrl}/app/`,
    smartConfiguration: `${options.baseUrl}/fhir/.well-known/smart-configuration`,
    fhir: `${options.baseUrl}/fhir`,
    graphql: `${options.baseUrl}/graphql`,
    timeZone: options.timeZone,
  };
  // Opened at localhost while IDR's base URL says 127.0.0.1 (or the other way round, as after `make
  // demo`): the same page at the base URL, where the sign-in comes back to (its redirect URI).
  const base = new URL(options.baseUrl);
  const twin = base.hostname === '127.0.0.1' ? 'localhost' : base.hostname === 'localhost' ? '127.0.0.1' : undefined;
  router.use((req, res, next) => {
    if (!twin || (req.method !== 'GET' && req.method !== 'HEAD')) return next();
    const host = req.get('host') ?? '';
    if (host !== `${twin}${base.port ? `:${base.port}` : ''}`) return next();
    res.redirect(302, `${base.origin}${req.originalUrl}`);
  });
  // /app without the slash: relative asset URLs and the redirect URI need /app/.
  router.get('/', (req, res, next) => (req.originalUrl.split('?')[0] === '/app' ? res.redirect(301, `/app/${req.originalUrl.slice('/app'.length)}`) : next()));
  router.get('/config.json', (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json(config);
  });
  router.use((req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    if (existsSync(index)) return next();
    res.status(503).setHeader('Cache-Control', 'no-store');
    res.setHeader('Retry-After', '60');
    res.type('html').send(NOT_BUILT);
  });
  // Hashed assets never change; index.html is always revalidated so a new build is picked up.
  router.use('/assets', express.static(path.join(options.distDir, 'assets'), { immutable: true, maxAge: '365d', index: false, fallthrough: false }));
  router.use(express.static(options.distDir, { index: 'index.html', maxAge: 0, setHeaders: (res) => res.setHeader('Cache-Control', 'no-cache') }));
  return router;
}
