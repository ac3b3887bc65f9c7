import type { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { decodeJwt, type JSONWebKeySet } from 'jose';
import type { Db } from 'mongodb';
import type { Logger } from 'pino';
import Provider, { errors, type Account, type ClientMetadata, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import type { Config } from '../config.ts';
import { demoClients, demoUser, readClientsFile, systemClient, webClient, type IdrClientMetadata } from './provider-accounts.ts';
import { mongoAdapter, oauthCollection, removeExpired } from './provider-adapter.ts';
import { loadOrCreateKeys, publicKeys } from './provider-keys.ts';
import { escapeHtml, loginPages, page } from './provider-login.ts';
import { isKnownScope, isRole, narrowScopes, ROLE_SCOPES, ROLES } from './roles.ts';

/**
 * IDR's embedded OpenID Connect / OAuth 2.0 authorisation server (oidc-provider), used when no
 * external issuer (IDR_OIDC_ISSUER) is configured: for the demo, the tests, and small sites that
 * register their system clients in IDR_AUTH_CLIENTS_FILE. It issues JWT access tokens for one
 * audience (IDR's FHIR base URL) carrying IDR's claims (`idr_role`, `name`, `patient`,
 * `idr_boards`). See docs/security.md.
 */

export { DEMO_PASSWORD, DEMO_USERS, DEMO_APP_CLIENT_ID, type DemoUser } from './provider-accounts.ts';

export interface EmbeddedProvider {
  /** `${baseUrl}/oauth` */
  issuer: string;
  /** Express-mountable handler; the app mounts it with app.use('/oauth', provider.handler). */
  handler: (req: IncomingMessage, res: ServerResponse) => void;
  /** The public signing keys (JWKS): IDR verifies tokens in-process with jose.createLocalJWKSet(publicJwks). */
  publicJwks: JSONWebKeySet;
  tokenEndpoint: string;
  authorizationEndpoint: string;
  /** The JSON for GET /fhir/.well-known/smart-configuration (SMART App Launch v2 discovery). */
  smartConfiguration(): Record<string, unknown>;
  close(): Promise<void>;
}

export interface EmbeddedProviderOptions {
  /** Public root URL of IDR, e.g. http://127.0.0.1:8080 */
  baseUrl: string;
  /** The "aud" of every access token (IDR passes `${baseUrl}/fhir`). */
  audience: string;
  db: Db;
  config: Config;
  logger: Logger;
  /** Resolves a demo patient user's identifier ("system|value") to the Patient id at login (undefined = unknown). */
  findPatient?: (identifier: string) => Promise<string | undefined>;
}

/** OpenID scopes (the rest are the FHIR resource server's). */
const OIDC_SCOPES = ['openid', 'fhirUser'];
/** Client assertion algorithms accepted for private_key_jwt (SMART Backend Services asks for RS384 and ES384). */
const CLIENT_ASSERTION_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'ES256', 'ES384'];
const SIGNING_ALG = 'RS256';

/** Builds the embedded provider over `db` (keys, sessions and grants are kept there). */
export async function createEmbeddedProvider(options: EmbeddedProviderOptions): Promise<EmbeddedProvider> {
  const { config, audience, logger, findPatient } = options;
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const issuer = `${baseUrl}/oauth`;
  const mountPath = new URL(issuer).pathname;
  const ttl = config.IDR_TOKEN_TTL_SECONDS;
  const demoAuth = config.IDR_DEMO_AUTH;

  const collection = oauthCollection(options.db);
  const keys = await loadOrCreateKeys(collection);
  await removeExpired(collection);

  const clients: ClientMetadata[] = [webClient(config.IDR_WEB_CLIENT_ID, baseUrl)];
  if (demoAuth) clients.push(...demoClients(config, baseUrl));
  if (config.IDR_AUTH_CLIENTS_FILE) {
    for (const entry of await readClientsFile(config.IDR_AUTH_CLIENTS_FILE)) {
      const client = systemClient(entry);
      const dropped = entry.scope.split(/\s+/).filter((s) => s && !client.idr_scope.split(' ').includes(s));
      if (dropped.length) logger.warn({ client: entry.client_id, role: entry.role, dropped }, 'oauth: registered client asks for scopes its role does not allow; they are never granted');
      clients.push(client);
    }
  }
  if (new Set(clients.map((c) => c.client_id)).size !== clients.length) throw new Error('oauth: a client_id is registered twice (IDR_AUTH_CLIENTS_FILE and the demo clients must not share one)');

  const patientOf = async (username: string): Promise<string | undefined> => {
    const user = demoUser(username);
    return user?.patientIdentifier ? findPatient?.(user.patientIdentifier) : undefined;
  };

  /** The scopes the FHIR resource server offers in this request: see getResourceServerInfo. */
  function resourceScopes(ctx: KoaContextWithOIDC, client: { metadata(): ClientMetadata } | undefined): string {
    const registered = client?.metadata().idr_scope;
    if (typeof registered === 'string') {
      // A system client: what it asks for narrowed to what it registered, or all of that when it
      // names no scope. The request's scope is rewritten so oidc-provider grants exactly these.
      const ceiling = registered.split(' ').filter(Boolean);
      if (ctx.oidc.route !== 'token') return registered;
      const params = ctx.oidc.params as Record<string, unknown>;
      const asked = typeof params.scope === 'string' ? params.scope.split(' ').filter(Boolean) : [];
      const granted = (asked.length ? narrowScopes(asked, ceiling) : ceiling).join(' ');
      params.scope = granted || undefined;
      return granted;
    }
    const grant = ctx.oidc.entities.Grant;
    if (ctx.oidc.route === 'token' && grant) return grant.getResourceScope(audience);
    const requested = typeof ctx.oidc.params?.scope === 'string' ? ctx.oidc.params.scope.split(' ') : [];
    return requested.filter((s) => !OIDC_SCOPES.includes(s) && isKnownScope(s)).join(' ');
  }

  const configuration: Configuration = {
    adapter: mongoAdapter(collection),
    clients,
    jwks: { keys: keys.signing as NonNullable<Configuration['jwks']>['keys'] },
    cookies: {
      keys: keys.cookies,
      long: { httpOnly: true, sameSite: 'lax' },
      short: { httpOnly: true, sameSite: 'lax' },
    },
    scopes: OIDC_SCOPES,
    claims: { openid: ['sub'], fhirUser: ['fhirUser', 'name'] },
    responseTypes: ['code'],
    pkce: { required: () => true },
    clientAuthMethods: ['client_secret_basic', 'private_key_jwt', 'none'],
    enabledJWA: { clientAuthSigningAlgValues: CLIENT_ASSERTION_ALGS as NonNullable<NonNullable<Configuration['enabledJWA']>['clientAuthSigningAlgValues']> },
    extraClientMetadata: {
      properties: ['idr_role', 'idr_scope'],
      validator(_ctx, key, value) {
        if (key === 'idr_role' && value !== undefined && !isRole(value)) throw new errors.InvalidClientMetadata(`idr_role must be one of ${ROLES.join(', ')}`);
        if (key === 'idr_scope' && value !== undefined && typeof value !== 'string') throw new errors.InvalidClientMetadata('idr_scope must be a string');
      },
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      userinfo: { enabled: false },
      rpInitiatedLogout: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => audience,
        useGrantedResource: () => true,
        getResourceServerInfo(ctx, indicator, client) {
          if (indicator !== audience) throw new errors.InvalidTarget(`the only resource here is ${audience}`);
          return { audience, scope: resourceScopes(ctx, client), accessTokenFormat: 'jwt', accessTokenTTL: ttl, jwt: { sign: { alg: SIGNING_ALG } } };
        },
      },
    },
    interactions: { url: (_ctx, interaction) => `${mountPath}/interaction/${interaction.uid}` },
    async findAccount(_ctx, sub): Promise<Account | undefined> {
      const user = demoAuth ? demoUser(sub) : undefined;
      if (!user) return undefined;
      return {
        accountId: user.username,
        async claims() {
          const patient = await patientOf(user.username);
          return { sub: user.username, name: user.name, ...(patient ? { fhirUser: `${audience}/Patient/${patient}` } : {}) };
        },
      };
    },
    async extraTokenClaims(ctx, token) {
      if (token.kind === 'ClientCredentials') {
        const role = (token.client ?? ctx.oidc.client)?.metadata().idr_role;
        return isRole(role) ? { idr_role: role } : undefined;
      }
      const user = token.accountId && demoAuth ? demoUser(token.accountId) : undefined;
      if (!user) return undefined;
      const patient = user.role === 'patient' ? await patientOf(user.username) : undefined;
      return { idr_role: user.role, name: user.name, ...(patient ? { patient } : {}), ...(user.boards ? { idr_boards: [...user.boards] } : {}) };
    },
    ttl: {
      AccessToken: ttl,
      ClientCredentials: ttl,
      IdToken: ttl,
      AuthorizationCode: 60,
      Interaction: 10 * 60,
      Session: 8 * 60 * 60,
      Grant: 8 * 60 * 60,
      RefreshToken: 8 * 60 * 60,
    },
    // The web page (/app/) calls the token endpoint from IDR's own origin.
    clientBasedCORS: (_ctx, origin, client) => config.IDR_CORS_ORIGINS.includes(origin) || (client.clientId === config.IDR_WEB_CLIENT_ID && origin === new URL(baseUrl).origin),
    renderError(ctx, out) {
      // The error and its description only: never a stack trace.
      ctx.type = 'html';
      const error = escapeHtml(String(out.error ?? 'server_error'));
      const description = out.error_description ? `<p>${escapeHtml(String(out.error_description))}</p>` : '';
      ctx.body = page('Sign-in error', `<h1>Sign-in error</h1><p class="error" role="alert">${error}</p>${description}`);
    },
  };

  const provider = new Provider(issuer, configuration);
  provider.on('server_error', (_ctx: unknown, err: Error) => logger.error({ err }, 'oauth: provider error'));
  // With a listener, Koa does not print errors to stderr itself.
  (provider as unknown as EventEmitter).on('error', (err: Error) => logger.debug({ err: err.message }, 'oauth: request error'));

  const oidcCallback = provider.callback();
  const pages = loginPages({ provider, audience, oidcScopes: new Set(OIDC_SCOPES), demoAuth, logger, ...(findPatient ? { findPatient } : {}) });
  const tokenPath = '/token';

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    // Mounted at /oauth (express strips it) or given the full path: the provider's own paths either way.
    const path = url.pathname.startsWith(`${mountPath}/`) ? url.pathname.slice(mountPath.length) : url.pathname;
    void pages(req, res, path, url).then((answered) => {
      if (answered) return;
      if (path === tokenPath && req.method === 'POST') addPatientContext(res);
      return oidcCallback(req, res);
    }).catch((err: unknown) => {
      logger.error({ err }, 'oauth: request failed');
      if (!res.headersSent) {
        res.statusCode = 500;
        res.end();
      }
    });
  };

  const publicJwks: JSONWebKeySet = { keys: publicKeys(keys.signing) };
  const tokenEndpoint = `${issuer}${tokenPath}`;
  const authorizationEndpoint = `${issuer}/auth`;

  return {
    issuer,
    handler,
    publicJwks,
    tokenEndpoint,
    authorizationEndpoint,
    smartConfiguration: () => ({
      issuer,
      jwks_uri: `${issuer}/jwks`,
      authorization_endpoint: authorizationEndpoint,
      token_endpoint: tokenEndpoint,
      grant_types_supported: ['authorization_code', 'client_credentials'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'private_key_jwt'],
      token_endpoint_auth_signing_alg_values_supported: CLIENT_ASSERTION_ALGS,
      scopes_supported: [...new Set(Object.values(ROLE_SCOPES).flat())],
      response_types_supported: ['code'],
      code_challenge_methods_supported: ['S256'],
      capabilities: [
        'launch-standalone',
        'client-public',
        'client-confidential-symmetric',
        'client-confidential-asymmetric',
        'sso-openid-connect',
        'context-standalone-patient',
        'permission-v2',
        'permission-patient',
        'permission-user',
      ],
    }),
    close: async () => {
      provider.removeAllListeners();
    },
  };
}

/**
 * SMART launch context: a token response whose access token names a patient also says so
 * beside it (`"patient": "<id>"`), as SMART App Launch asks. oidc-provider has no hook for
 * extra token response members, so the finished JSON body is amended on its way out.
 * See: https://hl7.org/fhir/smart-app-launch/app-launch.html#response-5
 */
function addPatientContext(res: ServerResponse): void {
  const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
  res.end = ((...args: unknown[]) => {
    const [body] = args;
    if (res.statusCode === 200 && (typeof body === 'string' || Buffer.isBuffer(body))) {
      try {
        const json = JSON.parse(body.toString()) as { access_token?: string; patient?: string };
        const patient = json.access_token ? decodeJwt(json.access_token).patient : undefined;
        if (typeof patient === 'string') {
          const amended = JSON.stringify({ ...json, patient });
          res.setHeader('content-length', Buffer.byteLength(amended));
          return end(amended, ...args.slice(1).filter((a) => typeof a === 'function'));
        }
      } catch {
        // not a token response: sent as is
      }
    }
    return end(...args);
  }) as typeof res.end;
}

export { DEMO_CLIENT_SCOPES } from './provider-accounts.ts';
export { ROLE_SCOPES, ROLES, type Role } from './roles.ts';
export type { IdrClientMetadata };
