import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authFetch, startTestServer, type TestServer } from './support/server.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ NODE_ENV: 'production' });
});
afterAll(async () => {
  await server?.close();
});

async function gql(query: string): Promise<{ status: number; text: string; body: { data?: unknown; errors?: { message: string; extensions?: { code?: string } }[] } }> {
  const res = await authFetch(`${server.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
  const text = await res.text();
  return { status: res.status, text, body: JSON.parse(text) };
}

describe('GraphQL outside development', () => {
  it('serves no GraphiQL page', async () => {
    const res = await authFetch(`${server.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(await res.text()).not.toMatch(/graphiql/i);
  });

  it('masks unexpected errors: no driver message, no stack, in the response', async () => {
    // Break the database under the running server: every resolver that reads now fails unexpectedly.
    await server.services.database.client.close();
    const r = await gql('{ patients(first: 1) { totalCount } }');
    expect(r.body.errors?.[0]?.message).toBe('Unexpected error.');
    expect(r.text).not.toMatch(/Mongo|stack|at .*\.ts:\d+/);
  });
});
