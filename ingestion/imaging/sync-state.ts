import type { Collection, Db } from 'mongodb';
import { COLLECTION_NAMES } from '../../schema/collections.ts';

/** The last DICOMweb import per PACS, keyed by its base URL (`_id` equality only). */
export interface DicomwebSyncDoc {
  _id: string;
  /** When the last successful import started (the next incremental import starts from its day). */
  lastSyncAt?: Date;
  lastStudies?: number;
  /** The last failure, when the last attempt failed. */
  lastError?: { at: Date; message: string };
}

/** Remembers, per DICOMweb base URL, when it was last imported completely. */
export class DicomwebSyncState {
  private readonly c: Collection<DicomwebSyncDoc>;
  constructor(db: Db) {
    this.c = db.collection<DicomwebSyncDoc>(COLLECTION_NAMES.dicomwebSync);
  }

  /** The state of one base URL, or null before its first import. */
  async get(url: string): Promise<DicomwebSyncDoc | null> {
    return this.c.findOne({ _id: url });
  }

  /** Records a complete import that started at `startedAt`. */
  async succeeded(url: string, startedAt: Date, studies: number): Promise<void> {
    await this.c.updateOne({ _id: url }, { $set: { lastSyncAt: startedAt, lastStudies: studies }, $unset: { lastError: '' } }, { upsert: true });
  }

  /** Records a failed attempt (the last successful sync time stays). */
  async failed(url: string, message: string): Promise<void> {
    await this.c.updateOne({ _id: url }, { $set: { lastError: { at: new Date(), message } } }, { upsert: true });
  }
}
