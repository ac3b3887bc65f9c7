/**
 * In-process mutual exclusion by key: work holding a key waits for earlier work on the same key.
 * Ingestion takes the content hash of an input and the identifiers of its patients, so copies of
 * one message and first messages about one patient run one after the other instead of racing
 * (the losers of such a race used to fail, or to create a second Patient). Keys are taken in
 * sorted order, all at once, so two holders can never wait on each other.
 */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>();

  /** Runs `fn` while holding every key. */
  async with<T>(keys: readonly string[], fn: () => Promise<T>): Promise<T> {
    const sorted = [...new Set(keys)].sort();
    const releases: (() => void)[] = [];
    for (const key of sorted) {
      const previous = this.tails.get(key) ?? Promise.resolve();
      let release!: () => void;
      const mine = new Promise<void>((resolve) => (release = resolve));
      const tail = previous.then(() => mine);
      this.tails.set(key, tail);
      releases.push(() => {
        release();
        if (this.tails.get(key) === tail) this.tails.delete(key);
      });
      await previous;
    }
    try {
      return await fn();
    } finally {
      for (const r of releases.reverse()) r();
    }
  }

  /** How many keys are held or awaited (for tests and health output). */
  get size(): number {
    return this.tails.size;
  }
}
