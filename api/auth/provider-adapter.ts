import type { Collection, Db } from 'mongodb';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import { COLLECTION_NAMES } from '../../schema/collections.ts';

/**
 * The embedded provider's storage (sessions, interactions, grants, codes, tokens) in one
 * collection. Every read is by `_id` — the embedded database indexes `_id` well and little else:
 * an artefact is `${model}:${id}`, and the secondary lookups the provider needs (by uid, by user
 * code, by grant) go through small index documents keyed the same way. Expiry is checked on read.
 */

export interface OAuthDoc {
  _id: string;
  /**
   * The artefact as JSON text: its keys include URLs (a grant's resource indicators), which a
   * document field name may not hold, and nothing queries inside it.
   */
  json?: string;
  /** For index documents: the `_id`s they point to. */
  ids?: string[];
  expiresAt?: Date;
}

/** The provider's collection. */
export function oauthCollection(db: Db): Collection<OAuthDoc> {
  return db.collection<OAuthDoc>(COLLECTION_NAMES.oauth);
}

function expired(doc: OAuthDoc | null, now = Date.now()): boolean {
  return doc?.expiresAt !== undefined && doc.expiresAt.getTime() <= now;
}

/** Removes expired artefacts (run at start-up: reads never return them, this only reclaims the space). */
export async function removeExpired(collection: Collection<OAuthDoc>): Promise<number> {
  return (await collection.deleteMany({ expiresAt: { $lte: new Date() } })).deletedCount;
}

/** An oidc-provider adapter class over `collection` (the provider builds one per model name). */
export function mongoAdapter(collection: Collection<OAuthDoc>): new (model: string) => Adapter {
  return class MongoAdapter implements Adapter {
    private readonly model: string;

    constructor(model: string) {
      this.model = model;
    }

    private key(id: string): string {
      return `${this.model}:${id}`;
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      const expiresAt = expiresIn ? new Date(Date.now() + expiresIn * 1000) : undefined;
      const key = this.key(id);
      await collection.replaceOne({ _id: key }, { json: JSON.stringify(payload), ...(expiresAt ? { expiresAt } : {}) }, { upsert: true });
      const pointers: string[] = [];
      if (payload.uid) pointers.push(`${this.model}:uid:${payload.uid}`);
      if (payload.userCode) pointers.push(`${this.model}:userCode:${payload.userCode}`);
      for (const pointer of pointers) {
        await collection.replaceOne({ _id: pointer }, { ids: [key], ...(expiresAt ? { expiresAt } : {}) }, { upsert: true });
      }
      if (payload.grantId) {
        // Everything issued under one grant, so revoking the grant removes it all.
        await collection.updateOne({ _id: `grant-index:${payload.grantId}` }, { $addToSet: { ids: key }, ...(expiresAt ? { $max: { expiresAt } } : {}) }, { upsert: true });
      }
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      return this.load(this.key(id));
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      return this.viaIndex(`${this.model}:uid:${uid}`);
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      return this.viaIndex(`${this.model}:userCode:${userCode}`);
    }

    async consume(id: string): Promise<void> {
      const key = this.key(id);
      const doc = await collection.findOne({ _id: key });
      if (!doc?.json) return;
      const payload = JSON.parse(doc.json) as AdapterPayload;
      await collection.updateOne({ _id: key }, { $set: { json: JSON.stringify({ ...payload, consumed: Math.floor(Date.now() / 1000) }) } });
    }

    async destroy(id: string): Promise<void> {
      await collection.deleteOne({ _id: this.key(id) });
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      const index = await collection.findOne({ _id: `grant-index:${grantId}` });
      for (const key of index?.ids ?? []) await collection.deleteOne({ _id: key });
      await collection.deleteOne({ _id: `grant-index:${grantId}` });
    }

    private async load(key: string): Promise<AdapterPayload | undefined> {
      const doc = await collection.findOne({ _id: key });
      if (!doc?.json) return undefined;
      if (expired(doc)) {
        await collection.deleteOne({ _id: key });
        return undefined;
      }
      return JSON.parse(doc.json) as AdapterPayload;
    }

    private async viaIndex(pointer: string): Promise<AdapterPayload | undefined> {
      const index = await collection.findOne({ _id: pointer });
      const target = index?.ids?.[0];
      if (!target || expired(index)) return undefined;
      return this.load(target);
    }
  };
}
