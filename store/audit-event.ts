import { createHash } from 'node:crypto';
import type { AuditEvent, AuditEventAgent, AuditEventEntity, CodeableConcept, Coding, Extension, Reference } from '@medplum/fhirtypes';

/**
 * One access record as a FHIR R4 AuditEvent in the style of IHE Basic Audit Log Patterns (BALP),
 * and the hash that links it into the tamper-evident chain. Pure: the caller says which
 * references exist and who the agents are.
 * See: https://hl7.org/fhir/R4/auditevent.html, https://profiles.ihe.net/ITI/BALP/
 */

/** What one request did, as the HTTP layer reports it (NEN 7513: who, what, when, why, from where, outcome). */
export interface AccessRecord {
  time: Date;
  requestId: string;
  /** Who: the token subject and issuer, display name, IDR role, OAuth client id, network address. Internal components: subject "system:<name>". */
  agent: { subject: string; issuer: string; name?: string; role: string; client?: string; address?: string; /** A patient user's own Patient id (the token's patient context). */ patient?: string };
  /** Purpose of use as IDR receives it: "treatment", "tumour-board", "research", "ingestion", "system", "patient-request", "break-the-glass". */
  purpose: string;
  /** Break-the-glass reason, when the access was outside the caller's normal scope. */
  breakGlass?: string;
  /** FHIR restful interaction or IDR action. */
  interaction: 'read' | 'vread' | 'search' | 'history' | 'create' | 'update' | 'patch' | 'delete' | 'operation' | 'graphql' | 'export' | 'raw-download' | 'ingest' | 'batch' | 'transaction' | 'notify';
  action: 'C' | 'R' | 'U' | 'D' | 'E';
  outcome: 'success' | 'denied' | 'failed';
  /** HTTP status. */
  status: number;
  /** Why denied/failed. */
  reason?: string;
  /** Ids of the Patients whose data was returned/written. */
  patients: string[];
  /** "Type/id" of the resources returned/written (only the first MAX_AUDITED_RESOURCES are kept). */
  resources: string[];
  /** How many resources there were in all, when more than `resources` lists (default: resources.length). */
  resourceCount?: number;
  /** Resource types touched. */
  types: string[];
  /** Request path + query string (searches, operations); for GraphQL the operation name. */
  query?: string;
}

/** At most this many resources of one access are named in its AuditEvent (the count says how many there were). */
export const MAX_AUDITED_RESOURCES = 100;

/** Extension URLs of the hash chain (StructureDefinitions in ingestion/extension-definitions.ts). */
export const AUDIT_EXTENSIONS = {
  sequence: 'urn:idr:fhir:extension:audit-sequence',
  previousHash: 'urn:idr:fhir:extension:audit-previous-hash',
  hash: 'urn:idr:fhir:extension:audit-hash',
} as const;

/** Code systems the AuditEvents use. */
export const AUDIT_SYSTEMS = {
  eventType: 'http://terminology.hl7.org/CodeSystem/audit-event-type',
  dcm: 'http://dicom.nema.org/resources/ontology/DCM',
  restfulInteraction: 'http://hl7.org/fhir/restful-interaction',
  idrAction: 'urn:idr:audit-action',
  purposeOfUse: 'http://terminology.hl7.org/CodeSystem/v3-ActReason',
  idrPurpose: 'urn:idr:purpose-of-use',
  idrRole: 'urn:idr:role',
  entityType: 'http://terminology.hl7.org/CodeSystem/audit-entity-type',
  objectRole: 'http://terminology.hl7.org/CodeSystem/object-role',
  sourceType: 'http://terminology.hl7.org/CodeSystem/security-source-type',
  balpEntityType: 'http://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType',
  resourceTypes: 'http://hl7.org/fhir/resource-types',
  /** Identifier system of an entity whose resource is not stored (unknown or deleted id). */
  idrResource: 'urn:idr:resource',
  requestId: 'urn:idr:request-id',
  /** Default identifier system of agents without an issuer (IDR's own components). */
  idrAgents: 'urn:idr:agent',
} as const;

/** The chain's starting value: the "previous hash" of record 1. */
export const GENESIS_HASH = '0'.repeat(64);

/** IDR purposes of use → v3 PurposeOfUse codes. See: https://terminology.hl7.org/ValueSet-v3-PurposeOfUse.html */
const PURPOSE_CODES: Record<string, { code: string; display: string }> = {
  treatment: { code: 'TREAT', display: 'treatment' },
  'tumour-board': { code: 'TREAT', display: 'treatment' },
  research: { code: 'HRESCH', display: 'healthcare research' },
  ingestion: { code: 'HOPERAT', display: 'healthcare operations' },
  system: { code: 'HSYSADMIN', display: 'health system administration' },
  'patient-request': { code: 'PATRQT', display: 'patient requested' },
  'break-the-glass': { code: 'BTG', display: 'break the glass' },
};

/** The restful interactions (type "rest"); the others are IDR actions on the patient record (DICOM 110110). */
const REST_INTERACTIONS = new Set(['read', 'vread', 'search', 'history', 'create', 'update', 'patch', 'delete', 'operation', 'batch', 'transaction']);

/** The AuditEvent id of a chain position: "audit-000000000123". */
export function auditEventId(sequence: number): string {
  return `audit-${String(sequence).padStart(12, '0')}`;
}

/** A reference to who an agent is. */
export type AgentReference = NonNullable<AuditEventAgent['who']>;

/** What the builder needs besides the record. */
export interface AuditEventInput {
  record: AccessRecord;
  sequence: number;
  previousHash: string;
  observer: string;
  /** The reference of the user (Practitioner, Patient or Device). */
  user: AgentReference;
  /** The reference of the client application's Device, when there is a client id. */
  client?: AgentReference;
  /** "Type/id" references that resolve (live resources); the others are named by identifier only. */
  existing: ReadonlySet<string>;
}

/** Builds the AuditEvent of one access (without the hash extension: see `sealAuditEvent`). */
export function buildAuditEvent(input: AuditEventInput): AuditEvent {
  const r = input.record;
  const rest = REST_INTERACTIONS.has(r.interaction);
  const event: AuditEvent = {
    resourceType: 'AuditEvent',
    id: auditEventId(input.sequence),
    meta: {
      tag: [...new Set(r.types)].sort().map((t) => ({ system: AUDIT_SYSTEMS.resourceTypes, code: t })),
      // Break-the-glass accesses carry the BTG label too, so a reviewer lists them with one _security search.
      ...(r.breakGlass !== undefined ? { security: [{ system: AUDIT_SYSTEMS.purposeOfUse, code: 'BTG', display: 'break the glass' }] } : {}),
    },
    extension: [
      { url: AUDIT_EXTENSIONS.sequence, valuePositiveInt: input.sequence },
      { url: AUDIT_EXTENSIONS.previousHash, valueString: input.previousHash },
    ],
    type: rest ? { system: AUDIT_SYSTEMS.eventType, code: 'rest', display: 'RESTful Operation' } : { system: AUDIT_SYSTEMS.dcm, code: '110110', display: 'Patient Record' },
    subtype: [rest ? { system: AUDIT_SYSTEMS.restfulInteraction, code: r.interaction } : { system: AUDIT_SYSTEMS.idrAction, code: r.interaction }],
    action: r.action,
    recorded: r.time.toISOString(),
    outcome: r.outcome === 'success' ? '0' : r.outcome === 'denied' ? '4' : '8',
    purposeOfEvent: [purposeOfUse(r.purpose, r.breakGlass)],
    agent: agents(input),
    source: { observer: { display: input.observer }, type: [{ system: AUDIT_SYSTEMS.sourceType, code: '4', display: 'Application Server' }] },
    entity: entities(input),
  };
  if (!event.meta?.tag?.length) delete event.meta?.tag;
  if (!event.meta?.tag && !event.meta?.security) delete event.meta;
  const desc = [r.reason, `HTTP ${r.status}`].filter(Boolean).join(' — ');
  if (r.outcome !== 'success' || r.reason) event.outcomeDesc = desc;
  return event;
}

/** The purpose of use as a v3 PurposeOfUse code plus IDR's own; BTG (with the reason as text) for break-the-glass. */
export function purposeOfUse(purpose: string, breakGlass?: string): CodeableConcept {
  const coding: Coding[] = [];
  const known = PURPOSE_CODES[purpose];
  if (known) coding.push({ system: AUDIT_SYSTEMS.purposeOfUse, ...known });
  if (breakGlass !== undefined && known?.code !== 'BTG') coding.push({ system: AUDIT_SYSTEMS.purposeOfUse, code: 'BTG', display: 'break the glass' });
  coding.push({ system: AUDIT_SYSTEMS.idrPurpose, code: purpose || 'unspecified' });
  const concept: CodeableConcept = { coding };
  if (breakGlass) concept.text = `break-the-glass: ${breakGlass}`;
  return concept;
}

function agents(input: AuditEventInput): AuditEventAgent[] {
  const a = input.record.agent;
  const user: AuditEventAgent = {
    who: input.user,
    altId: a.subject,
    requestor: true,
    role: [{ coding: [{ system: AUDIT_SYSTEMS.idrRole, code: a.role || 'unknown' }], text: a.role || 'unknown' }],
  };
  if (a.name) user.name = a.name;
  const network = a.address ? { address: a.address, type: /^[\d.]+$|:/.test(a.address) ? ('2' as const) : ('1' as const) } : undefined;
  if (!input.client) return [network ? { ...user, network } : user];
  const client: AuditEventAgent = {
    type: { coding: [{ system: AUDIT_SYSTEMS.dcm, code: '110150', display: 'Application' }] },
    who: input.client,
    altId: a.client as string,
    requestor: false,
  };
  if (network) client.network = network;
  return [user, client];
}

function entities(input: AuditEventInput): AuditEventEntity[] {
  const r = input.record;
  const out: AuditEventEntity[] = [];
  const what = (ref: string): Reference => (input.existing.has(ref) ? { reference: ref } : { type: ref.slice(0, ref.indexOf('/')) as Reference['type'], identifier: { system: AUDIT_SYSTEMS.idrResource, value: ref } });
  const patients = [...new Set(r.patients)];
  for (const p of patients) {
    const ref = `Patient/${p}`;
    const e: AuditEventEntity = { what: what(ref), type: { system: AUDIT_SYSTEMS.entityType, code: '1', display: 'Person' }, role: { system: AUDIT_SYSTEMS.objectRole, code: '1', display: 'Patient' } };
    if (!input.existing.has(ref)) e.description = 'not stored (unknown or deleted id)';
    out.push(e);
  }
  const listed = [...new Set(r.resources)].filter((ref) => !(ref.startsWith('Patient/') && patients.includes(ref.slice('Patient/'.length)))).slice(0, MAX_AUDITED_RESOURCES);
  for (const ref of listed) {
    const e: AuditEventEntity = { what: what(ref), type: { system: AUDIT_SYSTEMS.entityType, code: '2', display: 'System Object' }, role: { system: AUDIT_SYSTEMS.objectRole, code: '4', display: 'Domain Resource' } };
    if (!input.existing.has(ref)) e.description = 'not stored (unknown or deleted id)';
    out.push(e);
  }
  if (r.query !== undefined && r.query !== '') {
    out.push({
      type: { system: AUDIT_SYSTEMS.entityType, code: '2', display: 'System Object' },
      role: { system: AUDIT_SYSTEMS.objectRole, code: '24', display: 'Query' },
      query: Buffer.from(r.query, 'utf8').toString('base64'),
      description: r.query.length > 200 ? `${r.query.slice(0, 200)}…` : r.query,
    });
  }
  const count = Math.max(r.resourceCount ?? 0, new Set(r.resources).size);
  out.push({
    what: { identifier: { system: AUDIT_SYSTEMS.requestId, value: r.requestId } },
    type: { system: AUDIT_SYSTEMS.balpEntityType, code: 'XrequestId', display: 'X-Request-Id' },
    detail: [{ type: 'resource-count', valueString: String(count) }, { type: 'status', valueString: String(r.status) }],
  });
  return out;
}

/** Sorted-key JSON: the same content always gives the same text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The event as hashed: without the hash extension and without meta.versionId/lastUpdated (set by the store). */
function hashedContent(event: AuditEvent): AuditEvent {
  const copy: AuditEvent = { ...event, extension: (event.extension ?? []).filter((e) => e.url !== AUDIT_EXTENSIONS.hash) };
  if (!copy.extension?.length) delete copy.extension;
  if (event.meta) {
    const { versionId: _v, lastUpdated: _l, ...meta } = event.meta;
    if (Object.keys(meta).length) copy.meta = meta;
    else delete copy.meta;
  }
  return copy;
}

/** SHA-256 (hex) over the previous hash followed by the canonical JSON of the event's hashed content. */
export function chainHash(previousHash: string, event: AuditEvent): string {
  return createHash('sha256').update(previousHash).update(canonicalJson(hashedContent(event))).digest('hex');
}

/** Adds the hash extension (computed over everything else); returns the hash. */
export function sealAuditEvent(event: AuditEvent, previousHash: string): string {
  const hash = chainHash(previousHash, event);
  event.extension = [...(event.extension ?? []).filter((e) => e.url !== AUDIT_EXTENSIONS.hash), { url: AUDIT_EXTENSIONS.hash, valueString: hash }];
  return hash;
}

/** The chain extensions a stored AuditEvent carries. */
export function chainFields(event: AuditEvent): { sequence?: number; previousHash?: string; hash?: string } {
  const ext = (url: string): Extension | undefined => event.extension?.find((e) => e.url === url);
  const out: { sequence?: number; previousHash?: string; hash?: string } = {};
  const seq = ext(AUDIT_EXTENSIONS.sequence)?.valuePositiveInt;
  const prev = ext(AUDIT_EXTENSIONS.previousHash)?.valueString;
  const hash = ext(AUDIT_EXTENSIONS.hash)?.valueString;
  if (seq !== undefined) out.sequence = seq;
  if (prev !== undefined) out.previousHash = prev;
  if (hash !== undefined) out.hash = hash;
  return out;
}
