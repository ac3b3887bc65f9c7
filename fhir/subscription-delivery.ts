import type { Group, Resource, Subscription } from '@medplum/fhirtypes';
import type { Collection } from 'mongodb';
import { COLLECTION_NAMES, resourceOf } from '../schema/collections.ts';
import { resourceKey } from '../schema/resource-id.ts';
import { compartmentOf } from '../schema/search-index.ts';
import { keepVisible, guardedResource } from '../store/access-guard.ts';
import type { AccessRecord, AuditTrail } from '../store/audit-trail.ts';
import type { Principal } from '../store/access.ts';
import type { Database } from '../store/db.ts';
import type { Repository } from '../store/repository.ts';
import { systemContext, type RequestContext } from '../store/request-context.ts';
import { matchesCriteria, parseSubscriptionCriteria, type SubscriptionCriteria } from './subscription-criteria.ts';
import { endpointAllowed, ownerAccess, prepareSubscription, sendsResource, subscriptionOwners, type SubscriptionPolicy } from './subscriptions.ts';

/**
 * Delivery of R4 rest-hook notifications. After a write commits, the derived-data outbox (the
 * same entry that re-derives the timeline, recorded with the write and retried until it succeeds)
 * calls `enqueue` with what was written: each version is matched against the active
 * Subscriptions, and each match becomes a notification document (`_id` = subscription + version,
 * so a repeated outbox run adds nothing). The notifier sends them in the background — never in
 * the writer's way — one POST each with a timeout, in order per Subscription, retried with
 * doubling delays; after the last retry the Subscription goes to status `error` with the reason.
 * Before each POST the disclosure is recorded in the access audit (agent: the Subscription's
 * owner; entities: the patient, the resource, the Subscription; the endpoint in the query), and
 * the resource is checked against the owner's access with the repository's guard.
 * One notifier per database is assumed (like the audit chainer); delivery is at least once.
 * See: https://hl7.org/fhir/R4/subscription.html#2.46.7.2
 */

export interface NotificationDoc {
  /** "<subscription id>|Type/id/_history/vid". */
  _id: string;
  subscription: string;
  /** "Type/id". */
  resource: string;
  version: number;
  state: 'pending' | 'delivered' | 'skipped';
  createdAt: Date;
  due: Date;
  attempts: number;
  lastError?: string;
  doneAt?: Date;
}

export interface SubscriptionDeliveryOptions extends SubscriptionPolicy {
  /** Timeout of one POST. */
  timeoutMs: number;
  /** Retries after a failed POST before the Subscription is set to error. */
  retries: number;
  /** The first retry's delay; each further one doubles it. */
  backoffMs: number;
  /** How often the background pass looks for due notifications (default 1000 ms). */
  intervalMs?: number;
}

interface Logger {
  info: (obj: object, msg?: string) => void;
  warn: (obj: object, msg?: string) => void;
  error: (obj: object, msg?: string) => void;
}

/** How long sent notifications are kept, so that a repeated outbox run does not send them again. */
const KEEP_DONE_MS = 24 * 60 * 60_000;
/** How long the list of active Subscriptions is reused (a Subscription write here clears it at once). */
const ACTIVE_CACHE_MS = 2_000;

interface ActiveSubscription {
  sub: Subscription;
  criteria: SubscriptionCriteria;
  since: string;
}

export class SubscriptionNotifier {
  readonly queue: Collection<NotificationDoc>;
  private readonly database: Database;
  private readonly repo: Repository;
  private readonly audit: AuditTrail;
  private readonly logger: Logger;
  private readonly options: SubscriptionDeliveryOptions;
  private readonly ctx: RequestContext = systemContext('subscriptions');
  private active: { at: number; list: ActiveSubscription[] } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private pass: Promise<number> | undefined;
  private again = false;
  private stopped = false;
  private prunedAt = 0;

  constructor(deps: { database: Database; repo: Repository; audit: AuditTrail; logger: Logger }, options: SubscriptionDeliveryOptions) {
    this.database = deps.database;
    this.repo = deps.repo;
    this.audit = deps.audit;
    this.logger = deps.logger;
    this.options = options;
    this.queue = deps.database.db.collection<NotificationDoc>(COLLECTION_NAMES.subscriptionNotifications);
  }

  /** The repository preparer of Subscription writes (status, checks, owner). */
  prepare = (ctx: RequestContext, resource: Resource, id: string): Promise<Resource> => {
    this.active = undefined;
    return prepareSubscription(this.database, this.options, ctx, resource, id);
  };

  /** Forgets the cached list of active Subscriptions (after a Subscription was written). */
  invalidate(): void {
    this.active = undefined;
  }

  /** Matches what was written ("Type/id" or "Type/id/_history/n") against the active Subscriptions and queues the notifications. */
  async enqueue(refs: readonly string[]): Promise<void> {
    const subs = await this.activeSubscriptions();
    if (!subs.length) return;
    const members = memberLookup(this.database);
    let queued = 0;
    for (const ref of new Set(refs)) {
      const [type, id, , vid] = ref.split('/');
      if (!type || !id || !subs.some((s) => s.criteria.resourceType === type)) continue;
      const version = await this.version(type, id, vid);
      if (!version) continue;
      for (const s of subs) {
        // A Subscription notifies of what is written after it became active, not of older versions re-derived later.
        if ((version.meta?.lastUpdated ?? '') < s.since) continue;
        if (!(await matchesCriteria(version, s.criteria, members))) continue;
        const now = new Date();
        const key = `${type}/${id}/_history/${version.meta?.versionId}`;
        await this.queue.updateOne(
          { _id: `${s.sub.id}|${key}` },
          { $setOnInsert: { subscription: s.sub.id as string, resource: `${type}/${id}`, version: Number(version.meta?.versionId), state: 'pending', createdAt: now, due: now, attempts: 0 } },
          { upsert: true },
        );
        queued++;
      }
    }
    if (queued) this.kick();
  }

  /** Delivers what is due now (one pass at a time; a call during a pass runs another after it). */
  kick(): void {
    if (this.stopped) return;
    if (this.pass) {
      this.again = true;
      return;
    }
    this.pass = this.deliverDue()
      .catch((err: unknown) => {
        this.logger.error({ err }, 'delivering subscription notifications failed; retried in the background');
        return 0;
      })
      .finally(() => {
        this.pass = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** Sends every due notification, in order per Subscription; returns how many were delivered. */
  async deliverDue(): Promise<number> {
    const now = Date.now();
    const pending = await this.queue.find({ state: 'pending' }).toArray();
    const bySub = new Map<string, NotificationDoc[]>();
    for (const n of pending.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || (a._id < b._id ? -1 : 1))) {
      bySub.set(n.subscription, [...(bySub.get(n.subscription) ?? []), n]);
    }
    let delivered = 0;
    for (const [subId, list] of bySub) {
      if (this.stopped) break;
      const sub = await this.current(subId);
      if (!sub || sub.status !== 'active' || (sub.end && Date.parse(sub.end) < now)) {
        await this.queue.deleteMany({ subscription: subId, state: 'pending' });
        if (!sub) await subscriptionOwners(this.database).deleteOne({ _id: subId });
        continue;
      }
      for (const n of list) {
        if (n.due.getTime() > now) break;
        const result = await this.deliver(sub, n);
        if (result === 'delivered') delivered++;
        if (result === 'failed') break;
      }
    }
    if (now - this.prunedAt > 60_000) {
      this.prunedAt = now;
      await this.queue.deleteMany({ state: { $ne: 'pending' }, doneAt: { $lt: new Date(now - KEEP_DONE_MS) } });
    }
    return delivered;
  }

  /** Sends one notification: checks the owner's access, records the disclosure, POSTs. */
  private async deliver(sub: Subscription, n: NotificationDoc): Promise<'delivered' | 'skipped' | 'failed'> {
    const done = async (state: 'delivered' | 'skipped'): Promise<typeof state> => {
      await this.queue.updateOne({ _id: n._id }, { $set: { state, doneAt: new Date() } });
      return state;
    };
    const [type, id] = n.resource.split('/') as [string, string];
    const resource = await this.version(type, id, String(n.version));
    const owner = await subscriptionOwners(this.database).findOne({ _id: sub.id as string });
    const endpoint = sub.channel.endpoint ?? '';
    if (!resource || !owner || !endpointAllowed(endpoint, this.options.endpoints)) return done('skipped');
    const members = memberLookup(this.database);
    const access = await ownerAccess(owner, members);
    const ownerCtx: RequestContext = { actor: owner.principal.subject, purpose: owner.purpose, requestId: `subscription-${sub.id}`, access };
    const patients = compartmentOf(resource);
    const visible = await keepVisible(this.database, ownerCtx, [resource], (r) => guardedResource(r, patients));
    if (!visible.length) return done('skipped');
    try {
      await this.audit.record(disclosure(owner.principal, owner.purpose, sub, n, patients, endpoint));
    } catch (err) {
      return this.failed(sub, n, `the delivery could not be recorded in the access audit: ${(err as Error).message}`, false);
    }
    const body = sendsResource(sub) ? JSON.stringify(resource) : undefined;
    const headers = new Headers();
    for (const h of owner.headers ?? []) headers.append(h.name, h.value);
    if (body !== undefined) headers.set('content-type', 'application/fhir+json');
    try {
      const res = await fetch(endpoint, { method: 'POST', headers, ...(body !== undefined ? { body } : {}), redirect: 'manual', signal: AbortSignal.timeout(this.options.timeoutMs) });
      await res.body?.cancel().catch(() => undefined);
      if (res.status < 200 || res.status > 299) return this.failed(sub, n, `the endpoint answered HTTP ${res.status}`, true);
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      return this.failed(sub, n, e.name === 'TimeoutError' ? `no answer within ${this.options.timeoutMs} ms` : `${e.message}${e.cause?.code ? ` (${e.cause.code})` : ''}`, true);
    }
    return done('delivered');
  }

  /** A failed attempt: retried later with a doubled delay, or, after the last retry, the Subscription goes to error. */
  private async failed(sub: Subscription, n: NotificationDoc, reason: string, counts: boolean): Promise<'failed'> {
    const attempts = n.attempts + (counts ? 1 : 0);
    this.logger.warn({ subscription: sub.id, notification: n._id, attempts, reason }, 'a subscription notification failed');
    if (counts && attempts > this.options.retries) {
      const error = `rest-hook notification of ${n.resource}/_history/${n.version} failed ${attempts} times; last: ${reason} (${new Date().toISOString()})`;
      await this.repo.update(this.ctx, { ...sub, status: 'error', error } as Subscription);
      await this.queue.deleteMany({ subscription: sub.id as string, state: 'pending' });
      this.invalidate();
      return 'failed';
    }
    const delay = this.options.backoffMs * 2 ** Math.max(0, Math.min(20, attempts - 1));
    await this.queue.updateOne({ _id: n._id }, { $set: { attempts, lastError: reason, due: new Date(Date.now() + delay) } });
    return 'failed';
  }

  /** Starts the background pass (retries and notifications left by an earlier process). */
  start(): void {
    this.stopped = false;
    const interval = this.options.intervalMs ?? 1000;
    this.timer = setInterval(() => this.kick(), interval);
    this.timer.unref();
    this.kick();
  }

  /** Stops the background pass and waits for the one running. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.pass;
  }

  private async activeSubscriptions(): Promise<ActiveSubscription[]> {
    if (this.active && Date.now() - this.active.at < ACTIVE_CACHE_MS) return this.active.list;
    const docs = await this.database.c.resources.find({ rt: 'Subscription', keys: 'status=active' }, { projection: { json: 1, deleted: 1 } }).toArray();
    const list: ActiveSubscription[] = [];
    for (const d of docs) {
      const sub = d.deleted ? undefined : resourceOf<Subscription>(d);
      if (sub?.status !== 'active') continue;
      try {
        list.push({ sub, criteria: parseSubscriptionCriteria(sub.criteria), since: sub.meta?.lastUpdated ?? '' });
      } catch (err) {
        this.logger.warn({ subscription: sub.id, err }, 'an active Subscription has criteria IDR cannot parse; it notifies of nothing');
      }
    }
    this.active = { at: Date.now(), list };
    return list;
  }

  private async current(id: string): Promise<Subscription | undefined> {
    const doc = await this.database.c.resources.findOne({ _id: resourceKey('Subscription', id) });
    return doc && !doc.deleted ? resourceOf<Subscription>(doc) : undefined;
  }

  /** One version of a resource (the current one without `vid`); undefined when it is a deletion or unknown. */
  private async version(type: string, id: string, vid: string | undefined): Promise<Resource | undefined> {
    if (vid) return resourceOf(await this.database.c.history.findOne({ _id: `${type}/${id}/${vid}` }));
    const doc = await this.database.c.resources.findOne({ _id: resourceKey(type, id) });
    return doc && !doc.deleted ? resourceOf(doc) : undefined;
  }
}

/** Current patient members of Groups (active, within their period), looked up once per Group per call. */
export function memberLookup(database: Database): (group: string) => Promise<ReadonlySet<string>> {
  const cache = new Map<string, Promise<ReadonlySet<string>>>();
  return (group) => {
    let found = cache.get(group);
    if (!found) {
      found = (async () => {
        const doc = await database.c.resources.findOne({ _id: resourceKey('Group', group) }, { projection: { json: 1, deleted: 1 } });
        const g = doc && !doc.deleted ? resourceOf<Group>(doc) : undefined;
        const now = new Date().toISOString();
        const out = new Set<string>();
        for (const m of g?.member ?? []) {
          const ref = m.entity.reference ?? '';
          if (!ref.startsWith('Patient/') || m.inactive || (m.period?.end && m.period.end < now)) continue;
          out.add(ref.slice('Patient/'.length));
        }
        return out;
      })();
      cache.set(group, found);
    }
    return found;
  };
}

/** The access record of one notification: data of `patients` leaves IDR for the endpoint, on the owner's behalf. */
function disclosure(principal: Principal, purpose: string, sub: Subscription, n: NotificationDoc, patients: string[], endpoint: string): AccessRecord {
  const url = new URL(endpoint);
  return {
    time: new Date(),
    requestId: `subscription-${sub.id}-${n.resource}-${n.version}`,
    agent: { subject: principal.subject, issuer: principal.issuer, role: principal.role, ...(principal.name ? { name: principal.name } : {}), ...(principal.client ? { client: principal.client } : {}) },
    purpose,
    interaction: 'notify',
    action: 'R',
    outcome: 'success',
    status: 200,
    reason: `rest-hook notification ${sendsResource(sub) ? 'with the resource' : 'without content'}, attempt ${n.attempts + 1}`,
    patients,
    resources: [`${n.resource}`, `Subscription/${sub.id}`],
    types: [...new Set([n.resource.split('/')[0] as string, 'Subscription'])],
    query: `POST ${url.origin}${url.pathname} (Subscription/${sub.id}, ${n.resource}/_history/${n.version})`,
  };
}
