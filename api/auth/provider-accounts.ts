import { readFile } from 'node:fs/promises';
import { seedPatients } from '../../seed/hl7v2/index.ts';
import { z } from 'zod';
import type { ClientMetadata } from 'oidc-provider';
import type { Config } from '../config.ts';
import { grantableScopes, isRole, ROLES, type Role } from './roles.ts';

/**
 * Who may sign in to the embedded provider: the demo users and clients (only with IDR_DEMO_AUTH)
 * and the system clients registered in IDR_AUTH_CLIENTS_FILE.
 */

export interface DemoUser {
  username: string;
  role: Role;
  name: string;
  /** Tumour boards (Group ids) a board member sits on. */
  boards?: string[];
  /** A patient user's identifier ("system|value"), resolved to a Patient id at login. */
  patientIdentifier?: string;
}

/** The password of every demo user. */
export const DEMO_PASSWORD = 'idr-demo';

/** The public demo client (authorisation code + PKCE). */
export const DEMO_APP_CLIENT_ID = 'idr-demo-app';

/** The demo patient user is the first patient of the demo data (`make demo`): a breast cancer patient on the demo tumour board. */
export const DEMO_PATIENT_BSN = (seedPatients({ count: 1 })[0] as { bsn: string }).bsn;

/** The demo users (IDR_DEMO_AUTH only), one per kind of person. */
export const DEMO_USERS: readonly DemoUser[] = [
  { username: 'clinician', role: 'clinician', name: 'Dr. A. Jansen' },
  { username: 'board', role: 'board-member', name: 'Dr. B. Bakker', boards: ['tumour-board-breast'] },
  { username: 'scientist', role: 'data-scientist', name: 'C. de Vries' },
  { username: 'admin', role: 'admin', name: 'IDR administrator' },
  { username: 'patient', role: 'patient', name: 'Demo patient', patientIdentifier: `http://fhir.nl/fhir/NamingSystem/bsn|${DEMO_PATIENT_BSN}` },
];

/** The system scopes of the demo confidential client. */
export const DEMO_CLIENT_SCOPES = ['system/*.cruds', 'idr/ingest', 'idr/audit'];

/** IDR's own client metadata: the role and the scopes a client may be granted. */
export interface IdrClientMetadata {
  idr_role: Role;
  idr_scope: string;
}

const clientEntry = z
  .object({
    client_id: z.string().regex(/^[\w.:-]{3,128}$/, 'letters, digits, _ . : - (3-128)'),
    role: z.string().refine(isRole, `one of ${ROLES.join(', ')}`),
    scope: z.string().min(1),
    name: z.string().optional(),
    jwks: z.object({ keys: z.array(z.record(z.string(), z.unknown())).min(1) }).optional(),
    jwks_uri: z.url({ protocol: /^https?$/ }).optional(),
    client_secret: z.string().min(16, 'at least 16 characters').optional(),
  })
  .refine((c) => [c.jwks, c.jwks_uri, c.client_secret].filter((v) => v !== undefined).length === 1, 'exactly one of jwks, jwks_uri, client_secret');

export type ClientEntry = z.infer<typeof clientEntry>;

/** Reads and checks IDR_AUTH_CLIENTS_FILE (a JSON array); an error names the file and the bad entry. */
export async function readClientsFile(file: string): Promise<ClientEntry[]> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new Error(`IDR_AUTH_CLIENTS_FILE ${file}: ${(err as Error).message}`, { cause: err });
  }
  const parsed = z.array(clientEntry).safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `  [${i.path.join('.')}]: ${i.message}`).join('\n');
    throw new Error(`IDR_AUTH_CLIENTS_FILE ${file} is not valid:\n${issues}`);
  }
  return parsed.data;
}

/** oidc-provider metadata of a registered system client: client credentials only, scopes cut to its role's ceiling. */
export function systemClient(entry: ClientEntry): ClientMetadata & IdrClientMetadata {
  const role = entry.role as Role;
  const auth = entry.client_secret !== undefined ? { client_secret: entry.client_secret, token_endpoint_auth_method: 'client_secret_basic' } : { token_endpoint_auth_method: 'private_key_jwt', ...(entry.jwks ? { jwks: entry.jwks } : { jwks_uri: entry.jwks_uri }) };
  return {
    client_id: entry.client_id,
    ...(entry.name ? { client_name: entry.name } : {}),
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    ...auth,
    idr_role: role,
    idr_scope: grantableScopes(role, entry.scope.split(/\s+/).filter(Boolean)).join(' '),
  } as ClientMetadata & IdrClientMetadata;
}

/** The demo clients: the confidential admin client and the public browser app. */
export function demoClients(config: Config, baseUrl: string): (ClientMetadata & Partial<IdrClientMetadata>)[] {
  return [
    {
      client_id: config.IDR_DEMO_CLIENT_ID,
      client_secret: config.IDR_DEMO_CLIENT_SECRET,
      client_name: 'IDR demo system client',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      idr_role: 'admin',
      idr_scope: DEMO_CLIENT_SCOPES.join(' '),
    },
    {
      client_id: DEMO_APP_CLIENT_ID,
      client_name: 'IDR demo app',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      redirect_uris: [`${baseUrl}/oauth/demo-callback`],
      token_endpoint_auth_method: 'none',
    },
  ];
}

/** The web page at /app/ (web/): a public client (authorisation code + PKCE) that the embedded provider always registers; people sign in to it. */
export function webClient(clientId: string, baseUrl: string): ClientMetadata {
  return {
    client_id: clientId,
    client_name: 'IDR web page',
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: [`${baseUrl}/app/`],
    token_endpoint_auth_method: 'none',
  };
}

/** The demo user with this username (IDR_DEMO_AUTH only). */
export function demoUser(username: string): DemoUser | undefined {
  return DEMO_USERS.find((u) => u.username === username);
}
