/** Shared helpers for the document adapter tests. */
import { readFileSync } from 'node:fs';
import { AdapterError } from '../../types.ts';

/** Absolute URL of the document fixtures. */
export const FIXTURES = new URL('../../../../test/fixtures/documents/', import.meta.url);

/** Reads a document fixture as bytes. */
export function fixtureBytes(name: string): Uint8Array {
  return new Uint8Array(readFileSync(new URL(name, FIXTURES)));
}

/** The AdapterError a call throws (sync or async); fails when it throws nothing or something else. */
export async function refusal(fn: () => unknown): Promise<AdapterError> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof AdapterError) return err;
    throw err;
  }
  throw new Error('expected an AdapterError');
}

/** Decodes a base64 attachment. */
export function decode(data: string | undefined): string {
  return Buffer.from(data ?? '', 'base64').toString('utf8');
}
