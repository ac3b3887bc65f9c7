import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import type { Collection } from 'mongodb';
import type { OAuthDoc } from './provider-adapter.ts';

/**
 * The embedded provider's keys: one RS256 signing key pair (tokens) and the cookie-signing
 * secrets. Generated once, then kept in the provider's collection, so tokens and sessions
 * survive a restart and every IDR process on the same database signs with the same key.
 */

export interface ProviderKeys {
  /** Private signing keys (JWK, with `kid`, `alg`, `use`). */
  signing: JWK[];
  /** Secrets for oidc-provider's signed cookies. */
  cookies: string[];
}

interface KeysDoc {
  _id: string;
  keys: ProviderKeys;
}

const KEYS_ID = 'idr:keys';

async function generate(): Promise<ProviderKeys> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true, modulusLength: 2048 });
  const jwk = await exportJWK(privateKey);
  return {
    signing: [{ ...jwk, kid: randomBytes(12).toString('base64url'), alg: 'RS256', use: 'sig' }],
    cookies: [randomBytes(32).toString('base64url')],
  };
}

/** The stored keys, generated and stored on first use (two processes starting at once agree on one set). */
export async function loadOrCreateKeys(collection: Collection<OAuthDoc>): Promise<ProviderKeys> {
  const keys = collection as unknown as Collection<KeysDoc>;
  const stored = await keys.findOne({ _id: KEYS_ID });
  if (stored) return stored.keys;
  const fresh = await generate();
  try {
    await keys.insertOne({ _id: KEYS_ID, keys: fresh });
    return fresh;
  } catch (err) {
    // Another process stored its keys first: use those.
    const winner = await keys.findOne({ _id: KEYS_ID });
    if (winner) return winner.keys;
    throw err;
  }
}

/** The public half of private JWKs (what the JWKS endpoint serves). */
export function publicKeys(signing: JWK[]): JWK[] {
  return signing.map(({ kty, n, e, crv, x, y, kid, alg, use }) =>
    Object.fromEntries(Object.entries({ kty, n, e, crv, x, y, kid, alg, use }).filter(([, v]) => v !== undefined)),
  );
}
