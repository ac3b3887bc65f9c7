import { createHash } from 'node:crypto';
import type { Collection } from 'mongodb';
import type { Resource } from '@medplum/fhirtypes';
import type { Database } from '../store/db.ts';
import type { Repository } from '../store/repository.ts';
import { systemContext, type RequestContext } from '../store/request-context.ts';
import { assertPermits } from '../store/access.ts';
import { keepVisible } from '../store/access-guard.ts';
import { COLLECTION_NAMES } from '../schema/collections.ts';
import { compartmentOf } from '../schema/search-index.ts';
import { storeReads, type PatientReads } from './lookups.ts';

/**
 * What a patient's case summary read, kept until the patient's record changes. A summary with
 * every part runs about ten queries over some hundred resources, and the embedded store turns
 * every row it reads into a document (0.2–0.4 ms each): 60–110 ms of database time for a view a
 * tumour board opens again and again while nothing in the record changes.
 *
 * - **One document per read** (`_id` "<patient>|<hash of the read>"): the resources it found,
 *   with their compartments, as JSON text (one value to decode), and the patient's stamp when it
 *   was read.
 * - **Current while the stamp is.** The stamp (TimelineStore.stamp) changes with every write that
 *   re-derives anything of the patient, after the write, including the patient a resource was
 *   moved away from. A read takes the stamp before it reads the store, so a write landing
 *   meanwhile leaves the stamp it was kept under outdated, never the reverse.
 * - **The same answer and the same audit as the store's.** A read kept here is what the store
 *   holds, read with IDR's own access; every request filters it through the caller's access
 *   (`keepVisible`, which also notes each resource shown for the access audit), and a search
 *   checks the caller's right to search the type, as the store's search does.
 */

interface SummaryReadDoc {
  _id: string;
  patient: string;
  /** What was read (the read's name and arguments), for whoever looks at the collection. */
  read: string;
  stamp: string;
  at: Date;
  /** JSON text of `KeptResource[]`. */
  found: string;
}

/** A resource as kept: the patients whose compartments held it (for the access check) and the resource. */
interface KeptResource {
  p: string[];
  r: Resource;
}

export class SummaryCache {
  private readonly reads: Collection<SummaryReadDoc>;
  private readonly database: Database;
  private readonly stampOf: (patient: string) => Promise<string | null>;

  constructor(database: Database, stampOf: (patient: string) => Promise<string | null>) {
    this.database = database;
    this.reads = database.db.collection<SummaryReadDoc>(COLLECTION_NAMES.summaryReads);
    this.stampOf = stampOf;
  }

  /** The reads of one request about one patient, answered from what is kept where it is current. */
  patientReads(repo: Repository, ctx: RequestContext, patient: string): PatientReads {
    let stamp: Promise<string | null> | undefined;
    const live = storeReads(repo, ctx, patient);
    const system = storeReads(repo, systemContext('case-summary', ctx.requestId), patient);
    // Without a stamp (a patient nothing has been derived for yet) the caller's own read answers.
    const kept = async <T extends Resource>(what: string, read: (reads: PatientReads) => Promise<T[]>): Promise<T[]> => {
      const current = await (stamp ??= this.stampOf(patient));
      if (!current) return read(live);
      return this.visible(ctx, await this.find(patient, what, current, () => read(system)));
    };
    return {
      search: async <T extends Resource>(type: T['resourceType'], params: Record<string, string | undefined>, count: number) => {
        assertPermits(ctx.access, type, 's');
        return kept(`search ${type} ${JSON.stringify(params)} ${count}`, (r) => r.search<T>(type, params, count));
      },
      reportsMarkedBy: (codes) => kept(`reportsMarkedBy ${codes.join(',')}`, (r) => r.reportsMarkedBy(codes)),
      reportsLinkedTo: (studies) => kept(`reportsLinkedTo ${studies.join(',')}`, (r) => r.reportsLinkedTo(studies)),
      readMany: async (references) => {
        const found = await kept(`readMany ${[...new Set(references)].sort().join(',')}`, async (r) => [...(await r.readMany(references)).values()]);
        return new Map(found.map((r) => [`${r.resourceType}/${r.id}`, r]));
      },
    };
  }

  /** Forgets everything kept (after a reindex, which may change what a read finds); returns how many reads were kept. */
  async clear(): Promise<number> {
    return (await this.reads.deleteMany({})).deletedCount;
  }

  /** What `read` finds, from the document kept under `stamp` or read now (and kept). */
  private async find(patient: string, what: string, stamp: string, read: () => Promise<Resource[]>): Promise<KeptResource[]> {
    const id = `${patient}|${createHash('sha256').update(what).digest('base64url').slice(0, 22)}`;
    const doc = await this.reads.findOne({ _id: id });
    if (doc?.stamp === stamp && doc.read === what) return JSON.parse(doc.found) as KeptResource[];
    const found = (await read()).map((r) => ({ p: compartmentOf(r), r }));
    // Keeping it is an optimisation: a failure leaves the next request to read the store again.
    await this.reads.replaceOne({ _id: id }, { patient, read: what, stamp, at: new Date(), found: JSON.stringify(found) }, { upsert: true }).catch(() => undefined);
    return found;
  }

  /** The resources the caller may see, noted for the access audit (as a read of the store notes them). */
  private async visible<T extends Resource>(ctx: RequestContext, found: KeptResource[]): Promise<T[]> {
    const shown = await keepVisible(this.database, ctx, found, (k) => ({ type: k.r.resourceType, id: k.r.id ?? '', patients: k.p }));
    return shown.map((k) => k.r as T);
  }
}
