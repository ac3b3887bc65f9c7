import { createHash, randomUUID } from 'node:crypto';
import { Binary, GridFSBucket, type Collection, type Db, type GridFSBucketWriteStream } from 'mongodb';
import { COLLECTION_NAMES } from '../schema/collections.ts';
import { findAnyOf } from '../store/find-any-of.ts';
import { countMatching } from '../store/count.ts';
import { insertOrReplace } from '../store/duplicate-key.ts';

/**
 * The inbox: every raw input (HL7 v2 message, DICOM file, document, QIDO-RS response) is stored
 * here, bytes and all, before anything is done with it, and keeps its processing status. Bodies
 * up to INLINE_LIMIT live in the document; larger ones in GridFS (MongoDB's 16 MB document limit).
 */

export const INBOX_STATUS = {
  received: 'received',
  processed: 'processed',
  duplicate: 'duplicate',
  failed: 'failed',
  /** Held until a Patient with one of `waitingFor`'s identifiers is written; then filed by itself. */
  waiting: 'waiting',
} as const;
export type InboxStatus = (typeof INBOX_STATUS)[keyof typeof INBOX_STATUS];

export interface InboxError {
  /** Where in the input, e.g. "OBX[3]-5", "(0010,0020)", "metadata.date"; "" when not located. */
  location: string;
  message: string;
}

export interface InboxEntry {
  _id: string;
  /** What kind of input: "hl7v2", "dicom", "document", "dicomweb". */
  kind: string;
  /** How it arrived: "mllp", "http", "cli", "seed", "dicomweb-poller". */
  source: string;
  /** Free-form origin detail (peer address, file name, URL). */
  origin?: string;
  receivedAt: Date;
  sha256: string;
  size: number;
  contentType?: string;
  filename?: string;
  /** Caller-supplied metadata (documents: patient identifier, type, ...). */
  metadata?: Record<string, unknown>;
  bytes?: Binary;
  gridfsId?: string;
  status: InboxStatus;
  attempts: number;
  processedAt?: Date;
  /** What the adapter recognised, e.g. "ORU^R01 lab". */
  label?: string;
  /** Message control id / document id, when the input has one. */
  externalId?: string;
  adapterVersion?: string;
  error?: InboxError;
  warnings?: string[];
  /** "Type/id/_history/vid" of every resource written. */
  outputs?: string[];
  duplicateOf?: string;
  /** Status "waiting": the patient identifiers ("system|value") it waits for, any one of which files it. */
  waitingFor?: string[];
}

export type InboxSummary = Omit<InboxEntry, 'bytes'>;

/** One input waiting for one patient identifier: `_id` = "<system|value>#<entry id>", queried by `key`. */
interface WaitingDoc {
  _id: string;
  /** The identifier waited for, "system|value". */
  key: string;
  entryId: string;
  since: Date;
}

/** First processed inbox entry per duplicate key (see `duplicateKey`), keyed by it: `_id` lookups. */
interface HashDoc {
  _id: string;
  entryId: string;
}

/** A new entry (status "received") for stored bytes with this hash and size. */
/**
 * What makes two inputs the same input: the bytes, their kind, and the patient the sender named
 * for them (document uploads carry it as metadata). The same PDF uploaded for two patients is two
 * letters, not one letter and a duplicate; sent again for the same patient it is a duplicate.
 */
export function duplicateKey(entry: Pick<InboxEntry, 'sha256' | 'kind' | 'metadata'>): string {
  const patient = entry.metadata?.patientIdentifier as { system?: unknown; value?: unknown } | undefined;
  if (!patient) return `${entry.kind}:${entry.sha256}`;
  const named = createHash('sha256').update(`${String(patient.system ?? '')}|${String(patient.value ?? '')}`).digest('hex').slice(0, 32);
  return `${entry.kind}:${entry.sha256}:${named}`;
}

function newEntry(id: string, input: Omit<StoreInput, 'bytes'>, sha256: string, size: number): InboxEntry {
  return {
    _id: id,
    kind: input.kind,
    source: input.source,
    receivedAt: new Date(),
    sha256,
    size,
    status: INBOX_STATUS.received,
    attempts: 0,
    ...(input.origin ? { origin: storable(input.origin) } : {}),
    ...(input.contentType ? { contentType: storable(input.contentType) } : {}),
    ...(input.filename ? { filename: storable(input.filename) } : {}),
    ...(input.metadata ? { metadata: storable(input.metadata) } : {}),
  };
}

/**
 * A caller's text as the store can keep it: the embedded store (PostgreSQL) refuses NUL in any
 * string, which would lose the whole input, so NUL becomes U+FFFD (the raw bytes are kept as sent).
 */
function storable<T>(value: T): T {
  if (typeof value === 'string') return value.replaceAll('\u0000', '\ufffd') as T;
  if (Array.isArray(value)) return value.map(storable) as T;
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [storable(k), storable(v)])) as T;
  }
  return value;
}

/** The bytes of an inbox entry up to INLINE_LIMIT; `_id` = the entry id. */
interface RawDoc {
  _id: string;
  bytes: Binary;
}

const INLINE_LIMIT = 8 * 1024 * 1024;

/** What `markProcessed` records of a successful processing. */
export interface ProcessedResult {
  label: string;
  adapterVersion: string;
  outputs: string[];
  warnings: string[];
  externalId?: string;
}

/** What a caller hands to `store`. */
export interface StoreInput {
  bytes: Uint8Array;
  kind: string;
  source: string;
  origin?: string;
  contentType?: string;
  filename?: string;
  metadata?: Record<string, unknown>;
}

export class Inbox {
  private readonly db: Db;
  private readonly entries: Collection<InboxEntry>;
  private readonly hashes: Collection<HashDoc>;
  private readonly raw: Collection<RawDoc>;
  private readonly bucket: GridFSBucket;
  private readonly waiting: Collection<WaitingDoc>;

  constructor(db: Db) {
    this.db = db;
    this.waiting = db.collection<WaitingDoc>(COLLECTION_NAMES.waitingPatients);
    this.entries = db.collection<InboxEntry>(COLLECTION_NAMES.inbox);
    this.hashes = db.collection<HashDoc>(COLLECTION_NAMES.inboxHashes);
    this.raw = db.collection<RawDoc>(COLLECTION_NAMES.inboxBytes);
    this.bucket = new GridFSBucket(db, { bucketName: 'inbox_raw' });
  }

  /** Stores raw bytes durably and returns the new entry (status "received"). */
  async store(input: StoreInput): Promise<InboxEntry> {
    const [entry] = await this.storeMany([input]);
    return entry as InboxEntry;
  }

  /**
   * Stores several raw inputs durably (the entries of a batch in two inserts, where each fits
   * inline) and returns their new entries, in order.
   */
  async storeMany(inputs: readonly StoreInput[]): Promise<InboxEntry[]> {
    const entries = inputs.map((input) => this.inlineOrUploaded(input));
    const stored = await Promise.all(entries);
    const inline = stored.filter((e) => e.bytes);
    if (inline.length) await this.raw.insertMany(inline.map((e) => ({ _id: e._id, bytes: e.bytes as Binary })), { writeConcern: { w: 1, journal: true } });
    await this.entries.insertMany(
      stored.map(({ bytes: _bytes, ...meta }) => meta),
      { writeConcern: { w: 1, journal: true } },
    );
    return stored;
  }

  /** A new entry for the input: its bytes inline up to INLINE_LIMIT, larger ones uploaded to GridFS first. */
  private async inlineOrUploaded(input: StoreInput): Promise<InboxEntry> {
    const entry = newEntry(randomUUID(), input, createHash('sha256').update(input.bytes).digest('hex'), input.bytes.byteLength);
    if (input.bytes.byteLength <= INLINE_LIMIT) {
      entry.bytes = new Binary(Buffer.from(input.bytes.buffer, input.bytes.byteOffset, input.bytes.byteLength));
    } else {
      entry.gridfsId = entry._id;
      await new Promise<void>((resolve, reject) => {
        const upload = this.bucket.openUploadStreamWithId(entry._id as never, `${entry._id}.raw`, { metadata: { kind: input.kind } });
        upload.once('error', reject);
        upload.once('finish', () => resolve());
        upload.end(Buffer.from(input.bytes.buffer, input.bytes.byteOffset, input.bytes.byteLength));
      });
    }
    return entry;
  }

  /**
   * Stores a raw input that arrives as a stream (e.g. a 100 MB upload) with bounded memory: the
   * SHA-256 is computed while reading; up to INLINE_LIMIT bytes are buffered, beyond that the
   * buffered part and the rest are written to GridFS chunk by chunk with back pressure. A stream
   * that fails half-way leaves nothing behind (the partial GridFS file is deleted) and rethrows.
   */
  async storeStream(input: Omit<StoreInput, 'bytes'> & { stream: AsyncIterable<Uint8Array> }): Promise<InboxEntry> {
    const id = randomUUID();
    const hash = createHash('sha256');
    let size = 0;
    let buffered: Buffer[] = [];
    let upload: GridFSBucketWriteStream | undefined;
    const write = (chunk: Buffer): Promise<void> =>
      new Promise((resolve, reject) => (upload as GridFSBucketWriteStream).write(chunk, (err) => (err ? reject(err) : resolve())));
    try {
      for await (const raw of input.stream) {
        const chunk = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
        hash.update(chunk);
        size += chunk.byteLength;
        if (!upload && size <= INLINE_LIMIT) {
          buffered.push(chunk);
          continue;
        }
        if (!upload) {
          upload = this.bucket.openUploadStreamWithId(id as never, `${id}.raw`, { metadata: { kind: input.kind } });
          for (const b of buffered) await write(b);
          buffered = [];
        }
        await write(chunk);
      }
      if (upload) {
        const u = upload;
        await new Promise<void>((resolve, reject) => {
          u.once('error', reject);
          u.end(() => resolve());
        });
      }
    } catch (err) {
      if (upload) {
        await upload.abort().catch(() => undefined);
        await this.bucket.delete(id as never).catch(() => undefined);
      }
      throw err;
    }
    const entry = newEntry(id, input, hash.digest('hex'), size);
    if (upload) entry.gridfsId = id;
    else entry.bytes = new Binary(Buffer.concat(buffered));
    await this.insertEntry(entry);
    return entry;
  }

  /**
   * Inserts an entry; inline bytes go to their own insert-only collection, so the status updates
   * on `inbox` stay cheap (FerretDB 1.24 rewrites by scanning the whole table on every update).
   */
  private async insertEntry(entry: InboxEntry): Promise<void> {
    const { bytes, ...meta } = entry;
    if (bytes) await this.raw.insertOne({ _id: entry._id, bytes }, { writeConcern: { w: 1, journal: true } });
    await this.entries.insertOne(meta, { writeConcern: { w: 1, journal: true } });
  }

  /** The raw bytes of an entry. */
  async bytes(entry: Pick<InboxEntry, '_id' | 'bytes' | 'gridfsId'>): Promise<Buffer> {
    if (entry.bytes) return Buffer.from(entry.bytes.buffer);
    if (!entry.gridfsId) {
      const raw = await this.raw.findOne({ _id: entry._id });
      if (raw) return Buffer.from(raw.bytes.buffer);
      const full = await this.entries.findOne({ _id: entry._id });
      if (full?.bytes) return Buffer.from(full.bytes.buffer);
      if (!full?.gridfsId) throw new Error(`inbox entry ${entry._id} has no stored bytes`);
      entry = full;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of this.bucket.openDownloadStream(entry.gridfsId as never)) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  /** One entry with its bytes, or null. */
  async get(id: string): Promise<InboxEntry | null> {
    return this.entries.findOne({ _id: id });
  }

  /** Entry metadata without bytes, newest first. */
  async list(filter: { status?: InboxStatus; kind?: string }, page: { limit: number; offset: number }): Promise<{ entries: InboxSummary[]; total: number }> {
    const q: Record<string, unknown> = {};
    if (filter.status) q.status = filter.status;
    if (filter.kind) q.kind = filter.kind;
    const [entries, total] = await Promise.all([
      this.entries.find(q, { projection: { bytes: 0 } }).sort({ receivedAt: -1, _id: 1 }).skip(page.offset).limit(page.limit).toArray(),
      countMatching(this.db, this.entries, q),
    ]);
    return { entries, total };
  }

  /** The id of an earlier entry with the same bytes that was processed, if any. */
  async processedDuplicateOf(key: string, selfId: string): Promise<string | undefined> {
    const h = await this.hashes.findOne({ _id: key });
    if (!h || h.entryId === selfId) return undefined;
    const first = await this.entries.findOne({ _id: h.entryId }, { projection: { status: 1 } });
    return first?.status === INBOX_STATUS.processed ? h.entryId : undefined;
  }

  /**
   * Of these entries (with their duplicate keys), those whose bytes an earlier entry already
   * processed: two `$in` queries for all of them.
   */
  async processedBefore(entries: readonly { id: string; key: string }[]): Promise<Set<string>> {
    const firsts = await findAnyOf(this.hashes, {}, '_id', entries.map((e) => e.key));
    const firstOf = new Map(firsts.map((h) => [h._id, h.entryId]));
    const candidates = entries.filter((e) => firstOf.has(e.key) && firstOf.get(e.key) !== e.id);
    if (!candidates.length) return new Set();
    const processed = await findAnyOf(this.entries, { status: INBOX_STATUS.processed }, '_id', candidates.map((e) => firstOf.get(e.key) as string), { projection: { _id: 1 } });
    const done = new Set(processed.map((p) => p._id));
    return new Set(candidates.filter((e) => done.has(firstOf.get(e.key) as string)).map((e) => e.id));
  }

  /** Records a successful processing. */
  async markProcessed(id: string, key: string, result: ProcessedResult): Promise<void> {
    await this.markProcessedMany([{ id, key, result }]);
  }

  /** Records the successful processing of several entries: one command each for the statuses, the waiting index and the duplicate keys. */
  async markProcessedMany(items: readonly { id: string; key: string; result: ProcessedResult }[]): Promise<void> {
    if (!items.length) return;
    const processedAt = new Date();
    await this.entries.bulkWrite(
      items.map(({ id, result }) => ({
        updateOne: {
          filter: { _id: id },
          update: { $set: { status: INBOX_STATUS.processed, processedAt, label: result.label, adapterVersion: result.adapterVersion, outputs: result.outputs, warnings: result.warnings, ...(result.externalId ? { externalId: result.externalId } : {}) }, $unset: { error: '', waitingFor: '' }, $inc: { attempts: 1 } },
        },
      })),
    );
    await this.stopWaiting(items.map((i) => i.id));
    // The latest processed entry of each key stands for it.
    await insertOrReplace(
      this.hashes,
      items.map(({ id, key }) => ({ _id: key, entryId: id })),
    );
  }

  /** Records that the bytes were already processed under another entry. */
  async markDuplicate(id: string, duplicateOf: string): Promise<void> {
    await this.entries.updateOne({ _id: id }, { $set: { status: INBOX_STATUS.duplicate, processedAt: new Date(), duplicateOf }, $unset: { waitingFor: '' }, $inc: { attempts: 1 } });
    await this.stopWaiting([id]);
  }

  /** Records a failure with its reason; the bytes stay. */
  async markFailed(id: string, error: InboxError, extra: { label?: string; externalId?: string; adapterVersion?: string } = {}): Promise<void> {
    await this.entries.updateOne({ _id: id }, { $set: { status: INBOX_STATUS.failed, processedAt: new Date(), error, ...extra }, $unset: { waitingFor: '' }, $inc: { attempts: 1 } });
    await this.stopWaiting([id]);
  }

  /**
   * Holds an entry until a Patient with one of `waitingFor` ("system|value") is written: the
   * index first (so a patient written meanwhile finds it), then the status; `error` says why.
   */
  async markWaiting(id: string, waitingFor: string[], error: InboxError, extra: { label?: string; adapterVersion?: string } = {}): Promise<void> {
    const since = new Date();
    for (const key of new Set(waitingFor)) {
      try {
        await this.waiting.insertOne({ _id: `${key}#${id}`, key, entryId: id, since });
      } catch (err) {
        if ((err as { code?: number }).code !== 11000) throw err;
      }
    }
    await this.entries.updateOne({ _id: id }, { $set: { status: INBOX_STATUS.waiting, processedAt: since, error, waitingFor: [...new Set(waitingFor)], ...extra }, $inc: { attempts: 1 } });
  }

  /** Ids of the entries waiting for any of these patient identifiers ("system|value"), oldest first. */
  async waitingOn(keys: string[]): Promise<string[]> {
    // One indexed `$in` query, on MongoDB and the embedded store alike.
    const found: WaitingDoc[] = await findAnyOf(this.waiting, {}, 'key', keys);
    found.sort((a, b) => a.since.getTime() - b.since.getTime() || a.entryId.localeCompare(b.entryId));
    return [...new Set(found.map((w) => w.entryId))];
  }

  /** Every identifier some entry waits for (to file, e.g. at start-up, those whose patient exists by now). */
  async waitedFor(): Promise<string[]> {
    return this.waiting.distinct('key');
  }

  /** Drops the waiting index documents of entries that were filed, failed or are duplicates now. */
  private async stopWaiting(ids: readonly string[]): Promise<void> {
    const docs = await findAnyOf(this.waiting, {}, 'entryId', [...ids], { projection: { _id: 1 } });
    if (docs.length) await this.waiting.deleteMany({ _id: { $in: docs.map((d) => d._id) } });
  }
}
