import type { Config } from '../config.ts';
import type { Services } from '../services.ts';
import { systemContext } from '../../store/request-context.ts';
import { localVerifier, remoteVerifier, type TokenVerifier } from './authenticate.ts';
import { createEmbeddedProvider, type EmbeddedProvider } from './provider.ts';
import { ROLE_SCOPES } from './roles.ts';

/**
 * Where tokens come from: an external OpenID Connect issuer (IDR_OIDC_ISSUER: the hospital's IdP)
 * or IDR's embedded provider at /oauth. Either way IDR verifies tokens itself and serves SMART
 * App Launch discovery at /fhir/.well-known/smart-configuration.
 */
export interface Security {
  verifier: TokenVerifier;
  /** The embedded provider, when no external issuer is configured. */
  provider?: EmbeddedProvider;
  /** The SMART configuration document. */
  smartConfiguration(): Record<string, unknown>;
  close(): Promise<void>;
}

export async function startSecurity(services: Services, config: Config, baseUrl: string): Promise<Security> {
  const audience = config.IDR_OIDC_AUDIENCE ?? `${baseUrl}/fhir`;
  if (config.IDR_OIDC_ISSUER) {
    const { verifier, discovery } = await remoteVerifier(config.IDR_OIDC_ISSUER, audience);
    return { verifier, smartConfiguration: () => externalSmartConfiguration(discovery), close: async () => undefined };
  }
  const provider = await createEmbeddedProvider({
    baseUrl,
    audience,
    db: services.database.db,
    config,
    logger: services.logger,
    findPatient: async (identifier) => (await services.repo.searchByQuery(systemContext('auth'), 'Patient', `identifier=${identifier}`, 1))[0]?.id,
  });
  return { verifier: localVerifier(provider.issuer, audience, provider.publicJwks), provider, smartConfiguration: () => provider.smartConfiguration(), close: () => provider.close() };
}

/** SMART discovery for an external issuer: its endpoints, IDR's scopes. See: https://hl7.org/fhir/smart-app-launch/conformance.html */
function externalSmartConfiguration(discovery: Record<string, unknown>): Record<string, unknown> {
  const pick = (k: string): Record<string, unknown> => (discovery[k] !== undefined ? { [k]: discovery[k] } : {});
  return {
    ...pick('issuer'),
    ...pick('jwks_uri'),
    ...pick('authorization_endpoint'),
    ...pick('token_endpoint'),
    ...pick('token_endpoint_auth_methods_supported'),
    ...pick('grant_types_supported'),
    ...pick('introspection_endpoint'),
    ...pick('revocation_endpoint'),
    scopes_supported: [...new Set(Object.values(ROLE_SCOPES).flat())],
    response_types_supported: ['code'],
    code_challenge_methods_supported: ['S256'],
    capabilities: ['launch-standalone', 'client-public', 'client-confidential-symmetric', 'client-confidential-asymmetric', 'sso-openid-connect', 'context-standalone-patient', 'permission-v2', 'permission-v1', 'permission-user', 'permission-patient'],
  };
}
