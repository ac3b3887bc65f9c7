import { randomBytes } from 'node:crypto';
import type { Collection } from 'mongodb';
import type { AuditEvent, Device, Patient, Practitioner, Resource } from '@medplum/fhirtypes';
import { OperationOutcomeError } from '@medplum/core';
import { COLLECTION_NAMES, resourceOf } from '../schema/collections.ts';
import { resourceKey } from '../schema/resource-id.ts';
import type { Database } from './db.ts';
import { Repository } from './repository.ts';
import { systemContext, type RequestContext } from './request-context.ts';
import { AUDIT_SYSTEMS, type AgentReference, GENESIS_HASH, MAX_AUDITED_RESOURCES, auditEventId, buildAuditEvent, chainFields, chainHash, sealAuditEvent, type AccessRecord } from './audit-event.ts';
import { isDuplicateKey } from './duplicate-key.ts';
import { findAnyOf } from './find-any-of.ts';
import type { BundleWriteScope } from './reference-check.ts';

export { type AccessRecord } from './audit-event.ts';

/**
 * The access audit trail (NEN 7513): every request's access record is first made durable in a
 * buffer collection (one batched insert for all concurrent requests: group commit), then a
 * background chainer turns each buffered record, in buffer order, into one AuditEvent resource
 * (audit-000000000001, …) stored through the repository, linked by a SHA-256 hash chain.
 *
 * Crash safety without transactions: before its AuditEvent is written, a record claims its
 * sequence with a document of its own (`_id` "seq-<sequence>", inserted atomically, holding the
 * exact AuditEvent); AuditEvents are written in sequence order, then the records leave the buffer,
 * then the head moves, then the claims go. A restart finishes the claims after the head (writes each
 * AuditEvent or finds it written, removes its buffer entry), so a record is never lost and never
 * chained twice.
 * Meant for one chainer per database (one IDR process); a second one neither forks the chain (the
 * claims are exclusive) nor chains a record twice (a head behind the stored chain catches up
 * first), but a pass that loses a race fails and the next one carries on.
 */

/** A buffered access record. `_id` sorts in arrival order: "<ms since epoch, 13 digits>-<instance>-<counter>". */
export interface AuditBufferDoc {
  _id: string;
  at: Date;
  record: AccessRecord;
}

/** The chain head (`_id` "head"): the last chained sequence and hash. */
export interface AuditChainDoc {
  _id: string;
  sequence: number;
  hash: string;
}

/** The claim of one sequence by one buffered record (`_id` "seq-<12 digits>"), removed once chained. */
export interface AuditClaimDoc {
  _id: string;
  sequence: number;
  bufferId: string;
  /** The hash the claim links to (the head's when it was claimed). */
  previous: string;
  hash: string;
  /** The AuditEvent as it is written (JSON), so a restart writes exactly that. */
  json: string;
}

export interface AuditLogger {
  info: (obj: object, msg?: string) => void;
  warn: (obj: object, msg?: string) => void;
  error: (obj: object, msg?: string) => void;
}

export interface AuditTrailOptions {
  database: Database;
  logger: AuditLogger;
  /** How often the background chainer looks at the buffer (default 1000 ms). */
  flushIntervalMs?: number;
  clock?: () => Date;
  /** AuditEvent.source.observer display (default "IDR"). */
  observerName?: string;
}

export interface VerifyResult {
  ok: boolean;
  checked: number;
  firstBroken?: { sequence: number; id: string; reason: string };
}

/** Where a simulated crash stops the chainer (tests): after the claims, after the first AuditEvent is written, after the buffer entries are removed, after the head moved. */
export type ChainStep = 'claim' | 'event' | 'buffer' | 'head';

/** Thrown by a simulated crash (tests only). */
export class SimulatedCrash extends Error {}

const HEAD_ID = 'head';

/** The last chaining pass per database (see `flush`). */
const passesByDatabase = new WeakMap<object, Promise<unknown>>();
/** Records chained per round (claimed in one insert). */
const CHAIN_BATCH = 50;
const STOP_WAIT_MS = 10_000;

interface Waiter {
  doc: AuditBufferDoc;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class AuditTrail {
  readonly buffer: Collection<AuditBufferDoc>;
  readonly chain: Collection<AuditChainDoc>;
  /** The same collection, for the claims. */
  readonly claims: Collection<AuditClaimDoc>;
  /** How many insertMany calls record() has made (group commit shows as fewer calls than records). */
  insertCalls = 0;
  /** Tests: the step after which the next chaining pass stops as if the process died. */
  crashAfter: ChainStep | undefined;
  private readonly database: Database;
  private readonly repo: Repository;
  private readonly logger: AuditLogger;
  private readonly clock: () => Date;
  private readonly observer: string;
  private readonly intervalMs: number;
  private readonly ctx: RequestContext;
  private readonly instance = randomBytes(4).toString('hex');
  private counter = 0;
  private queue: Waiter[] = [];
  private inserting = false;
  private readonly agents = new Map<string, AgentReference>();
  /** Buffered records whose AuditEvent could not be written as built: built again without references to data resources. */
  private readonly degraded = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  /** Bumped when stop() gives up waiting: a pass of an older generation stops after its current batch. */
  private generation = 0;

  constructor(options: AuditTrailOptions) {
    this.database = options.database;
    this.clock = options.clock ?? (() => new Date());
    this.repo = new Repository(options.database, this.clock);
    this.logger = options.logger;
    this.observer = options.observerName ?? 'IDR';
    this.intervalMs = options.flushIntervalMs ?? 1000;
    this.buffer = options.database.db.collection<AuditBufferDoc>(COLLECTION_NAMES.auditBuffer);
    this.chain = options.database.db.collection<AuditChainDoc>(COLLECTION_NAMES.auditChain);
    this.claims = options.database.db.collection<AuditClaimDoc>(COLLECTION_NAMES.auditChain);
    this.ctx = systemContext('audit');
  }

  /**
   * Resolves once the record is in the buffer collection; rejects if it cannot be (the caller then
   * fails the request closed). Concurrent calls share one insertMany.
   */
  record(r: AccessRecord): Promise<void> {
    const now = this.clock();
    const doc: AuditBufferDoc = { _id: `${String(now.getTime()).padStart(13, '0')}-${this.instance}-${String(this.counter++).padStart(9, '0')}`, at: now, record: stored(r, now) };
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ doc, resolve, reject });
      // The first record of a batch waits one turn of the event loop for the others of this moment;
      // records arriving while an insert runs go into the next one.
      if (this.queue.length === 1 && !this.inserting) setImmediate(() => void this.insertQueued());
    });
  }

  private async insertQueued(): Promise<void> {
    if (this.inserting || !this.queue.length) return;
    this.inserting = true;
    const batch = this.queue;
    this.queue = [];
    try {
      this.insertCalls++;
      await this.buffer.insertMany(
        batch.map((w) => w.doc),
        { ordered: true },
      );
      for (const w of batch) w.resolve();
    } catch (err) {
      this.logger.error({ err, records: batch.length }, 'audit records could not be buffered');
      for (const w of batch) w.reject(err);
    } finally {
      this.inserting = false;
      if (this.queue.length) void this.insertQueued();
    }
  }

  /** Starts the background chainer: a pass now and every flushIntervalMs. */
  start(): void {
    if (this.timer) return;
    const tick = (): void => {
      if (this.running) return;
      void this.flush().catch((err: unknown) => this.logger.error({ err }, 'chaining audit records failed; they stay buffered and are retried'));
    };
    this.timer = setInterval(tick, this.intervalMs);
    this.timer.unref();
    tick();
  }

  /** Stops the chainer after chaining what is buffered (waits at most a few seconds). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const deadline = Date.now() + STOP_WAIT_MS;
    while ((this.inserting || this.queue.length) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    const last = this.flush().catch((err: unknown) => this.logger.error({ err }, 'chaining audit records at shutdown failed; they stay buffered for the next start'));
    let timeout: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolve) => (timeout = setTimeout(resolve, Math.max(0, deadline - Date.now()))));
    await Promise.race([last, timedOut]);
    clearTimeout(timeout);
    if (this.running) this.generation++; // the pass still running stops after its current batch
  }

  /**
   * Chains everything buffered now: one pass after any running one — of this trail or of any other
   * trail of this process on the same database, so passes within one process never race (across
   * processes the sequence claims keep the chain whole).
   */
  flush(): Promise<void> {
    const key = this.database.db;
    const pass = (passesByDatabase.get(key) ?? Promise.resolve()).then(() => this.chainAll());
    passesByDatabase.set(key, pass.catch(() => undefined));
    return pass;
  }

  private async chainAll(): Promise<void> {
    this.running = true;
    const generation = this.generation;
    try {
      let head = await this.recover(await this.readHead());
      for (;;) {
        if (this.generation !== generation) return;
        const batch = await this.buffer.find({}).sort({ _id: 1 }).limit(CHAIN_BATCH).toArray();
        if (!batch.length) return;
        head = await this.chainBatch(head, batch);
      }
    } finally {
      this.running = false;
    }
  }

  private async readHead(): Promise<AuditChainDoc> {
    const head = await this.chain.findOne({ _id: HEAD_ID });
    if (head) return head;
    const fresh: AuditChainDoc = { _id: HEAD_ID, sequence: 0, hash: GENESIS_HASH };
    await this.chain.insertOne(fresh).catch((err: unknown) => {
      if (!isDuplicateKey(err)) throw err;
    });
    return (await this.chain.findOne({ _id: HEAD_ID })) ?? fresh;
  }

  /**
   * Finishes what a pass that died left: the claims after the head, in order (AuditEvent, buffer
   * entry, head). A claim that no longer links to the head, or can no longer be written, is given
   * up with every claim after it (their records are still buffered and are built again).
   */
  private async recover(head: AuditChainDoc): Promise<AuditChainDoc> {
    for (;;) {
      const claim = await this.claims.findOne({ _id: claimId(head.sequence + 1) });
      if (!claim) break;
      this.logger.warn({ sequence: claim.sequence, bufferId: claim.bufferId }, 'finishing an audit record an earlier chainer had claimed');
      const done = claim.previous === head.hash && (await this.writeEvent(claim, true));
      if (!done) {
        await this.dropClaimsFrom(claim.sequence);
        break;
      }
      head = await this.settle(head, [claim]);
    }
    // What is left: claims of records chained already (a crash after the head moved) and claims
    // after one given up (nothing links to them). Not the next one: a claim inserted just now.
    await this.claims.deleteMany({ _id: { $ne: HEAD_ID }, sequence: { $ne: head.sequence + 1 } });
    return head;
  }

  /**
   * Chains buffered records: their AuditEvents built and sealed in order, the next sequences claimed
   * (one insert: each claim holds its exact AuditEvent), the AuditEvents written in sequence order,
   * then their buffer entries removed, the head moved, and the claims removed.
   */
  private async chainBatch(head: AuditChainDoc, docs: AuditBufferDoc[]): Promise<AuditChainDoc> {
    // A head behind the stored chain (another chainer moved on): catch up instead of forking.
    const ahead = await this.storedChainFields(head.sequence + 1);
    if (ahead) {
      const recovered = await this.recover(head);
      if (recovered.sequence > head.sequence) return recovered;
      return this.advance(head.sequence + 1, ahead.hash ?? '');
    }
    const records = docs.map((d) => revive(d.record));
    const existing = await this.existingReferences(records);
    const claims: AuditClaimDoc[] = [];
    let previous = head.hash;
    for (const [i, doc] of docs.entries()) {
      const sequence = head.sequence + 1 + i;
      const event = await this.eventFor(records[i] as AccessRecord, sequence, previous, this.degraded.has(doc._id) ? new Set() : existing);
      const hash = sealAuditEvent(event, previous);
      claims.push({ _id: claimId(sequence), sequence, bufferId: doc._id, previous, hash, json: JSON.stringify(event) });
      previous = hash;
    }
    try {
      await this.claims.insertMany(claims, { ordered: true });
    } catch (err) {
      // Claimed already (by an earlier or another chainer): finish those; our records stay buffered.
      if (!isDuplicateKey(err)) throw err;
      const inserted = (err as { insertedCount?: number }).insertedCount ?? 0;
      await Promise.all(claims.slice(0, inserted).map((c) => this.claims.deleteOne({ _id: c._id, hash: c.hash })));
      return this.recover(head);
    }
    this.crashPoint('claim');
    const written: AuditClaimDoc[] = [];
    for (const claim of claims) {
      if (!(await this.writeEvent(claim, false, existing))) {
        await this.dropClaimsFrom(claim.sequence);
        this.degraded.add(claim.bufferId);
        break;
      }
      written.push(claim);
      this.crashPoint('event');
    }
    return written.length ? this.settle(head, written) : head;
  }

  /** After their AuditEvents are written: the records leave the buffer, the head moves to the last, the claims go. */
  private async settle(head: AuditChainDoc, written: AuditClaimDoc[]): Promise<AuditChainDoc> {
    await Promise.all(written.map((c) => this.buffer.deleteOne({ _id: c.bufferId })));
    for (const c of written) this.degraded.delete(c.bufferId);
    this.crashPoint('buffer');
    const last = written[written.length - 1] as AuditClaimDoc;
    const next = last.sequence > head.sequence ? await this.advance(last.sequence, last.hash) : head;
    this.crashPoint('head');
    await Promise.all(written.map((c) => this.claims.deleteOne({ _id: c._id })));
    return next;
  }

  /** Gives up the claims from a sequence on (none of them has its AuditEvent: they are written in order). */
  private async dropClaimsFrom(sequence: number): Promise<void> {
    await this.claims.deleteMany({ _id: { $ne: HEAD_ID }, sequence: { $gte: sequence } });
  }

  private crashPoint(step: ChainStep): void {
    if (this.crashAfter !== step) return;
    this.crashAfter = undefined;
    throw new SimulatedCrash(`simulated crash after step "${step}"`);
  }

  /** Moves the head forward (never back: a slower chainer finishing the same record leaves a newer head alone). */
  private async advance(sequence: number, hash: string): Promise<AuditChainDoc> {
    await this.chain.updateOne({ _id: HEAD_ID, sequence: { $lt: sequence } }, { $set: { sequence, hash } });
    return { _id: HEAD_ID, sequence, hash };
  }

  /**
   * Writes a claimed AuditEvent unless it is there already (written before a crash). False when it
   * can no longer be written as claimed (e.g. a resource it names was deleted meanwhile): the
   * record stays buffered and is built again.
   */
  private async writeEvent(claim: AuditClaimDoc, mayExist: boolean, verified?: ReadonlySet<string>): Promise<boolean> {
    const id = auditEventId(claim.sequence);
    const existing = mayExist ? await this.storedChainFields(claim.sequence) : undefined;
    if (existing) {
      if (existing.hash === claim.hash) return true;
      throw new Error(`AuditEvent/${id} exists with another hash than its claim`);
    }
    try {
      // What the batch's one lookup found live is not looked up again for each AuditEvent (a search
      // page's record names up to 100 resources); the agents and anything else are.
      const scope: BundleWriteScope = verified ? { verifiedTargets: verified } : {};
      await this.repo.create(this.ctx, JSON.parse(claim.json) as AuditEvent, { id, scope });
      return true;
    } catch (err) {
      if (!(err instanceof OperationOutcomeError)) throw err;
      const now = await this.storedChainFields(claim.sequence);
      if (now?.hash === claim.hash) return true; // written concurrently by another chainer finishing the same claim
      if (now) throw err;
      this.logger.warn({ err, sequence: claim.sequence }, 'a claimed audit record could not be written as built; it is built again');
      return false;
    }
  }

  /** The chain fields of the stored AuditEvent at a sequence, or undefined when there is none. */
  private async storedChainFields(sequence: number): Promise<ReturnType<typeof chainFields> | undefined> {
    const doc = await this.database.c.resources.findOne({ _id: resourceKey('AuditEvent', auditEventId(sequence)) }, { projection: { json: 1 } });
    const res = resourceOf<AuditEvent>(doc);
    return res ? chainFields(res) : undefined;
  }

  /** The "Type/id" references of the records that name live resources (one lookup for a batch). */
  private async existingReferences(records: AccessRecord[]): Promise<Set<string>> {
    const refs = records.flatMap((r) => [...r.patients.map((p) => `Patient/${p}`), ...r.resources.slice(0, MAX_AUDITED_RESOURCES)]).filter((r) => /^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/.test(r));
    // Only the ids: the embedded store sends no resource text back (about half the cost of reading them).
    const live = await findAnyOf(this.database.c.resources, { deleted: false }, '_id', refs, { projection: { _id: 1 } });
    return new Set(live.map((d) => d._id));
  }

  /** The AuditEvent of one record (agents created as needed; only references to stored resources). */
  private async eventFor(record: AccessRecord, sequence: number, previousHash: string, existing: ReadonlySet<string>): Promise<AuditEvent> {
    const user = await this.userReference(record.agent);
    const client = record.agent.client ? await this.clientReference(record.agent.issuer, record.agent.client) : undefined;
    return buildAuditEvent({ record, sequence, previousHash, observer: this.observer, user, ...(client ? { client } : {}), existing });
  }

  /** The user as a Practitioner (Patient for patient users, Device for IDR's components), created once per subject. */
  private async userReference(agent: AccessRecord['agent']): Promise<AgentReference> {
    const system = agent.issuer || AUDIT_SYSTEMS.idrAgents;
    const identifier = [{ system, value: agent.subject }];
    if (agent.subject.startsWith('system:')) {
      const name = agent.subject.slice('system:'.length) || agent.subject;
      return this.agentReference({ resourceType: 'Device', identifier, deviceName: [{ name: agent.name ?? name, type: 'user-friendly-name' }], type: application() }, agent.name ?? agent.subject);
    }
    // A patient user is the Patient of their token's context: never a second Patient made up for the login.
    if (agent.role === 'patient' && agent.patient) return { reference: `Patient/${agent.patient}`, display: agent.name ?? agent.subject };
    if (agent.role === 'patient') {
      return this.agentReference({ resourceType: 'Patient', identifier, ...(agent.name ? { name: [{ text: agent.name }] } : {}) } satisfies Patient, agent.name ?? agent.subject);
    }
    return this.agentReference({ resourceType: 'Practitioner', identifier, ...(agent.name ? { name: [{ text: agent.name }] } : {}) } satisfies Practitioner, agent.name ?? agent.subject);
  }

  /** The OAuth client as a Device of type DICOM 110150 Application. */
  private async clientReference(issuer: string, client: string): Promise<AgentReference> {
    const device: Device = { resourceType: 'Device', identifier: [{ system: issuer || AUDIT_SYSTEMS.idrAgents, value: client }], deviceName: [{ name: client, type: 'user-friendly-name' }], type: application() };
    return this.agentReference(device, client);
  }

  /** Finds or creates (conditional create: a deterministic id, so it happens once) the resource carrying the agent's identifier. */
  private async agentReference(resource: Resource & { identifier?: { system?: string; value?: string }[] }, display: string): Promise<AgentReference> {
    const id = resource.identifier?.[0];
    const query = `identifier=${encodeURIComponent(id?.system ?? '')}|${encodeURIComponent(id?.value ?? '')}`;
    const key = `${resource.resourceType}?${query}`;
    const cached = this.agents.get(key);
    if (cached) return cached;
    const written = await this.repo.create(this.ctx, resource, { ifNoneExist: query });
    const ref: AgentReference = { reference: `${resource.resourceType}/${written.resource.id}`, display };
    this.agents.set(key, ref);
    return ref;
  }

  /**
   * Walks the chain from record 1 (one `_id` lookup each) and reports the first record whose
   * content or link does not match: "missing", "previous-hash mismatch" or "content altered".
   */
  async verify(): Promise<VerifyResult> {
    const head = await this.chain.findOne({ _id: HEAD_ID });
    const last = head?.sequence ?? 0;
    let previous = GENESIS_HASH;
    let checked = 0;
    for (let sequence = 1; sequence <= last; sequence++) {
      const id = auditEventId(sequence);
      const broken = (reason: string): VerifyResult => ({ ok: false, checked, firstBroken: { sequence, id, reason } });
      const doc = await this.database.c.resources.findOne({ _id: resourceKey('AuditEvent', id) }, { projection: { json: 1, deleted: 1 } });
      const event = resourceOf<AuditEvent>(doc);
      if (!doc || doc.deleted || !event) return broken('missing');
      let fields: ReturnType<typeof chainFields>;
      try {
        fields = chainFields(event);
      } catch {
        return broken('content altered');
      }
      if (fields.previousHash !== previous) return broken('previous-hash mismatch');
      if (fields.sequence !== sequence || event.id !== id || fields.hash !== chainHash(previous, event)) return broken('content altered');
      previous = fields.hash;
      checked++;
    }
    if (head && head.hash !== previous) return { ok: false, checked, firstBroken: { sequence: last, id: auditEventId(last), reason: 'chain head does not match the last record' } };
    return { ok: true, checked };
  }
}

function claimId(sequence: number): string {
  return `seq-${String(sequence).padStart(12, '0')}`;
}

function application(): Device['type'] {
  return { coding: [{ system: AUDIT_SYSTEMS.dcm, code: '110150', display: 'Application' }] };
}

/** The record as buffered: only its own fields (a caller's object may carry more), strings trimmed, empty ones left out, so every record builds a valid AuditEvent. */
function stored(r: AccessRecord, now: Date): AccessRecord {
  const a = r.agent ?? ({} as Partial<AccessRecord['agent']>);
  const text = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() ? v.trim() : undefined);
  const texts = (v: unknown): string[] => (Array.isArray(v) ? v.flatMap((x) => text(x) ?? []) : []);
  const agent: AccessRecord['agent'] = { subject: text(a.subject) ?? 'unknown', issuer: text(a.issuer) ?? '', role: text(a.role) ?? 'unknown' };
  for (const k of ['name', 'client', 'address', 'patient'] as const) {
    const v = text(a[k]);
    if (v) agent[k] = v;
  }
  const resources = texts(r.resources);
  const out: AccessRecord = {
    time: r.time instanceof Date && !Number.isNaN(r.time.getTime()) ? new Date(r.time.getTime()) : now,
    requestId: text(r.requestId) ?? 'unknown',
    agent,
    purpose: text(r.purpose) ?? 'unspecified',
    interaction: (text(r.interaction) ?? 'operation') as AccessRecord['interaction'],
    action: ['C', 'R', 'U', 'D', 'E'].includes(r.action) ? r.action : 'E',
    outcome: ['success', 'denied', 'failed'].includes(r.outcome) ? r.outcome : 'failed',
    status: Number.isInteger(r.status) ? r.status : 0,
    patients: texts(r.patients),
    // Only the first ones are named in the AuditEvent; the count keeps how many there were.
    resources: resources.slice(0, MAX_AUDITED_RESOURCES),
    resourceCount: Math.max(Number.isInteger(r.resourceCount) ? (r.resourceCount as number) : 0, resources.length),
    types: texts(r.types),
  };
  const breakGlass = text(r.breakGlass);
  if (breakGlass !== undefined) out.breakGlass = breakGlass;
  else if (typeof r.breakGlass === 'string') out.breakGlass = 'no reason given';
  const reason = text(r.reason);
  if (reason !== undefined) out.reason = reason;
  const query = text(r.query);
  if (query !== undefined) out.query = query;
  return out;
}

/** The record as read back from the buffer. */
function revive(r: AccessRecord): AccessRecord {
  return { ...r, time: r.time instanceof Date ? r.time : new Date(r.time) };
}
