import { describe, expect, it } from 'vitest';
import { AdmissionQueue, REFUSAL, type Admission } from './admission.ts';

/** The bounded queue on its own: slots, FIFO waiting, full, waited too long, withdrawn. */

function released(a: Admission): () => void {
  if (!a.admitted) throw new Error(`expected a slot, refused: ${a.why}`);
  return a.release;
}

describe('AdmissionQueue', () => {
  it('runs up to `concurrency` at once, queues up to `queue` in order, refuses the rest as full', async () => {
    const q = new AdmissionQueue('ingestion', { concurrency: 2, queue: 2, maxWaitMs: 60_000 });
    const a = released(await q.acquire());
    const b = released(await q.acquire());
    const order: string[] = [];
    const c = q.acquire().then((x) => (order.push('c'), x));
    const d = q.acquire().then((x) => (order.push('d'), x));
    expect(await q.acquire()).toEqual({ admitted: false, why: REFUSAL.full });
    expect(q.load).toEqual({ active: 2, waiting: 2 });
    a();
    a(); // a second release of the same slot changes nothing
    const cSlot = released(await c);
    expect(q.load).toEqual({ active: 2, waiting: 1 });
    b();
    const dSlot = released(await d);
    expect(order).toEqual(['c', 'd']);
    cSlot();
    dSlot();
    expect(q.load).toEqual({ active: 0, waiting: 0 });
    expect(q.counts).toEqual({ admitted: 4, full: 1, waitedTooLong: 0 });
  });

  it('refuses work that waited longer than maxWaitMs, and drops work whose client went away', async () => {
    const q = new AdmissionQueue('reads', { concurrency: 1, queue: 5, maxWaitMs: 50 });
    const held = released(await q.acquire());
    expect(await q.acquire()).toEqual({ admitted: false, why: REFUSAL.waitedTooLong });
    const gone = new AbortController();
    const withdrawn = q.acquire(gone.signal);
    gone.abort();
    expect(await withdrawn).toEqual({ admitted: false, why: REFUSAL.gone });
    expect(q.load).toEqual({ active: 1, waiting: 0 });
    expect(q.retryAfterSeconds()).toBeGreaterThanOrEqual(1);
    held();
    expect(q.counts.waitedTooLong).toBe(1);
  });
});
