import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { Bundle, BundleEntry, Patient, Resource } from '@medplum/fhirtypes';
import type { Logger } from 'pino';
import type { Repository } from '../store/repository.ts';
import { systemContext, type RequestContext } from '../store/request-context.ts';
import { INBOX_STATUS, duplicateKey, type Inbox, type InboxEntry, type InboxError, type StoreInput } from './inbox.ts';
import { processBundle } from '../fhir/bundle-processor.ts';
import { OperationOutcomeError } from '@medplum/core';
import { AdapterError, type AdapterContext, type AdapterOutput } from './adapters/types.ts';
import type { RegisteredAdapter } from './adapter-registry.ts';
import { resolvePatients } from './patient-matching.ts';
import { mergeReportResults } from './report-merging.ts';
import { withProvenance } from './provenance.ts';
import { KeyedLock } from './keyed-lock.ts';
import { isStoreUnavailable } from '../store/store-unavailable.ts';
import { PatientNotKnownError } from './imaging/known-patients.ts';
import { WriteBatch } from '../store/write-batch.ts';
import { identifierKeys, identifierOnlyQuery } from '../store/identifier-index.ts';

/**
 * The ingestion pipeline shared by every way in (MLLP, HTTP, CLI, DICOMweb, seed):
 * raw bytes -> inbox (stored first) -> adapter (pure) -> patient matching -> transaction Bundle
 * with Provenance -> repository. Nothing is lost on failure: the entry stays in the inbox with
 * status "failed" and the reason, and can be reprocessed.
 */

/** A raw input as the ways in hand it over: the same shape the inbox stores. */
export type IngestInput = StoreInput;

export interface IngestResult {
  inboxId: string;
  status: 'processed' | 'duplicate' | 'failed' | 'waiting';
  label?: string;
  externalId?: string;
  /** "Type/id/_history/vid" of the resources written (for duplicates: those of the original). */
  outputs: string[];
  warnings: string[];
  error?: InboxError;
  duplicateOf?: string;
  /** Status "waiting": the patient identifiers ("system|value") the input waits for. */
  waitingFor?: string[];
}

/**
 * Runs after a successful write, e.g. to link a radiology report to its ImagingStudy; told of what
 * the input wrote: its locations ("Type/id/_history/n") and the versions written.
 */
export type AfterWriteHook = (written: string[], entries: readonly InboxEntry[], resources: readonly Resource[]) => Promise<void>;

/** At most this many inputs are written together, in one transaction (see `processMany`). */
const GROUP_MAX = 50;
/** A round's transaction takes further inputs only while it has fewer entries than this (large messages make small rounds). */
const ROUND_MAX_ENTRIES = 1000;

/** Thrown by `receive` and `process` once the pipeline stops accepting work (shutdown). */
export class PipelineClosedError extends Error {
  constructor() {
    super('IDR is shutting down: not processed now; a stored input is processed at the next start');
  }
}

export class Pipeline {
  readonly repo: Repository;
  readonly inbox: Inbox;
  private readonly adapters: Record<string, RegisteredAdapter>;
  private readonly identifierSystem: AdapterContext['identifierSystem'];
  private readonly logger: Logger | undefined;
  private readonly hooks: AfterWriteHook[] = [];
  private readonly commitHooks: AfterWriteHook[] = [];
  /** Inputs being processed now (drained at shutdown). */
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Ids of the entries being processed (or waiting for their lock) now, with how many times. */
  private readonly processing = new Map<string, number>();
  /** Ids of the entries whose processing the database's absence interrupted (still "received"). */
  private readonly interrupted = new Set<string>();
  private closed = false;
  /** Processing waits for this (start-up recovery: what a dead process half-wrote is rolled back first). */
  private gate: Promise<unknown> = Promise.resolve();
  /** Copies of one input, and inputs about one patient, are processed one at a time. */
  private readonly locks = new KeyedLock();
  /** Waiting entries being filed now (a second notice about the same patient skips them). */
  private readonly filing = new Set<string>();

  constructor(options: { repo: Repository; inbox: Inbox; adapters: Record<string, RegisteredAdapter>; identifierSystem: AdapterContext['identifierSystem']; logger?: Logger }) {
    this.repo = options.repo;
    this.inbox = options.inbox;
    this.adapters = options.adapters;
    this.identifierSystem = options.identifierSystem;
    this.logger = options.logger;
  }

  /** Registers a hook that runs after each successful write. */
  afterWrite(hook: AfterWriteHook): void {
    this.hooks.push(hook);
  }

  /**
   * Registers a hook that runs after the write and before the entry is marked processed, to record
   * durably what must follow (the derived-data outbox): a crash before it leaves the entry
   * "received", processed again at the next start; its failure fails the entry.
   */
  afterCommit(hook: AfterWriteHook): void {
    this.commitHooks.push(hook);
  }

  /**
   * Holds processing (not receiving: inputs are stored meanwhile) until `ready` settles, e.g. while
   * start-up rolls back the journals of a process that died, so nothing is written on top of them.
   */
  holdUntil(ready: Promise<unknown>): void {
    this.gate = ready.catch(() => undefined);
  }

  /** Stops accepting inputs: `receive` and `process` refuse from now on (PipelineClosedError). */
  stopAccepting(): void {
    this.closed = true;
  }

  /**
   * Waits until the inputs being processed are done, at most `timeoutMs`; returns how many were
   * still running then (abandoned: their entries stay "received", their journals are rolled back
   * at the next start).
   */
  async drain(timeoutMs: number): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    while (this.inFlight.size) {
      const done = await Promise.race([Promise.allSettled([...this.inFlight]).then(() => true), timeout.then(() => false)]);
      if (!done) break;
    }
    clearTimeout(timer);
    return this.inFlight.size;
  }

  /** Stores the raw input durably; after this returns, nothing can be lost. */
  async receive(input: IngestInput): Promise<InboxEntry> {
    if (this.closed) throw new PipelineClosedError();
    if (!this.adapters[input.kind]) throw new Error(`no adapter for input kind "${input.kind}"`);
    return this.inbox.store(input);
  }

  /** Stores several raw inputs durably, in order (a batch's entries in two inserts). */
  async receiveMany(inputs: readonly IngestInput[]): Promise<InboxEntry[]> {
    if (this.closed) throw new PipelineClosedError();
    const unknown = inputs.find((i) => !this.adapters[i.kind]);
    if (unknown) throw new Error(`no adapter for input kind "${unknown.kind}"`);
    return this.inbox.storeMany(inputs);
  }

  /** Stores and processes one input. */
  async ingest(input: IngestInput): Promise<IngestResult> {
    return this.process(await this.receive(input));
  }

  /** Stores and processes several inputs (see `processMany`). */
  async ingestMany(inputs: readonly IngestInput[]): Promise<IngestResult[]> {
    return this.processMany(await this.receiveMany(inputs));
  }

  /**
   * Processes stored entries, with the results in their order, GROUP_MAX at a time, each group in
   * rounds of one transaction: a transaction costs the store about as many commands for fifty
   * messages as for one (about 4 per lab message instead of 30 alone). A round holds the first
   * message left of every patient of the group, and the patient's further messages that share its
   * Patient entry unchanged, unless they write a resource another member writes (see
   * `chooseMembers`); it takes further messages while it has fewer than ROUND_MAX_ENTRIES entries.
   * Copies, inputs that fail or wait, and the inputs of a round the store refuses are processed
   * one by one after the group, exactly as `process` does, so each keeps its own outcome.
   * `options.stop` is asked between transactions (e.g. the client went away): the rest stay
   * received.
   */
  async processMany(entries: readonly InboxEntry[], options: { stop?: () => boolean; progress?: (done: number) => void } = {}): Promise<IngestResult[]> {
    const results: IngestResult[] = [];
    let done = 0;
    for (let i = 0; i < entries.length && !options.stop?.(); i += GROUP_MAX) {
      const group = entries.slice(i, i + GROUP_MAX);
      const together = new Map<string, IngestResult>();
      const converted = new Map<string, Converted>();
      // Rounds: each writes the first input left of every patient, until a round writes fewer than two.
      let left = group;
      while (left.length > 1 && !options.stop?.()) {
        const round = left;
        const written = await this.heldAll(round, () => this.writeTogether(round, converted));
        for (const [id, result] of written) together.set(id, result);
        left = round.filter((e) => !written.has(e._id));
        if (written.size) options.progress?.((done += written.size));
        if (written.size < 2) break;
      }
      for (const entry of group) {
        const result = together.get(entry._id);
        if (result) {
          results.push(result);
          continue;
        }
        if (options.stop?.()) return results;
        results.push(await this.process(entry));
        options.progress?.(++done);
      }
    }
    return results;
  }

  /**
   * Processes (or re-processes) a stored entry. Copies of the same bytes are processed one after
   * the other, so a retransmission arriving while the original is processed is answered as a
   * duplicate once the original is done, never as a conflict.
   */
  async process(entry: InboxEntry, options: { fileWaiting?: boolean } = {}): Promise<IngestResult> {
    return this.held(entry, () => this.processHeld(entry, options.fileWaiting ?? true));
  }

  /** Runs `work` holding the entry's lock, counted as in flight (shutdown waits for it). */
  private async held<T>(entry: InboxEntry, work: () => Promise<T>): Promise<T> {
    return this.heldAll([entry], work);
  }

  /** Runs `work` holding the locks of all these entries, each counted as in flight; the database's absence leaves them all to `retryInterrupted`. */
  private async heldAll<T>(entries: readonly InboxEntry[], work: () => Promise<T>): Promise<T> {
    if (this.closed) throw new PipelineClosedError();
    for (const e of entries) this.processing.set(e._id, (this.processing.get(e._id) ?? 0) + 1);
    const keys = entries.map((e) => `input|${duplicateKey(e)}`);
    const running = this.gate.then(() => this.locks.with(keys, () => (this.closed ? Promise.reject(new PipelineClosedError()) : work())));
    this.inFlight.add(running);
    try {
      return await running;
    } catch (err) {
      if (isStoreUnavailable(err)) for (const e of entries) this.interrupted.add(e._id);
      throw err;
    } finally {
      this.inFlight.delete(running);
      for (const e of entries) {
        const n = (this.processing.get(e._id) ?? 1) - 1;
        if (n) this.processing.set(e._id, n);
        else this.processing.delete(e._id);
      }
    }
  }

  /**
   * Writes together, in one transaction, the entries of a group that can go together (see
   * `processMany`), and returns the results of those it wrote; the others are left to `process`.
   */
  private async writeTogether(entries: readonly InboxEntry[], converted: Map<string, Converted>): Promise<Map<string, IngestResult>> {
    const done = new Map<string, IngestResult>();
    const candidates = await this.convertAll(entries, converted);
    if (candidates.length < 2) return done;
    const ctx = systemContext('ingestion', `ingest-${candidates[0]?.entry._id}`);
    let members: Member[] = [];
    const written = await this.locks.with(
      candidates.flatMap((c) => patientKeys(c.output.bundle)),
      async () => {
        members = await this.chooseMembers(ctx, candidates);
        if (!members.length) return undefined;
        const { bundle, places } = combine(members);
        try {
          const response = await processBundle({ repo: this.repo, baseUrl: '' }, ctx, bundle);
          // The response has one entry per request entry, in order: each member gets back its own, in its order.
          return members.map((m, mi) => (m.bundle.entry ?? []).map((_e, ei) => response.entry?.[places.get(`${mi}:${ei}`) ?? -1] ?? {}));
        } catch (err) {
          if (isStoreUnavailable(err)) throw err;
          this.logger?.info({ inputs: members.length, reason: (err as Error).message }, 'a group of inputs was refused together; each is processed alone');
          return undefined;
        }
      },
    );
    if (!written) return done;
    const results: { entry: InboxEntry; result: IngestResult & { label: string }; adapterVersion: string; resources: Resource[] }[] = [];
    for (const [mi, m] of members.entries()) {
      const mine = written[mi] as BundleEntry[];
      const outputs = mine.map((e) => e.response?.location).filter((l): l is string => !!l);
      const externalId = m.output.bundle.identifier?.value;
      results.push({ entry: m.entry, adapterVersion: m.adapter.version, resources: mine.flatMap((e) => (e.resource ? [e.resource] : [])), result: { inboxId: m.entry._id, status: 'processed', label: m.output.kind, outputs, warnings: m.output.warnings, ...(externalId ? { externalId } : {}) } });
    }
    const allOutputs = results.flatMap((r) => r.result.outputs);
    const allResources = results.flatMap((r) => r.resources);
    const groupEntries = results.map((r) => r.entry);
    for (const hook of this.commitHooks) await hook(allOutputs, groupEntries, allResources);
    await this.inbox.markProcessedMany(
      results.map(({ entry, result, adapterVersion }) => ({ id: entry._id, key: duplicateKey(entry), result: { label: result.label, adapterVersion, outputs: result.outputs, warnings: result.warnings, ...(result.externalId ? { externalId: result.externalId } : {}) } })),
    );
    for (const hook of this.hooks) {
      try {
        await hook(allOutputs, groupEntries, allResources);
      } catch (err) {
        this.logger?.error({ err, inboxIds: groupEntries.map((e) => e._id) }, 'after-write hook failed');
      }
    }
    await this.fileWaiting(members.flatMap((m) => m.patients));
    for (const r of results) done.set(r.entry._id, r.result);
    return done;
  }

  /** What the adapters make of a round's entries, in order: copies, and inputs an adapter refuses, left out (`process` tells them). */
  private async convertAll(entries: readonly InboxEntry[], converted: Map<string, Converted>): Promise<Converted[]> {
    const copies = await this.inbox.processedBefore(entries.map((e) => ({ id: e._id, key: duplicateKey(e) })));
    const seen = new Set<string>();
    const out: Converted[] = [];
    for (const entry of entries) {
      const key = duplicateKey(entry);
      const adapter = this.adapters[entry.kind];
      const first = !seen.has(key);
      seen.add(key);
      if (!adapter || !first || copies.has(entry._id)) continue;
      let c = converted.get(entry._id);
      if (!c) {
        try {
          c = { entry, adapter, output: await adapter.run(await this.inbox.bytes(entry), entry, { now: () => new Date(), newId: randomUUID, identifierSystem: this.identifierSystem }) };
          converted.set(entry._id, c);
        } catch (err) {
          if (isStoreUnavailable(err)) throw err;
          continue;
        }
      }
      out.push(c);
    }
    return out;
  }

  /**
   * The members of a round, in order, each matched to its patient as the store is now. What one
   * member writes no other may write, with one exception: messages about one patient that carry
   * the same demographics share its Patient entry (the later ones join the first), so a burst of
   * one patient's lab messages goes in one round. A message that cannot go (it writes a resource
   * another member writes, or its patient's demographics differ) waits for the next round, and so
   * does every later message about its patient, which keeps each patient's messages in order.
   */
  private async chooseMembers(ctx: RequestContext, candidates: Converted[]): Promise<Member[]> {
    // The identifier claims and current documents the lookups need, read at once.
    const lookups = new WriteBatch(this.repo.database.c);
    await lookups.prefetch([], candidates.flatMap((c) => lookupKeys(c.output.bundle)));
    const members: Member[] = [];
    const waiting = new Set<string>();
    const writtenUrls = new Set<string>();
    const ownerOf = new Map<string, number>();
    let entries = 0;
    for (const c of candidates) {
      const keys = patientKeys(c.output.bundle);
      const wait = (): void => keys.forEach((k) => waiting.add(k));
      if (keys.some((k) => waiting.has(k))) {
        wait();
        continue;
      }
      let matched: Bundle;
      try {
        matched = await mergeReportResults(this.repo, ctx, await resolvePatients(this.repo, ctx, c.output.bundle, { batch: lookups }), { batch: lookups });
      } catch (err) {
        if (isStoreUnavailable(err)) throw err;
        continue;
      }
      const patientEntries = (matched.entry ?? []).filter((e) => e.resource?.resourceType === 'Patient');
      const urls = (matched.entry ?? []).flatMap((e) => (e.resource?.resourceType !== 'Patient' && e.request?.url ? [e.request.url] : []));
      const allKeys = [...new Set([...keys, ...patientKeys(matched), ...patientEntries.flatMap((e) => (e.request?.url ? [e.request.url] : []))])];
      const owners = new Set(allKeys.flatMap((k) => (ownerOf.has(k) ? [ownerOf.get(k) as number] : [])));
      const [owner] = owners;
      const joins = owner !== undefined && owners.size === 1 && patientEntries.length === 1 && samePatient(members[owner] as Member, patientEntries[0] as BundleEntry);
      if ((owners.size && !joins) || urls.some((u) => writtenUrls.has(u))) {
        wait();
        continue;
      }
      if (members.length && entries + (matched.entry?.length ?? 0) > ROUND_MAX_ENTRIES) {
        wait();
        continue;
      }
      entries += (matched.entry?.length ?? 0) + 1;
      for (const u of urls) writtenUrls.add(u);
      for (const k of allKeys) ownerOf.set(k, owner ?? members.length);
      const bundle = withProvenance(matched, { inboxId: c.entry._id, label: c.output.kind, adapterVersion: c.adapter.version, recorded: new Date(), newId: randomUUID });
      members.push({ ...c, bundle, patients: patientKeys(matched).map((k) => k.slice('patient|'.length)), ...(joins ? { joins: owner } : {}) });
    }
    return members;
  }

  private async processHeld(entry: InboxEntry, fileWaiting: boolean, retried = false): Promise<IngestResult> {
    const adapter = this.adapters[entry.kind];
    if (!adapter) return this.failed(entry, { location: '', message: `no adapter for input kind "${entry.kind}"` });
    const duplicateOf = await this.inbox.processedDuplicateOf(duplicateKey(entry), entry._id);
    if (duplicateOf) {
      await this.inbox.markDuplicate(entry._id, duplicateOf);
      const original = await this.inbox.get(duplicateOf);
      return { inboxId: entry._id, status: 'duplicate', duplicateOf, outputs: original?.outputs ?? [], warnings: [], ...(original?.label ? { label: original.label } : {}) };
    }
    const ctx = systemContext('ingestion', `ingest-${entry._id}`);
    let label: string | undefined;
    try {
      const bytes = await this.inbox.bytes(entry);
      const output = await adapter.run(bytes, entry, { now: () => new Date(), newId: randomUUID, identifierSystem: this.identifierSystem });
      label = output.kind;
      const externalId = output.bundle.identifier?.value;
      // One writer per patient at a time: matching and writing see each other's results, so two
      // first messages about a new patient cannot both create it.
      let writtenPatients: string[] = [];
      let resources: Resource[] = [];
      const outputs = await this.locks.with(patientKeys(output.bundle), async () => {
        // The identifier claims and current documents the lookups need, read at once.
        const lookups = new WriteBatch(this.repo.database.c);
        await lookups.prefetch([], lookupKeys(output.bundle));
        const matched = await mergeReportResults(this.repo, ctx, await resolvePatients(this.repo, ctx, output.bundle, { batch: lookups }), { batch: lookups });
        writtenPatients = patientKeys(matched).map((k) => k.slice('patient|'.length));
        const bundle: Bundle = withProvenance(matched, { inboxId: entry._id, label: output.kind, adapterVersion: adapter.version, recorded: new Date(), newId: randomUUID });
        const response = await processBundle({ repo: this.repo, baseUrl: '' }, ctx, bundle);
        resources = (response.entry ?? []).flatMap((e) => (e.resource ? [e.resource] : []));
        return (response.entry ?? []).map((e) => e.response?.location).filter((l): l is string => !!l);
      });
      for (const hook of this.commitHooks) await hook(outputs, [entry], resources);
      await this.inbox.markProcessed(entry._id, duplicateKey(entry), { label: output.kind, adapterVersion: adapter.version, outputs, warnings: output.warnings, ...(externalId ? { externalId } : {}) });
      for (const hook of this.hooks) {
        try {
          await hook(outputs, [entry], resources);
        } catch (err) {
          this.logger?.error({ err, inboxId: entry._id }, 'after-write hook failed');
        }
      }
      // Inputs waiting for this patient are filed now, outside the patient's lock (never from an
      // input being filed itself: copies of one input share a lock).
      if (fileWaiting) await this.fileWaiting(writtenPatients);
      return { inboxId: entry._id, status: 'processed', label: output.kind, outputs, warnings: output.warnings, ...(externalId ? { externalId } : {}) };
    } catch (err) {
      // The database went away: not the input's fault. It stays "received" (processed once the
      // database is back, or at the next start) and the way in answers "resend".
      if (isStoreUnavailable(err)) {
        this.interrupted.add(entry._id);
        throw err;
      }
      if (err instanceof PatientNotKnownError) {
        const result = await this.waiting(entry, err, label, adapter.version);
        // The patient may have been written between the check and the mark (its writer found no
        // waiting entry then): look once more, and file it now if so.
        if (!retried && (await this.anyPatientKnown(err.identifiers))) return this.processHeld(entry, fileWaiting, true);
        return result;
      }
      return this.failed(entry, describe(err, entry), label, adapter.version);
    }
  }

  /**
   * Files the inputs waiting for any of these patient identifiers ("system|value"), oldest first;
   * called once a Patient carrying them has been written (by ingestion, or by a FHIR write).
   * Each is processed again as it was received; one still about an unknown patient keeps waiting.
   */
  async fileWaiting(identifiers: string[]): Promise<IngestResult[]> {
    const results: IngestResult[] = [];
    const seen = new Set(identifiers);
    let next = [...seen];
    // A filed input may give its patient another identifier (a DICOM header's issuer, a letter's
    // second id), on which other inputs wait: those are filed in the next round.
    while (next.length && !this.closed) {
      const added: string[] = [];
      for (const id of await this.inbox.waitingOn(next)) {
        if (this.closed || this.filing.has(id)) continue;
        this.filing.add(id);
        try {
          const entry = await this.inbox.get(id);
          if (entry?.status !== INBOX_STATUS.waiting) continue;
          const result = await this.process(entry, { fileWaiting: false });
          results.push(result);
          for (const key of await this.patientIdentifiersOf(result.status === 'processed' ? result.outputs : [])) {
            if (!seen.has(key)) added.push(key);
            seen.add(key);
          }
        } catch (err) {
          if (err instanceof PipelineClosedError) break;
          this.logger?.error({ err, inboxId: id }, 'filing an input waiting for its patient failed; it stays waiting');
        } finally {
          this.filing.delete(id);
        }
      }
      next = added;
    }
    return results;
  }

  /** The identifiers ("system|value") of the Patients among written resources ("Type/id/_history/n"). */
  private async patientIdentifiersOf(outputs: string[]): Promise<string[]> {
    const refs = outputs.filter((o) => o.startsWith('Patient/')).map((o) => o.split('/_history/')[0] as string);
    const patients = await this.repo.readMany(systemContext('ingestion', 'file-waiting'), refs);
    return [...patients.values()].flatMap((p) => ((p as Patient).identifier ?? []).flatMap((i) => (i.system && i.value ? [`${i.system}|${i.value}`] : [])));
  }

  /** Files every waiting input whose patient exists by now (e.g. at start-up, after a crash between a patient's write and the filing). */
  async fileAllWaiting(): Promise<number> {
    const known: string[] = [];
    for (const key of await this.inbox.waitedFor()) {
      if (this.closed) return 0;
      if (await this.anyPatientKnown([key])) known.push(key);
    }
    return (await this.fileWaiting(known)).filter((r) => r.status === 'processed').length;
  }

  /** True when a live Patient carries one of these identifiers ("system|value"). */
  private async anyPatientKnown(identifiers: string[]): Promise<boolean> {
    const esc = (s: string): string => encodeURIComponent(s.replace(/([\\,])/g, '\\$1'));
    const query = `identifier=${identifiers.map((k) => `${esc(k.slice(0, k.indexOf('|')))}|${esc(k.slice(k.indexOf('|') + 1))}`).join(',')}`;
    return (await this.repo.searchByQuery(systemContext('ingestion', 'file-waiting'), 'Patient', query, 1)).length > 0;
  }

  private async waiting(entry: InboxEntry, err: PatientNotKnownError, label?: string, adapterVersion?: string): Promise<IngestResult> {
    const error = describe(err, entry);
    await this.inbox.markWaiting(entry._id, err.identifiers, error, { ...(label ? { label } : {}), ...(adapterVersion ? { adapterVersion } : {}) });
    this.logger?.info({ inboxId: entry._id, kind: entry.kind, source: entry.source }, 'input waits for its patient; raw input kept');
    return { inboxId: entry._id, status: 'waiting', error, waitingFor: err.identifiers, outputs: [], warnings: [], ...(label ? { label } : {}) };
  }

  /** Re-processes a stored entry by id (after a fix or a configuration change). */
  async reprocess(id: string): Promise<IngestResult | undefined> {
    const entry = await this.inbox.get(id);
    if (!entry) return undefined;
    return this.process(entry);
  }

  /**
   * Processes the entries left "received" by an earlier process (stored, then the process died
   * or stopped before processing them), or by this one when the database went away under it:
   * oldest first, those received before `before` that no request is processing now. Runs until
   * none is left or the pipeline stops accepting; returns how many it processed.
   */
  async recoverReceived(before: Date): Promise<number> {
    const tried = new Set<string>();
    let processed = 0;
    for (;;) {
      const { entries } = await this.inbox.list({ status: INBOX_STATUS.received }, { limit: 500, offset: 0 });
      const left = entries.filter((e) => e.receivedAt < before && !tried.has(e._id) && !this.processing.has(e._id)).reverse();
      if (!left.length || this.closed) return processed;
      for (const e of left) {
        if (this.closed) return processed;
        tried.add(e._id);
        // Checked again holding the entry's lock: a resend may have been processed meanwhile.
        const done = await this.held(e as InboxEntry, async () => {
          const entry = await this.inbox.get(e._id);
          if (entry?.status !== INBOX_STATUS.received) return false;
          await this.processHeld(entry, true);
          return true;
        });
        if (done) processed++;
      }
    }
  }

  /** How many inputs the database's absence interrupted and `retryInterrupted` has still to finish. */
  get interruptedCount(): number {
    return this.interrupted.size;
  }

  /**
   * Processes again the inputs the database's absence interrupted (call once dead journals are
   * rolled back); stops at the first that finds the database still away. Returns how many it finished.
   */
  async retryInterrupted(): Promise<number> {
    let done = 0;
    for (const id of [...this.interrupted]) {
      if (this.processing.has(id)) continue;
      const summary = await this.inbox.get(id);
      this.interrupted.delete(id);
      if (summary?.status !== INBOX_STATUS.received) continue;
      await this.held(summary, async () => {
        const entry = await this.inbox.get(id);
        if (entry?.status === INBOX_STATUS.received) await this.processHeld(entry, true);
      });
      done++;
    }
    return done;
  }

  /** Re-processes every failed entry (oldest first, up to `limit`). */
  async reprocessFailed(limit = 1000): Promise<IngestResult[]> {
    const { entries } = await this.inbox.list({ status: INBOX_STATUS.failed }, { limit, offset: 0 });
    const results: IngestResult[] = [];
    for (const e of entries.reverse()) {
      const r = await this.reprocess(e._id);
      if (r) results.push(r);
    }
    return results;
  }

  private async failed(entry: InboxEntry, error: InboxError, label?: string, adapterVersion?: string): Promise<IngestResult> {
    await this.inbox.markFailed(entry._id, error, { ...(label ? { label } : {}), ...(adapterVersion ? { adapterVersion } : {}) });
    this.logger?.warn({ inboxId: entry._id, kind: entry.kind, source: entry.source, location: error.location, reason: error.message }, 'ingestion failed; raw input kept');
    return { inboxId: entry._id, status: 'failed', error, outputs: [], warnings: [], ...(label ? { label } : {}) };
  }
}

/** An input of a group and what its adapter made of it. */
interface Converted {
  entry: InboxEntry;
  adapter: RegisteredAdapter;
  output: AdapterOutput;
}

/** A member of a round: an input, its matched Bundle (with Provenance) and, when it shares the Patient entry of an earlier member, that member's index. */
interface Member extends Converted {
  bundle: Bundle;
  patients: string[];
  joins?: number;
}

/** True when the Patient entry a member would write is the same as the one `owner` writes. */
function samePatient(owner: Member, entry: BundleEntry): boolean {
  const own = (owner.bundle.entry ?? []).filter((e) => e.resource?.resourceType === 'Patient');
  return own.length === 1 && own[0]?.request?.url === entry.request?.url && isDeepStrictEqual(own[0]?.resource, entry.resource);
}

/**
 * The round's transaction: the members' entries with the Patients first (a resource with exclusive
 * identifiers is written at once, after whatever the transaction has queued, so a Patient between
 * other entries would cut the one batched write into one per member), a joining member's Patient
 * entry left out and its references pointed at the one it shares. `places`: where "member:entry"
 * is answered in the response.
 */
function combine(members: Member[]): { bundle: Bundle; places: Map<string, number> } {
  const patientAt = members.map((m) => (m.bundle.entry ?? []).findIndex((e) => e.resource?.resourceType === 'Patient'));
  const order: { e: BundleEntry; mi: number; ei: number }[] = [];
  for (const [mi, m] of members.entries()) {
    let entries = m.bundle.entry ?? [];
    if (m.joins !== undefined) {
      const mine = entries[patientAt[mi] as number]?.fullUrl as string;
      const shared = members[m.joins]?.bundle.entry?.[patientAt[m.joins] as number]?.fullUrl as string;
      entries = JSON.parse(JSON.stringify(entries).replaceAll(`"${mine}"`, `"${shared}"`)) as BundleEntry[];
    }
    entries.forEach((e, ei) => {
      if (m.joins === undefined || ei !== patientAt[mi]) order.push({ e, mi, ei });
    });
  }
  order.sort((a, b) => Number(b.e.resource?.resourceType === 'Patient') - Number(a.e.resource?.resourceType === 'Patient'));
  const places = new Map(order.map((o, i) => [`${o.mi}:${o.ei}`, i]));
  // A joining member's Patient is answered by the entry it shares.
  for (const [mi, m] of members.entries()) if (m.joins !== undefined) places.set(`${mi}:${patientAt[mi]}`, places.get(`${m.joins}:${patientAt[m.joins]}`) as number);
  return { bundle: { resourceType: 'Bundle', type: 'transaction', entry: order.map((o) => o.e) }, places };
}

/** The identifier keys a Bundle's patients and conditional updates are looked up by. */
function lookupKeys(bundle: Bundle): string[] {
  return (bundle.entry ?? []).flatMap((e) => {
    const type = e.resource?.resourceType;
    if (type === 'Patient') return identifierKeys(e.resource as Patient);
    const url = e.request?.url ?? '';
    return type && url.startsWith(`${type}?`) ? (identifierOnlyQuery(type, url.slice(type.length + 1)) ?? []) : [];
  });
}

/** Lock keys for the patients an adapter's Bundle is about: each identifier "system|value". */
function patientKeys(bundle: Bundle): string[] {
  const keys: string[] = [];
  for (const e of bundle.entry ?? []) {
    if (e.resource?.resourceType !== 'Patient') continue;
    for (const i of e.resource.identifier ?? []) if (i.system && i.value) keys.push(`patient|${i.system}|${i.value}`);
  }
  return keys;
}

function describe(err: unknown, entry: InboxEntry): InboxError {
  if (err instanceof AdapterError) {
    // AdapterError.message starts with "<location>: "; the location is kept in its own field.
    const prefix = `${err.location}: `;
    return { location: err.location, message: err.location && err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message };
  }
  if (err instanceof OperationOutcomeError) {
    const issue = err.outcome.issue?.[0];
    return { location: issue?.expression?.[0] ?? '', message: `the FHIR store refused the result: ${issue?.details?.text ?? err.message}` };
  }
  return { location: '', message: `internal error while processing inbox entry ${entry._id}: ${(err as Error)?.message ?? String(err)}` };
}
