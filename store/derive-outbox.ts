import { randomUUID } from 'node:crypto';
import type { Collection } from 'mongodb';
import type { Resource } from '@medplum/fhirtypes';
import { COLLECTION_NAMES, type Collections, type DeriveOutboxDoc } from '../schema/collections.ts';
import type { Database } from './db.ts';
import { isDuplicateKey } from './duplicate-key.ts';

/**
 * The durable outbox of derived data. Whatever is derived from stored resources (the timeline,
 * report <-> study links) is re-derived after the write from an entry recorded before the write,
 * or as part of it (before its inbox entry is marked processed): a crash, a database outage or a
 * failing derivation between the write and its follow-up leaves the entry here, and the
 * background pass (at start-up and every few seconds) runs it again, with back-off, until it
 * succeeds. Derivations re-read the stored resources, so running one twice, or for a write that
 * was rolled back, is harmless.
 */

/**
 * One derivation: re-derives what depends on the given resources ("Type/id[/_history/n]").
 * `written`, when the writer runs its entry right after its write: the versions it wrote, by
 * "Type/id", which a derivation may use instead of reading them back while they are current.
 */
export type DeriveTask = (refs: string[], written?: ReadonlyMap<string, Resource>) => Promise<void>;

/** What a writer asks to have re-derived. */
export interface OutboxRequest {
  /** The entry's id; additions to one id accumulate (a transaction's writes). Default: a new id. */
  id?: string;
  refs: string[];
  tasks: string[];
  /** The journal the writes belong to: the background pass waits until it is committed or rolled back. */
  tx?: string;
}

/** How long the background pass leaves a new entry to its writer, which runs it right after the write. */
const WRITER_GRACE_MS = 30_000;
/** Retry back-off after a failed derivation: doubles from the first to the last. */
const RETRY_MS = { first: 1_000, max: 5 * 60_000 };

export class DeriveOutbox {
  readonly entries: Collection<DeriveOutboxDoc>;
  private readonly c: Collections;
  private readonly tasks = new Map<string, DeriveTask>();
  private readonly onError: ((err: unknown, entryId: string) => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private pass: Promise<number> | undefined;
  private stopped = false;

  constructor(database: Database, options: { onError?: (err: unknown, entryId: string) => void } = {}) {
    this.entries = database.db.collection<DeriveOutboxDoc>(COLLECTION_NAMES.deriveOutbox);
    this.c = database.c;
    this.onError = options.onError;
  }

  /** Registers the derivation run for entries naming `name`. */
  register(name: string, task: DeriveTask): void {
    this.tasks.set(name, task);
  }

  /** Records (durably) what must be re-derived; returns the entry's id. */
  async add(request: OutboxRequest): Promise<string> {
    const id = request.id ?? randomUUID();
    const now = new Date();
    const fields = { createdAt: now, due: new Date(now.getTime() + (request.tx ? 0 : WRITER_GRACE_MS)), attempts: 0, ...(request.tx ? { tx: request.tx } : {}) };
    // A new entry is inserted as it is; only an existing one is added to. (The embedded store adds
    // to a set one value at a time, comparing each with every value before it: the 5,000 keys of
    // a large message took 0.3 s that way.)
    try {
      await this.entries.insertOne({ _id: id, refs: [...new Set(request.refs)], tasks: [...new Set(request.tasks)], rev: 1, ...fields });
      return id;
    } catch (err) {
      if (!request.id || !isDuplicateKey(err)) throw err;
    }
    await this.entries.updateOne(
      { _id: id },
      {
        $addToSet: { refs: { $each: request.refs }, tasks: { $each: request.tasks } },
        $inc: { rev: 1 },
        // A journal's entry waits for the journal instead (see passOnce): due at once.
        $setOnInsert: fields,
      },
      { upsert: true },
    );
    return id;
  }

  /**
   * Runs one entry's derivations now and removes it (unless more was added meanwhile); on failure
   * it stays, due again after a back-off. Never throws: what failed is retried in the background.
   * `recorded` is what its writer recorded in an entry of its own (saves reading it back);
   * `written`, the versions the writer has just written (see DeriveTask).
   */
  async run(id: string, recorded?: Pick<OutboxRequest, 'refs' | 'tasks'>, written?: ReadonlyMap<string, Resource>): Promise<boolean> {
    let entry: Pick<DeriveOutboxDoc, '_id' | 'refs' | 'tasks' | 'attempts'> & { rev?: number } | null = null;
    try {
      entry = recorded ? { _id: id, refs: recorded.refs, tasks: recorded.tasks, attempts: 0 } : await this.entries.findOne({ _id: id });
      if (!entry) return true;
      for (const name of entry.tasks) {
        const task = this.tasks.get(name);
        if (!task) throw new Error(`no derivation named "${name}" is registered`);
        await task(entry.refs, written);
      }
      await this.entries.deleteOne(entry.rev === undefined ? { _id: id } : { _id: id, rev: entry.rev });
      return true;
    } catch (err) {
      if (entry) {
        this.onError?.(err, entry._id);
        const delay = Math.min(RETRY_MS.max, RETRY_MS.first * 2 ** Math.min(20, entry.attempts));
        await this.entries
          .updateOne({ _id: id }, { $inc: { attempts: 1 }, $set: { due: new Date(Date.now() + delay), lastError: (err as Error)?.message ?? String(err) } })
          .catch(() => undefined);
      }
      return false;
    }
  }

  /** Removes an entry recorded for a write that changed nothing. */
  async discard(id: string): Promise<void> {
    await this.entries.deleteOne({ _id: id });
  }

  /**
   * Runs every entry that is due (and, with `createdBefore`, every entry created before then: at
   * start-up no writer of those is alive) whose journal is no longer pending; returns how many
   * succeeded. One pass at a time.
   */
  async processDue(options: { createdBefore?: Date } = {}): Promise<number> {
    while (this.pass) await this.pass.catch(() => undefined);
    const pass = this.passOnce(options.createdBefore).finally(() => {
      if (this.pass === pass) this.pass = undefined;
    });
    this.pass = pass;
    return pass;
  }

  private async passOnce(createdBefore: Date | undefined): Promise<number> {
    // The outbox is small (entries live from a write to its follow-up), so it is read whole:
    // the embedded store would read the collection for a range on `due` anyway.
    const now = Date.now();
    const docs = await this.entries.find({}, { projection: { _id: 1, due: 1, tx: 1, createdAt: 1 } }).toArray();
    let done = 0;
    for (const d of docs.sort((a, b) => a.due.getTime() - b.due.getTime())) {
      if (d.due.getTime() > now && !(createdBefore && d.createdAt < createdBefore)) continue;
      if (d.tx && (await this.c.journal.findOne({ _id: d.tx }, { projection: { _id: 1 } }))) continue;
      if (this.stopped) break;
      if (await this.run(d._id)) done++;
    }
    return done;
  }

  /** Processes what is due now and then every `intervalMs`, in the background. */
  start(intervalMs: number): void {
    this.stopped = false;
    const tick = (): void => {
      this.timer = setTimeout(() => {
        void this.processDue()
          .catch((err: unknown) => this.onError?.(err, '(background pass)'))
          .finally(() => {
            if (!this.stopped) tick();
          });
      }, intervalMs);
      this.timer.unref();
    };
    tick();
  }

  /** Stops the background pass and waits for the one running, if any. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.pass?.catch(() => undefined);
  }

  /** How many entries wait (for health reports and tests). */
  async pending(): Promise<number> {
    return this.entries.countDocuments({});
  }
}
