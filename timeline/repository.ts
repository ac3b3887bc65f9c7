import type { Resource } from '@medplum/fhirtypes';
import type { Database } from '../store/db.ts';
import type { RequestContext } from '../store/request-context.ts';
import type { WriteScope } from '../store/version-store.ts';
import type { DeriveOutbox } from '../store/derive-outbox.ts';
import { Repository, type UpdateOptions, type WriteResult } from '../store/repository.ts';
import { newResourceId } from '../schema/resource-id.ts';
import type { TimelineStore } from './projection.ts';

/** The outbox task that re-derives the timeline events of the resources it names. */
export const TIMELINE_TASK = 'timeline';

/**
 * The Repository with the timeline kept in step: after each create, update or delete the events
 * the resource takes part in are re-derived. With an outbox, what to re-derive is recorded before
 * the write, so a crash or a failing projection after it is made good later (store/derive-outbox.ts);
 * writes of a transaction Bundle under a journal are re-derived once more after the journal is
 * committed or rolled back (a rolled-back write must not leave its events). Writes whose context
 * `defer` accepts (the ingestion pipeline, which records and projects a whole message at once)
 * are left to the caller.
 */
export class TimelineRepository extends Repository {
  private readonly timeline: TimelineStore;
  private readonly defer: (ctx: RequestContext) => boolean;
  private readonly outbox: DeriveOutbox | undefined;

  constructor(database: Database, timeline: TimelineStore, options: { defer?: (ctx: RequestContext) => boolean; clock?: () => Date; outbox?: DeriveOutbox } = {}) {
    super(database, options.clock);
    this.timeline = timeline;
    this.defer = options.defer ?? (() => false);
    this.outbox = options.outbox;
  }

  /** Creates, then projects the new resource onto the timeline. */
  override async create(ctx: RequestContext, resource: Resource, options: { ifNoneExist?: string; scope?: WriteScope; id?: string } = {}): Promise<WriteResult> {
    // The id is chosen here so that it can be recorded before the write (a conditional create
    // learns its id from the store, and is recorded just after the write instead).
    const id = options.id ?? (options.ifNoneExist || this.defer(ctx) ? undefined : newResourceId());
    const entry = id ? await this.record(ctx, options.scope, `${resource.resourceType}/${id}`) : undefined;
    const r = await this.settle(entry, () => super.create(ctx, resource, { ...options, ...(id ? { id } : {}) }));
    if (!r.unchanged) await this.after(ctx, options.scope, `${r.resource.resourceType}/${r.resource.id}`, entry, !!id);
    else if (entry) await this.outbox?.discard(entry);
    return r;
  }

  /** Updates, then re-derives the events the resource takes part in. */
  override async update(ctx: RequestContext, resource: Resource, options: UpdateOptions = {}): Promise<WriteResult> {
    const entry = resource.id ? await this.record(ctx, options.scope, `${resource.resourceType}/${resource.id}`) : undefined;
    const r = await this.settle(entry, () => super.update(ctx, resource, options));
    if (!r.unchanged) await this.after(ctx, options.scope, `${r.resource.resourceType}/${r.resource.id}`, entry, !!resource.id);
    else if (entry) await this.outbox?.discard(entry);
    return r;
  }

  /** Deletes, then removes (or re-derives) the events the resource took part in. */
  override async delete(ctx: RequestContext, type: string, id: string, options: { scope?: WriteScope } = {}): Promise<{ deleted: boolean }> {
    const entry = await this.record(ctx, options.scope, `${type}/${id}`);
    const r = await this.settle(entry, () => super.delete(ctx, type, id, options));
    if (r.deleted) await this.after(ctx, options.scope, `${type}/${id}`, entry, true);
    else if (entry) await this.outbox?.discard(entry);
    return r;
  }

  /**
   * Records, before a write, that the resource's events must be re-derived: in an entry of its
   * own (run right after the write), or in its journal's entry (run once the journal is settled).
   */
  private async record(ctx: RequestContext, scope: WriteScope | undefined, key: string): Promise<string | undefined> {
    if (!this.outbox || this.defer(ctx)) return undefined;
    if (scope?.writer) {
      const outbox = this.outbox;
      const writer = scope.writer;
      const add = async (refs: string[]): Promise<void> => {
        await outbox.add({ id: `tx|${writer}`, refs, tasks: [TIMELINE_TASK], tx: writer });
      };
      // A batch records every key of its writes at once, before it applies them.
      if (scope.batch) scope.batch.beforeFlush(`outbox|${writer}`, key, add);
      else await add([key]);
      return undefined;
    }
    return this.outbox.add({ refs: [key], tasks: [TIMELINE_TASK] });
  }

  /** Runs the write; when it fails, its entry (recorded for nothing) is settled at once. */
  private async settle<T>(entry: string | undefined, write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (err) {
      if (entry) await this.outbox?.run(entry);
      throw err;
    }
  }

  /** Re-derives after the write; `recorded` says whether the key was recorded before it. */
  private async after(ctx: RequestContext, scope: WriteScope | undefined, key: string, entry: string | undefined, recorded: boolean): Promise<void> {
    if (this.defer(ctx)) return;
    if (!this.outbox) {
      await this.timeline.project([key]);
      return;
    }
    // A conditional create knows its id only now: recorded now, then run.
    const id = entry ?? (recorded ? undefined : await this.record(ctx, scope, key));
    if (id) {
      await this.outbox.run(id, { refs: [key], tasks: [TIMELINE_TASK] });
      return;
    }
    // Projected at once so a reader sees it (a batch's writes together, once applied); the
    // journal's entry re-derives them once it is settled.
    const project = async (keys: string[]): Promise<void> => {
      await this.timeline.project(keys).catch(() => undefined);
    };
    if (scope?.batch) scope.batch.afterFlush('timeline', key, project);
    else await project([key]);
  }
}
