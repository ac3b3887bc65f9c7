import { randomBytes } from 'node:crypto';
import { COLLECTION_NAMES } from '../schema/collections.ts';
import type { Database } from './db.ts';

/**
 * The secret key of de-identified exports' keyed pseudonyms (fhir/deidentify.ts): configured
 * (IDR_PSEUDONYM_KEY, base64, at least 16 bytes) or generated once and kept in the database, so
 * pseudonyms stay the same across exports and cohorts can be extended. Whoever holds the key can
 * re-identify by recomputing pseudonyms of known ids: keep it like a password.
 */
export async function pseudonymKey(database: Database, configured?: string): Promise<Buffer> {
  if (configured) return Buffer.from(configured, 'base64');
  const meta = database.db.collection<{ _id: string; key: string }>(COLLECTION_NAMES.storeMeta);
  const found = await meta.findOne({ _id: 'pseudonym-key' });
  if (found) return Buffer.from(found.key, 'base64');
  await meta.insertOne({ _id: 'pseudonym-key', key: randomBytes(32).toString('base64') }).catch(() => undefined);
  const kept = await meta.findOne({ _id: 'pseudonym-key' });
  if (!kept) throw new Error('the pseudonym key could not be stored');
  return Buffer.from(kept.key, 'base64');
}
