import type { Binary, Collection, Db, Document, IndexDescription } from 'mongodb';
import type { Resource } from '@medplum/fhirtypes';
import type { IndexValue } from './search-index.ts';

/**
 * The MongoDB collections IDR keeps and their indexes. Every document is keyed by a deterministic
 * `_id`, so writes can be idempotent upserts; nothing relies on features FerretDB 1.24 lacks.
 */

/** The current version of one resource (or its tombstone after delete). `_id` = "Type/id". */
export interface ResourceDoc {
  _id: string;
  rt: string;
  id: string;
  vid: number;
  lu: Date;
  deleted: boolean;
  /** Patient ids whose compartment holds this resource (top-level, indexed). */
  patients: string[];
  /** Exact search values as "code=value" (top-level, indexed); see schema/search-index.ts. */
  keys: string[];
  /** The journal (transaction Bundle) that wrote this version, when one did: its undo touches only its own writes. */
  tx?: string;
  sp: Record<string, IndexValue>;
  so: Record<string, string | number | Date>;
  /**
   * The resource as served (meta included) as JSON text; absent on tombstones. Text, not a
   * nested document: nothing queries inside it (searches use `keys`, `sp`, `so`), and the
   * embedded store decodes a nested document field by field on every read, a string at once.
   */
  json?: string;
}

/** One version in a resource's history. `_id` = "Type/id/vid". */
export interface HistoryDoc {
  _id: string;
  rt: string;
  id: string;
  vid: number;
  lu: Date;
  method: 'POST' | 'PUT' | 'DELETE';
  deleted: boolean;
  /** The journal that claimed this version, when one did (see ResourceDoc.tx). */
  tx?: string;
  /** The version as JSON text (see ResourceDoc.json); absent on delete. */
  json?: string;
}

/** A stored document with its resource parsed: what reads work with (never written as is). */
export type LoadedResourceDoc = ResourceDoc & { res?: Resource };

/** Parses the resource of a stored document (see `resourceOf`). */
export function loadDoc<T extends ResourceDoc>(doc: T): T & { res?: Resource } {
  const res = resourceOf(doc);
  return res ? { ...doc, res } : doc;
}

/** The resource a stored document holds (undefined for a tombstone). */
export function resourceOf<T extends Resource = Resource>(doc: { json?: string } | null | undefined): T | undefined {
  return doc?.json === undefined ? undefined : (JSON.parse(doc.json) as T);
}

/** Undo information for one write of a transaction Bundle on a server without transactions. */
export interface UndoStep {
  key: string;
  newVid: number;
  previous: ResourceDoc | null;
}

/** Journal of a transaction Bundle applied with compensation; see journal.ts. */
export interface JournalDoc {
  _id: string;
  status: 'pending';
  startedAt: Date;
}

/** One undo step of a journal, `_id` = "<journal id>/<n>" (insert-only: cheap on FerretDB). */
export interface JournalStepDoc {
  _id: string;
  tx: string;
  /** The number of the (first) step. */
  n: number;
  /** One step… */
  step?: UndoStep;
  /**
   * …or several, in order, recorded together (a batch's writes), as one BSON document
   * `{ steps: UndoStep[] }`: the embedded store writes and reads one binary value far faster than
   * thousands of nested documents.
   */
  steps?: Binary;
}

/**
 * Derived data (timeline events, report <-> study links) still to be re-derived for some
 * resources; see store/derive-outbox.ts. Small: an entry lives from a write until its follow-up ran.
 */
export interface DeriveOutboxDoc {
  _id: string;
  /** "Type/id" (or "Type/id/_history/n") of the resources whose derived data must be re-derived. */
  refs: string[];
  /** Which derivations to run (names registered with the outbox). */
  tasks: string[];
  /** The journal the writes belong to: the entry waits while that journal is pending. */
  tx?: string;
  createdAt: Date;
  /** Not processed by the background pass before this time (the writer runs it itself first). */
  due: Date;
  attempts: number;
  /** Bumped by every addition, so processing removes only the entry it saw. */
  rev: number;
  lastError?: string;
}

/**
 * A lookup from "Type|system|value" to the resource carrying that identifier, keyed by `_id`.
 * See store/identifier-index.ts.
 */
export interface IdentifierKeyDoc {
  _id: string;
  rt: string;
  id: string;
  /** When the claim was taken (a claim whose holder does not carry the identifier is judged by the holder's pending version). */
  at?: Date;
}

/**
 * Every collection IDR keeps, by role. Modules open collections by these names only, so this is
 * the one list of what the database holds.
 */
export const COLLECTION_NAMES = {
  resources: 'resources',
  history: 'resource_history',
  journal: 'tx_journal',
  journalSteps: 'tx_journal_steps',
  identifiers: 'identifier_keys',
  timeline: 'timeline',
  /** The months each patient's timeline has events in (timeline/projection.ts: month-by-month pages on the embedded store). */
  timelineMonths: 'timeline_months',
  /** What a patient's case summary read, kept until the patient's record changes (timeline/summary-cache.ts). */
  summaryReads: 'summary_reads',
  inbox: 'inbox',
  inboxHashes: 'inbox_hashes',
  inboxBytes: 'inbox_bytes',
  imagingLinkKeys: 'imaging_link_keys',
  dicomwebSync: 'dicomweb_sync',
  storeMeta: 'store_meta',
  waitingPatients: 'waiting_patients',
  deriveOutbox: 'derive_outbox',
  asyncJobs: 'async_jobs',
  /** Access records not yet chained into AuditEvents (store/audit-trail.ts). */
  auditBuffer: 'audit_buffer',
  /** The audit hash chain's head (store/audit-trail.ts). */
  auditChain: 'audit_chain',
  /** The embedded OAuth provider's sessions, grants, codes, tokens and keys (api/auth/provider-adapter.ts). */
  oauth: 'oauth',
  /** Case packs shared outside the hospital, by the hash of the link's secret (fhir/case-share.ts). */
  caseShares: 'case_shares',
  /** Whose access each Subscription's notifications are checked against (fhir/subscriptions.ts). */
  subscriptionOwners: 'subscription_owners',
  /** Subscription notifications to send, being retried, or sent (kept a day against repeats; fhir/subscription-delivery.ts). */
  subscriptionNotifications: 'subscription_notifications',
} as const;
export type CollectionRole = keyof typeof COLLECTION_NAMES;

/**
 * The MongoDB indexes of each collection. On MongoDB they make every hot query one index scan.
 */
export const INDEXES: Partial<Record<CollectionRole, IndexDescription[]>> = {
  resources: [
    // A type's resources by last update (type-level search, _history).
    { key: { rt: 1, lu: -1 }, name: 'type_lastUpdated' },
    // One patient's compartment, by type ($everything, timeline rebuild, per-patient searches).
    { key: { patients: 1, rt: 1, lu: -1 }, name: 'patient_type' },
    // The exact value a search names as its top-level equality (every token, reference and uri
    // parameter: code, identifier, subject, target, …), within a type.
    { key: { rt: 1, keys: 1, lu: -1 }, name: 'type_keys' },
    // Every other search value (dates, quantities, numbers, strings, _content words).
    { key: { 'sp.$**': 1 }, name: 'search_values' },
  ],
  history: [
    { key: { rt: 1, id: 1, vid: -1 }, name: 'type_id_version' },
    { key: { rt: 1, lu: -1 }, name: 'type_lastUpdated' },
  ],
  journal: [{ key: { status: 1, startedAt: 1 }, name: 'status_started' }],
  journalSteps: [{ key: { tx: 1, n: 1 }, name: 'tx_n' }],
  timeline: [
    { key: { patient: 1, time: -1, _id: -1 }, name: 'patient_time' },
    { key: { patient: 1, lane: 1, time: -1, _id: -1 }, name: 'patient_lane_time' },
    { key: { refs: 1 }, name: 'refs' },
    { key: { patient: 1, lastUpdated: -1 }, name: 'patient_lastUpdated' },
  ],
  inbox: [
    { key: { status: 1, receivedAt: -1 }, name: 'status_received' },
    { key: { kind: 1, receivedAt: -1 }, name: 'kind_received' },
  ],
  waitingPatients: [
    { key: { key: 1 }, name: 'key' },
    { key: { entryId: 1 }, name: 'entry' },
  ],
  asyncJobs: [{ key: { status: 1, finishedAt: 1 }, name: 'status_finished' }],
  subscriptionNotifications: [{ key: { state: 1, createdAt: 1 }, name: 'state_created' }],
};

/**
 * The top-level fields each collection's hot queries name as scalar equalities (`_id` always).
 * The embedded store indexes exactly these (tools/ferretdb/ginindex.go): its query engine pushes
 * only top-level scalar equality down to PostgreSQL, so every hot query carries one of them.
 */
export const EQUALITY_KEYS: Partial<Record<CollectionRole, string[]>> = {
  resources: ['rt', 'patients', 'keys'],
  history: ['rt', 'id'],
  journal: ['status'],
  journalSteps: ['tx'],
  timeline: ['patient', 'refs', 'pm'],
  inbox: ['status', 'kind'],
  waitingPatients: ['key', 'entryId'],
  asyncJobs: ['status'],
  subscriptionNotifications: ['state'],
};

/** EQUALITY_KEYS in the embedded store launcher's `-gin` form: "coll=k1,k2;coll2=k3". */
export function equalityKeySpec(): string {
  return Object.entries(EQUALITY_KEYS)
    .map(([role, keys]) => `${COLLECTION_NAMES[role as CollectionRole]}=${keys.join(',')}`)
    .join(';');
}

export interface Collections {
  resources: Collection<ResourceDoc>;
  history: Collection<HistoryDoc>;
  journal: Collection<JournalDoc>;
  journalSteps: Collection<JournalStepDoc>;
  identifiers: Collection<IdentifierKeyDoc>;
}

/** The collections of a database. */
export function collections(db: Db): Collections {
  return {
    resources: db.collection<ResourceDoc>(COLLECTION_NAMES.resources),
    history: db.collection<HistoryDoc>(COLLECTION_NAMES.history),
    journal: db.collection<JournalDoc>(COLLECTION_NAMES.journal),
    journalSteps: db.collection<JournalStepDoc>(COLLECTION_NAMES.journalSteps),
    identifiers: db.collection<IdentifierKeyDoc>(COLLECTION_NAMES.identifiers),
  };
}

/** Creates every collection's indexes (idempotent). */
export async function ensureIndexes(db: Db): Promise<void> {
  for (const [role, specs] of Object.entries(INDEXES)) {
    await createEach(db.collection(COLLECTION_NAMES[role as CollectionRole]), specs);
  }
}

/**
 * One createIndexes command per index: FerretDB 1.24 panics (and drops the connection) when a
 * single createIndexes command lists several indexes that already exist.
 */
export async function createEach<T extends Document>(collection: Collection<T>, specs: IndexDescription[]): Promise<void> {
  for (const spec of specs) await collection.createIndexes([spec]);
}
