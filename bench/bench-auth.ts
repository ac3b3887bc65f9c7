/**
 * Benchmarks call IDR over HTTP like any client: with a bearer token of a demo client, from the
 * server's own token endpoint (client credentials, HTTP Basic). The rate limit is off for them.
 */

export const BENCH_AUTH_ENV = { IDR_DEMO_AUTH: 'true', IDR_DEMO_CLIENT_ID: 'idr-bench-client', IDR_DEMO_CLIENT_SECRET: 'idr-bench-client-secret', IDR_RATE_LIMIT_PER_MINUTE: '0' };

/** A fetch that sends the token of the bench client to `baseUrl`. */
export async function benchFetch(baseUrl: string): Promise<typeof fetch> {
  const smart = (await (await fetch(`${baseUrl}/fhir/.well-known/smart-configuration`)).json()) as { token_endpoint: string };
  const basic = Buffer.from(`${BENCH_AUTH_ENV.IDR_DEMO_CLIENT_ID}:${BENCH_AUTH_ENV.IDR_DEMO_CLIENT_SECRET}`).toString('base64');
  const res = await fetch(smart.token_endpoint, { method: 'POST', headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'system/*.cruds idr/ingest' }) });
  const { access_token: token } = (await res.json()) as { access_token?: string };
  if (!token) throw new Error(`no token from ${smart.token_endpoint}: ${res.status}`);
  return (input, init = {}) => {
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${token}`);
    return fetch(input, { ...init, headers });
  };
}

/** The configuration a benchmark's own server starts with (its data in `dataDir`, MONGODB_URL respected), plus `extra`. */
export function benchEnv(name: string, dataDir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PORT: '0',
    HOST: '127.0.0.1',
    IDR_MLLP_PORT: 'off',
    LOG_LEVEL: 'silent',
    NODE_ENV: 'production',
    IDR_DATA_DIR: dataDir,
    IDR_DB_NAME: `bench_${name}_${Date.now()}`,
    IDR_RATE_LIMIT_PER_MINUTE: '0',
    ...(process.env.MONGODB_URL ? { MONGODB_URL: process.env.MONGODB_URL } : {}),
    ...extra,
  };
}
