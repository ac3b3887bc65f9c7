import { createHash } from 'node:crypto';
import { deflateSync, inflateSync } from 'node:zlib';
import { Binary, type Collection } from 'mongodb';
import type { Resource } from '@medplum/fhirtypes';
import type { Database } from '../store/db.ts';
import type { Repository } from '../store/repository.ts';
import { systemContext, type RequestContext } from '../store/request-context.ts';
import { assertPermits } from '../store/access.ts';
import { guardedResource, keepVisible } from '../store/access-guard.ts';
import { COLLECTION_NAMES } from '../schema/collections.ts';
import { compartmentOf } from '../schema/search-index.ts';
import { storeReads, type PatientReads } from './lookups.ts';

/**
 * What a patient's case summary read, kept until the patient's record changes. A summary with
 * every part runs about ten queries over some hundred resources, and the embedded store turns
 * every row it reads into a document (0.2–0.4 ms each): 60–110 ms of database time for a view a
 * tumour board opens again and again while nothing in the record changes.
 *
 * - **One document per patient** (`_id` = the patient id), holding each read by the hash of what
 *   was read: the resources found, with their compartments, as deflated JSON (a few KB), and the
 *   patient's stamp when they were read. A request reads it once, with the stamp.
 * - **Current while the stamp is.** The stamp (TimelineStore.stamp) changes with every write that
 *   re-derives anything of the patient, after the write, including the patient a resource was
 *   moved away from. A read takes the stamp before it reads the store, so a write landing
 *   meanwhile leaves the stamp it was kept under outdated, never the reverse. Reads kept under an
 *   older stamp are dropped when the document is next written.
 * - **The same answer and the same audit as the store's.** A read kept here is what the store
 *   holds, read with IDR's own access; every request filters it through the caller's access
 *   (`keepVisible`, which also notes each resource shown for the access audit), and a search
 *   checks the caller's right to search the type, as the store's search does.
 */

/** How long after its last read from the store a request's reads are written. */
const SAVE_AFTER_MS = 20;

interface KeptRead {
  /** What was read (the read's name and arguments). */
  read: string;
  stamp: string;
  /** `KeptResource[]` as deflated JSON. */
  found: Binary;
}

interface SummaryReadsDoc {
  _id: string;
  at: Date;
  /** By the hash of what was read. */
  reads: Record<string, KeptRead>;
}

/** A resource as kept: the patients whose compartments held it (for the access check) and the resource. */
interface KeptResource {
  p: string[];
  r: Resource;
}

export class SummaryCache {
  private readonly docs: Collection<SummaryReadsDoc>;
  private readonly database: Database;
  private readonly stampOf: (patient: string) => Promise<string | null>;
  /** Writes waiting or running, each removed when done. */
  private readonly saves = new Set<Promise<void>>();

  constructor(database: Database, stampOf: (patient: string) => Promise<string | null>) {
    this.database = database;
    this.docs = database.db.collection<SummaryReadsDoc>(COLLECTION_NAMES.summaryReads);
    this.stampOf = stampOf;
  }

  /** The reads of one request about one patient, answered from what is kept where it is current. */
  patientReads(repo: Repository, ctx: RequestContext, patient: string): PatientReads {
    const live = storeReads(repo, ctx, patient);
    const system = storeReads(repo, systemContext('case-summary', ctx.requestId), patient);
    let state: Promise<{ stamp: string | null; kept: Record<string, KeptRead> }> | undefined;
    const added: Record<string, KeptRead> = {};
    // Written once the request has read nothing more from the store for SAVE_AFTER_MS, in one
    // write with what was kept under the same stamp, after the answer: the embedded store takes
    // 5–10 ms to replace the document, and a write per read cost a summary read after a change
    // 40–60 ms more. Keeping is an optimisation: a failure leaves the next request to read the
    // store again.
    let timer: NodeJS.Timeout | undefined;
    let finish: (() => void) | undefined;
    let written = Promise.resolve();
    const saveSoon = (stamp: string, kept: Record<string, KeptRead>): void => {
      if (timer) clearTimeout(timer);
      if (!finish) {
        const done = new Promise<void>((resolve) => (finish = resolve));
        this.saves.add(done);
        void done.then(() => this.saves.delete(done));
      }
      timer = setTimeout(() => {
        const resolve = finish;
        timer = undefined;
        finish = undefined;
        written = written.then(() => this.save(patient, stamp, kept, added)).catch(() => undefined).finally(() => resolve?.());
      }, SAVE_AFTER_MS);
    };
    // Without a stamp (a patient nothing has been derived for yet) the caller's own read answers.
    const kept = async <T extends Resource>(what: string, read: (reads: PatientReads) => Promise<T[]>): Promise<T[]> => {
      const { stamp, kept } = await (state ??= this.load(patient));
      if (!stamp) return read(live);
      const key = createHash('sha256').update(what).digest('base64url').slice(0, 22);
      const hit = added[key] ?? kept[key];
      if (hit?.stamp === stamp && hit.read === what) return this.visible(ctx, JSON.parse(inflateSync(hit.found.buffer).toString('utf8')) as KeptResource[]);
      const found = (await read(system)).map((r) => ({ p: compartmentOf(r), r }));
      added[key] = { read: what, stamp, found: new Binary(deflateSync(JSON.stringify(found))) };
      saveSoon(stamp, kept);
      return this.visible(ctx, found);
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

  /** Resolves when every read found so far is written (tests; a stop). */
  async settled(): Promise<void> {
    while (this.saves.size) await Promise.all([...this.saves]);
  }

  /** Forgets everything kept (after a reindex, which may change what a read finds); returns for how many patients. */
  async clear(): Promise<number> {
    return (await this.docs.deleteMany({})).deletedCount;
  }

  /** The patient's stamp and kept reads, read at once. */
  private async load(patient: string): Promise<{ stamp: string | null; kept: Record<string, KeptRead> }> {
    const [stamp, doc] = await Promise.all([this.stampOf(patient), this.docs.findOne({ _id: patient })]);
    return { stamp, kept: doc?.reads ?? {} };
  }

  private async save(patient: string, stamp: string, kept: Record<string, KeptRead>, added: Record<string, KeptRead>): Promise<void> {
    const current = Object.fromEntries(Object.entries({ ...kept, ...added }).filter(([, r]) => r.stamp === stamp));
    await this.docs.replaceOne({ _id: patient }, { at: new Date(), reads: current }, { upsert: true });
  }

  /** The resources the caller may see, noted for the access audit (as a read of the store notes them). */
  private async visible<T extends Resource>(ctx: RequestContext, found: KeptResource[]): Promise<T[]> {
    const shown = await keepVisible(this.database, ctx, found, (k) => guardedResource(k.r, k.p));
    return shown.map((k) => k.r as T);
  }
}
