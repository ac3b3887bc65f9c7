import { describe, expect, it } from 'vitest';
import { KeyedLock } from './keyed-lock.ts';

describe('KeyedLock', () => {
  it('runs work on the same key one after the other, in arrival order', async () => {
    const lock = new KeyedLock();
    const log: string[] = [];
    const step = (name: string, key: string, ticks: number): Promise<void> =>
      lock.with([key], async () => {
        log.push(`${name}+`);
        for (let i = 0; i < ticks; i++) await Promise.resolve();
        log.push(`${name}-`);
      });
    await Promise.all([step('a', 'k', 5), step('b', 'k', 1), step('c', 'other', 1)]);
    expect(log.indexOf('a-')).toBeLessThan(log.indexOf('b+'));
    expect(log.indexOf('c+')).toBeLessThan(log.indexOf('a-'));
    expect(lock.size).toBe(0);
  });

  it('takes several keys without deadlock whatever order callers name them in', async () => {
    const lock = new KeyedLock();
    let inside = 0;
    let most = 0;
    const work = (keys: string[]): Promise<void> =>
      lock.with(keys, async () => {
        inside++;
        most = Math.max(most, inside);
        await new Promise((r) => setTimeout(r, 1));
        inside--;
      });
    await Promise.all(Array.from({ length: 20 }, (_, i) => work(i % 2 ? ['x', 'y'] : ['y', 'x'])));
    expect(most).toBe(1);
    expect(lock.size).toBe(0);
  });

  it('releases the keys when the work throws', async () => {
    const lock = new KeyedLock();
    await expect(lock.with(['k'], async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(lock.with(['k'], async () => 'next')).resolves.toBe('next');
  });
});
