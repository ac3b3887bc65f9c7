import type { Collection, Db } from 'mongodb';
import { COLLECTION_NAMES } from '../../schema/collections.ts';

/**
 * What links reports to imaging, kept so a link is found by `_id` lookups (the only query
 * FerretDB answers without a scan): one document per patient-scoped key such as
 * `<patient id>|acc:RAD25-00101`, `<patient id>|uid:urn:oid:1.2.3` or `<patient id>|spec:T25-00011-A`,
 * listing the ImagingStudy and DiagnosticReport ids that carry it.
 */
interface LinkKeyDoc {
  _id: string;
  studies: string[];
  reports: string[];
}

export type LinkSide = 'studies' | 'reports';

/** The link keys of reports and studies, by `_id`. */
export class ImagingLinkIndex {
  private readonly c: Collection<LinkKeyDoc>;
  constructor(db: Db) {
    this.c = db.collection<LinkKeyDoc>(COLLECTION_NAMES.imagingLinkKeys);
  }

  /** Records that resource `id` (a study or a report) carries each key; returns the documents after the update. */
  async add(side: LinkSide, id: string, keys: string[]): Promise<LinkKeyDoc[]> {
    const out: LinkKeyDoc[] = [];
    for (const key of new Set(keys)) {
      await this.c.updateOne({ _id: key }, { $addToSet: { [side]: id } as never }, { upsert: true });
      const doc = await this.c.findOne({ _id: key });
      if (doc) out.push({ _id: doc._id, studies: doc.studies ?? [], reports: doc.reports ?? [] });
    }
    return out;
  }
}
