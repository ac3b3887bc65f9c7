import { randomUUID } from 'node:crypto';
import { BSON, Binary } from 'mongodb';
import type { Collections, JournalStepDoc, UndoStep } from '../schema/collections.ts';
import { undoVersion, type WriteScope } from './version-store.ts';

/**
 * All-or-nothing for transaction Bundles on servers without multi-document transactions
 * (FerretDB 1.24, a standalone mongod). Before each write, the journal records (as its own
 * insert-only document: appending to one growing document costs more with every step) how to undo it
 * (the previous current document, or "did not exist"); if any entry fails, the writes made so far
 * are undone in reverse order, each only if it is still the current version. A process that dies
 * mid-Bundle leaves its journal "pending"; `recoverPendingJournals` undoes those at start-up.
 * What this does not give: isolation — another reader may briefly see a half-applied Bundle.
 */
/** Journals this process is applying now, per database connection: recovery while it runs leaves them alone. */
const live = new WeakMap<Collections, Set<string>>();
function liveJournals(c: Collections): Set<string> {
  let set = live.get(c);
  if (!set) live.set(c, (set = new Set()));
  return set;
}

export class CompensatingJournal {
  private readonly c: Collections;
  readonly id = randomUUID();
  private readonly steps: UndoStep[] = [];

  constructor(c: Collections) {
    this.c = c;
  }

  /** Records the journal as pending before the first write. */
  async begin(): Promise<void> {
    liveJournals(this.c).add(this.id);
    try {
      await this.c.journal.insertOne({ _id: this.id, status: 'pending', startedAt: new Date() });
    } catch (err) {
      // The insert may have reached the database before the connection broke: whatever is there is
      // recovery's now (this writer stops here), never left marked as applied by this process.
      liveJournals(this.c).delete(this.id);
      throw err;
    }
  }

  /** The write scope that records every step before it is applied. */
  scope(): WriteScope {
    return {
      writer: this.id,
      beforeWrite: async (step) => {
        this.steps.push(step);
        const n = this.steps.length;
        await this.c.journalSteps.insertOne({ _id: `${this.id}/${n}`, tx: this.id, n, step });
      },
      beforeWrites: async (steps) => {
        const docs: JournalStepDoc[] = [];
        for (const group of stepGroups(steps)) {
          const n = this.steps.length + 1;
          this.steps.push(...group);
          docs.push({ _id: `${this.id}/${n}`, tx: this.id, n, steps: new Binary(BSON.serialize({ steps: group })) });
        }
        if (docs.length) await this.c.journalSteps.insertMany(docs);
      },
    };
  }

  /** The Bundle succeeded: the journal is no longer needed. */
  async commit(): Promise<void> {
    try {
      await forget(this.c, this.id);
    } finally {
      liveJournals(this.c).delete(this.id);
    }
  }

  /** The Bundle failed: undo every recorded write, newest first. */
  async rollback(): Promise<void> {
    try {
      await undoSteps(this.c, this.steps, this.id);
      await forget(this.c, this.id);
    } finally {
      // Undone or not (the database may be gone), the journal is recovery's from now on.
      liveJournals(this.c).delete(this.id);
    }
  }
}

/** At most this many steps, or about this many bytes of previous versions, go in one step document. */
const GROUP_STEPS = 1000;
const GROUP_BYTES = 4 * 1024 * 1024;

/**
 * A batch's steps in groups, each recorded as one document: a 5,000-result message's steps as
 * 5,000 documents cost about as much to write and to delete again as its resources.
 */
function stepGroups(steps: UndoStep[]): UndoStep[][] {
  const groups: UndoStep[][] = [];
  let group: UndoStep[] = [];
  let bytes = 0;
  for (const step of steps) {
    const size = (step.previous?.json?.length ?? 0) * 2;
    if (group.length && (group.length >= GROUP_STEPS || bytes + size > GROUP_BYTES)) {
      groups.push(group);
      group = [];
      bytes = 0;
    }
    group.push(step);
    bytes += size;
  }
  if (group.length) groups.push(group);
  return groups;
}

/** The steps one step document records. */
function recordedSteps(doc: JournalStepDoc): UndoStep[] {
  if (doc.steps) return (BSON.deserialize(doc.steps.buffer) as { steps: UndoStep[] }).steps;
  return doc.step ? [doc.step] : [];
}

async function forget(c: Collections, id: string): Promise<void> {
  await c.journal.deleteOne({ _id: id });
  await c.journalSteps.deleteMany({ tx: id });
}

async function undoSteps(c: Collections, steps: UndoStep[], writer: string): Promise<void> {
  for (const step of [...steps].reverse()) await undoVersion(c, step, writer);
}

/**
 * Undoes Bundles left half-applied by a process that died; returns how many were rolled back.
 * Journals exist only where the store has no transactions (the embedded store, a standalone
 * mongod), which one IDR process serves: at start-up every pending journal is a dead one, so
 * all are rolled back whatever their age (a journal kept for later would be rolled back after
 * its message was reprocessed, taking the reprocessed writes with it). Each undo touches only the
 * journal's own versions, so running it twice, or late, is harmless. While the process runs (after
 * the database itself was restarted) it skips the journals this process is still applying.
 */
export async function recoverPendingJournals(c: Collections, olderThanMs = 0): Promise<number> {
  const cutoff = new Date(Date.now() - olderThanMs);
  const pending = await c.journal.find({ status: 'pending', startedAt: { $lt: cutoff } }).toArray();
  const dead = pending.filter((j) => !liveJournals(c).has(j._id));
  for (const j of dead) {
    const docs = await c.journalSteps.find({ tx: j._id }).sort({ n: 1 }).toArray();
    await undoSteps(c, docs.flatMap(recordedSteps), j._id);
    await forget(c, j._id);
  }
  return dead.length;
}
