import type { Resource } from '@medplum/fhirtypes';
import type { Database } from '../store/db.ts';
import type { RequestContext } from '../store/request-context.ts';
import type { WriteScope } from '../store/version-store.ts';
import { Repository, type WriteResult } from '../store/repository.ts';
import type { TimelineStore } from './projection.ts';

/**
 * The Repository with the timeline kept in step: after each create, update or delete the events
 * the resource takes part in are re-derived. Writes whose context `defer` accepts (the ingestion
 * pipeline, which projects a whole message at once in its afterWrite hook) are left to the caller.
 */
export class TimelineRepository extends Repository {
  private readonly timeline: TimelineStore;
  private readonly defer: (ctx: RequestContext) => boolean;

  constructor(database: Database, timeline: TimelineStore, options: { defer?: (ctx: RequestContext) => boolean; clock?: () => Date } = {}) {
    super(database, options.clock);
    this.timeline = timeline;
    this.defer = options.defer ?? (() => false);
  }

  /** Creates, then projects the new resource onto the timeline. */
  override async create(ctx: RequestContext, resource: Resource, options: { ifNoneExist?: string; scope?: WriteScope; id?: string } = {}): Promise<WriteResult> {
    const r = await super.create(ctx, resource, options);
    if (!r.unchanged) await this.after(ctx, `${r.resource.resourceType}/${r.resource.id}`);
    return r;
  }

  /** Updates, then re-derives the events the resource takes part in. */
  override async update(ctx: RequestContext, resource: Resource, options: { ifMatch?: string; scope?: WriteScope } = {}): Promise<WriteResult> {
    const r = await super.update(ctx, resource, options);
    if (!r.unchanged) await this.after(ctx, `${r.resource.resourceType}/${r.resource.id}`);
    return r;
  }

  /** Deletes, then removes (or re-derives) the events the resource took part in. */
  override async delete(ctx: RequestContext, type: string, id: string, options: { scope?: WriteScope } = {}): Promise<{ deleted: boolean }> {
    const r = await super.delete(ctx, type, id, options);
    if (r.deleted) await this.after(ctx, `${type}/${id}`);
    return r;
  }

  private async after(ctx: RequestContext, key: string): Promise<void> {
    if (!this.defer(ctx)) await this.timeline.project([key]);
  }
}
