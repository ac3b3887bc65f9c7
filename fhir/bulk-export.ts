import type { FileHandle } from 'node:fs/promises';
import type { Group, Patient, Resource } from '@medplum/fhirtypes';
import { Deidentifier, patientFacts } from './deidentify.ts';
import { badRequest, forbidden, getStatus, OperationOutcomeError, type Filter, type SearchRequest } from '@medplum/core';
import { fail, withText } from '../schema/outcomes.ts';
import { allResourceTypes, isResourceType, patientCompartmentParamsFor } from '../schema/fhir-definitions.ts';
import { permits, type Access, type ScopeGrant } from '../store/access.ts';
import type { Repository } from '../store/repository.ts';
import { AccessLog, systemContext, type RequestContext } from '../store/request-context.ts';
import { MAX_COUNT, parseFhirSearch } from '../store/search-to-mongo.ts';
import type { ExportFiles } from './export-files.ts';

/**
 * FHIR Bulk Data export (`$export` at system, Patient and Group level): the parameters, the
 * cohort, and the job that writes one NDJSON file per resource type. Every resource is read
 * through the repository with the caller's access, one batch (up to MAX_COUNT) at a time, and
 * appended to its file before the next batch is read, so memory stays flat whatever the size.
 * See: https://hl7.org/fhir/uv/bulkdata/export.html
 */

export const EXPORT_LEVEL = { system: 'system', patient: 'patient', group: 'group' } as const;
export type ExportLevel = (typeof EXPORT_LEVEL)[keyof typeof EXPORT_LEVEL];

/** The `_outputFormat` values IDR writes (all the same: FHIR NDJSON). */
export const NDJSON_FORMATS: readonly string[] = ['application/fhir+ndjson', 'application/ndjson', 'ndjson'];

/** The kick-off parameters IDR serves. */
const KNOWN_PARAMS = new Set(['_outputFormat', '_type', '_since', '_typeFilter', 'deidentify']);

/** Search controls a `_typeFilter` query may not carry: the export decides paging and content. */
const TYPE_FILTER_CONTROLS = /^_(sort|count|offset|include|revinclude|summary|elements|total|contained|containedType)(:|$)/;

/** Patient-level export of every patient: patients listed this many at a time. */
const PATIENT_BATCH = 100;

/** At most this many patient ids are named in an export's audit record. */
export const MAX_AUDITED_PATIENTS = 1000;

/** What an export was asked for, checked (parameters only). */
export interface ExportRequest {
  level: ExportLevel;
  /** Group-level: the Group's id. */
  groupId?: string;
  /** `_type`, in the order given; undefined = every type the caller may read. */
  types?: string[];
  /** `_since`: only resources last updated after it. */
  since?: Date;
  /** `_typeFilter`: per type, the searches whose union is exported. */
  typeFilters: Map<string, SearchRequest[]>;
  /** `deidentify=true` (Group level): the cohort's data de-identified (fhir/deidentify.ts). */
  deidentify?: boolean;
}

/** An export ready to run: the types the caller may read, the cohort and what was refused. */
export interface ExportPlan extends ExportRequest {
  /** The types to export, in order. */
  exportTypes: string[];
  /** Patient- and Group-level: the patients whose compartments are exported (undefined = every patient the caller sees). */
  patients?: string[];
  /** Why some requested types are left out (written to the error file). */
  refused: string[];
}

/** One file of the manifest. See: https://hl7.org/fhir/uv/bulkdata/export.html#response---complete-status */
export interface ManifestFile {
  type: string;
  url: string;
  count: number;
}

/** The result of a finished export: files, and what its audit record names. */
export interface ExportResult {
  output: ManifestFile[];
  error: ManifestFile[];
  /** Distinct patients whose data was exported (the first MAX_AUDITED_PATIENTS). */
  patients: string[];
  /** True when more patients were exported than `patients` lists. */
  morePatients: boolean;
  resourceCount: number;
  types: string[];
  glassBroken: boolean;
}

/** Parses and checks the kick-off parameters; 400 naming the parameter when one is wrong. */
export function parseExportRequest(level: ExportLevel, query: URLSearchParams, options: { groupId?: string; lenient?: boolean } = {}): ExportRequest {
  for (const key of new Set(query.keys())) {
    if (!KNOWN_PARAMS.has(key) && !options.lenient) fail(badRequest(`Parameter "${key}" is not supported by $export (supported: ${[...KNOWN_PARAMS].join(', ')})`, key));
  }
  for (const format of query.getAll('_outputFormat')) {
    if (!NDJSON_FORMATS.includes(format)) fail(badRequest(`_outputFormat "${format}" is not supported; use ${NDJSON_FORMATS.join(', ')}`, '_outputFormat'));
  }
  let types: string[] | undefined;
  const typeValues = query.getAll('_type').flatMap((v) => v.split(',')).map((t) => t.trim()).filter(Boolean);
  if (query.has('_type')) {
    for (const t of typeValues) if (!isResourceType(t)) fail(badRequest(`_type: "${t}" is not a FHIR resource type`, '_type'));
    if (!typeValues.length) fail(badRequest('_type is empty', '_type'));
    types = [...new Set(typeValues)];
  }
  let since: Date | undefined;
  const sinceValues = query.getAll('_since');
  if (sinceValues.length > 1) fail(badRequest('_since may be given once', '_since'));
  if (sinceValues[0] !== undefined) {
    const v = sinceValues[0];
    const t = Date.parse(v);
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/.test(v) || Number.isNaN(t)) fail(badRequest(`_since must be a FHIR instant such as 2024-01-31T12:00:00Z, got "${v}"`, '_since'));
    since = new Date(t);
  }
  const typeFilters = new Map<string, SearchRequest[]>();
  for (const q of query.getAll('_typeFilter').flatMap((v) => v.split(','))) {
    const m = /^([A-Za-z]+)\?(.+)$/.exec(q.trim());
    if (!m) fail(badRequest(`_typeFilter "${q}" must be a search such as Observation?category=laboratory`, '_typeFilter'));
    const [, type, search] = m as unknown as [string, string, string];
    if (!isResourceType(type)) fail(badRequest(`_typeFilter "${q}": "${type}" is not a FHIR resource type`, '_typeFilter'));
    if (types && !types.includes(type)) fail(badRequest(`_typeFilter "${q}": ${type} is not among the _type types`, '_typeFilter'));
    for (const key of new URLSearchParams(search).keys()) {
      if (TYPE_FILTER_CONTROLS.test(key)) fail(badRequest(`_typeFilter "${q}": ${key} cannot be used in an export filter`, '_typeFilter'));
    }
    const request = asTypeFilter(q, () => parseFhirSearch(type, search));
    typeFilters.set(type, [...(typeFilters.get(type) ?? []), request]);
  }
  const deid = query.get('deidentify');
  if (deid !== null && deid !== 'true' && deid !== 'false') fail(badRequest(`deidentify must be true or false, got "${deid}"`, 'deidentify'));
  if (deid === 'true' && level !== EXPORT_LEVEL.group) fail(badRequest('deidentify=true exports a cohort: use Group/{id}/$export (de-identification is per patient of the Group)', 'deidentify'));
  return { level, ...(options.groupId !== undefined ? { groupId: options.groupId } : {}), ...(types ? { types } : {}), ...(since ? { since } : {}), typeFilters, ...(deid === 'true' ? { deidentify: true } : {}) };
}

/**
 * The patients of a Group-level export: the Group's active `member.entity` Patient references.
 * The one place a Group becomes a cohort (criteria-defined Groups can be added here).
 */
export async function groupMemberIds(repo: Repository, ctx: RequestContext, groupId: string): Promise<string[]> {
  const group = (await repo.read(ctx, 'Group', groupId)) as Group;
  const ids = new Set<string>();
  for (const m of group.member ?? []) {
    if (m.inactive) continue;
    const ref = /^Patient\/([A-Za-z0-9\-.]{1,64})$/.exec(m.entity.reference ?? '');
    if (ref?.[1]) ids.add(ref[1]);
  }
  return [...ids];
}

/**
 * Checks an export against the caller's access before it is accepted: the Group must be readable,
 * at least one type must be, and every `_typeFilter` must be a valid search (400 naming
 * `_typeFilter` otherwise). Types the caller may not read are left out and named in the error file.
 */
export async function planExport(repo: Repository, ctx: RequestContext, request: ExportRequest): Promise<ExportPlan> {
  // A de-identified cohort export reads the members' records as IDR (the caller may read the Group,
  // not the records): what leaves is de-identified. The PIE principle: data apart from identity.
  if (request.deidentify) {
    const patients = await groupMemberIds(repo, ctx, request.groupId ?? '');
    const deidCtx = systemContext('deidentified-export', ctx.requestId);
    return { ...(await planExport(repo, deidCtx, { ...request, deidentify: false })), deidentify: true, patients };
  }
  const patientLevel = request.level !== EXPORT_LEVEL.system;
  const candidates = request.types ?? allResourceTypes().filter((t) => t !== 'AuditEvent' && (!patientLevel || inPatientCompartment(t)));
  const readable = (t: string): boolean => permits(ctx.access, t, 's') && permits(ctx.access, t, 'r');
  const exportTypes = candidates.filter((t) => readable(t) && (!patientLevel || inPatientCompartment(t)));
  const refused = (request.types ?? []).filter((t) => !readable(t)).map((t) => `Your access does not allow reading ${t}: it is left out of the export`);
  for (const t of request.types ?? []) if (patientLevel && readable(t) && !inPatientCompartment(t)) refused.push(`${t} is not in the patient compartment: a ${request.level}-level export leaves it out`);
  if (!exportTypes.length) fail(withText(forbidden, `Your access does not allow reading any of the types asked for (${(request.types ?? ['every type']).join(', ')})`));
  // The probes validate the filters through the repository (chains too) without noting reads for the audit.
  const probe = quietContext(ctx);
  for (const [type, filters] of request.typeFilters) {
    if (!exportTypes.includes(type)) continue;
    for (const f of filters) await asTypeFilter(`${type}?…`, () => repo.search(probe, { ...f, count: 1, total: 'none' }));
  }
  const patients = request.level === EXPORT_LEVEL.group ? await groupMemberIds(repo, ctx, request.groupId ?? '') : undefined;
  return { ...request, exportTypes, ...(patients ? { patients } : {}), refused };
}

/** Runs a planned export into the job's directory. */
export async function runExport(
  deps: { repo: Repository; files: ExportFiles; jobId: string; fileUrl: (name: string) => string; signal: AbortSignal; progress: (done: number, total: number) => void; transactionTime: Date; /** Resources per search page (default MAX_COUNT). */ pageSize?: number; /** The key of the keyed pseudonyms (deidentify=true). */ pseudonymKey?: Buffer },
  ctx: RequestContext,
  plan: ExportPlan,
): Promise<ExportResult> {
  const writer = new NdjsonWriter(deps.files, deps.jobId);
  const summary = new ExportSummary();
  const pageSize = Math.min(Math.max(deps.pageSize ?? MAX_COUNT, 1), MAX_COUNT);
  const window: Paging = { until: deps.transactionTime, pageSize, ...(plan.since ? { since: plan.since } : {}) };
  try {
    if (plan.level === EXPORT_LEVEL.system) {
      let done = 0;
      for (const type of plan.exportTypes) {
        await exportType(deps.repo, jobContext(ctx), type, plan, window, deps.signal, writer, summary);
        deps.progress(++done, plan.exportTypes.length);
      }
    } else {
      const deid = plan.deidentify ? new Deidentifier(pseudonymKeyOf(deps)) : undefined;
      const reader = deid ? systemContext('deidentified-export', ctx.requestId) : ctx;
      const types = await nonEmptyTypes(deps.repo, reader, plan);
      const perPatient = async (patient: string): Promise<void> => {
        const narrowed = compartmentContext(reader, patient);
        let transform: ((r: Resource) => Resource) | undefined;
        if (deid) {
          const facts = patientFacts((await deps.repo.read(narrowed, 'Patient', patient)) as Patient);
          transform = (r) => deid.deidentify(r, facts);
          // The audit names the patients whose data went out, de-identified.
          summary.patients.add(patient);
        }
        for (const type of types) await exportType(deps.repo, narrowed, type, plan, window, deps.signal, writer, summary, transform);
      };
      if (plan.patients) {
        let done = 0;
        for (const p of plan.patients) {
          await perPatient(p);
          deps.progress(++done, plan.patients.length);
        }
      } else {
        // Every patient the caller sees, listed like any other type; small batches, so the listing's
        // cursor is read again well within the server's idle-cursor timeout.
        let done = 0;
        await forEachPage(deps.repo, jobContext(ctx), typeSearch('Patient'), { until: deps.transactionTime, pageSize: Math.min(pageSize, PATIENT_BATCH) }, deps.signal, async (page) => {
          for (const p of page) {
            if (p.id) await perPatient(p.id);
            deps.progress(++done, done + 1);
          }
        });
      }
    }
    if (plan.refused.length) {
      const outcome = { resourceType: 'OperationOutcome', issue: plan.refused.map((text) => ({ severity: 'warning', code: 'forbidden', details: { text } })) };
      await writer.append('OperationOutcome', `${JSON.stringify(outcome)}\n`, 1, true);
    }
  } finally {
    await writer.closeAll();
  }
  return {
    output: writer.files(false).map((f) => ({ ...f, url: deps.fileUrl(`${f.type}.ndjson`) })),
    error: writer.files(true).map((f) => ({ ...f, url: deps.fileUrl(`${f.type}.ndjson`) })),
    patients: [...summary.patients],
    morePatients: summary.morePatients,
    resourceCount: summary.resources,
    types: [...summary.types],
    glassBroken: summary.glassBroken,
  };
}

/** Exports one type (the union of its `_typeFilter` searches, each resource once) under `ctx`. */
async function exportType(repo: Repository, ctx: RequestContext, type: string, plan: ExportPlan, window: Paging, signal: AbortSignal, writer: NdjsonWriter, summary: ExportSummary, transform?: (r: Resource) => Resource): Promise<void> {
  const filters = plan.typeFilters.get(type) ?? [typeSearch(type)];
  for (const [i, request] of filters.entries()) {
    await forEachPage(repo, ctx, request, window, signal, async (page, seen) => {
      let keep = page;
      // A resource matching an earlier filter of the same type was written already.
      for (const earlier of filters.slice(0, i)) keep = await notMatching(repo, ctx, earlier, keep);
      if (!keep.length) return;
      summary.add(seen, keep);
      await writer.append(type, keep.map((r) => `${JSON.stringify(transform ? transform(r) : r)}\n`).join(''), keep.length);
    });
  }
}

/** The resources of `page` that `earlier` does not match (one search by _id). */
async function notMatching(repo: Repository, ctx: RequestContext, earlier: SearchRequest, page: Resource[]): Promise<Resource[]> {
  if (!page.length) return page;
  const ids = page.map((r) => r.id ?? '');
  const idFilter: Filter = { code: '_id', operator: 'eq' as Filter['operator'], value: ids.join(',') };
  const found = await repo.search(quietContext(ctx), { ...earlier, filters: [...(earlier.filters ?? []), idFilter], count: ids.length, total: 'none' });
  const matched = new Set(found.resources.map((r) => r.id));
  return page.filter((r) => !matched.has(r.id));
}

/**
 * Reads every match of a search batch by batch from one repository cursor (an index range on
 * MongoDB, one pass on the embedded store), each batch checked against the caller's access.
 * Resources updated after the export's transaction time are left for the next export (`_since`).
 */
async function forEachPage(repo: Repository, ctx: RequestContext, request: SearchRequest, window: Paging, signal: AbortSignal, onPage: (page: Resource[], seen: AccessLog) => Promise<void>): Promise<void> {
  const filters: Filter[] = [...(request.filters ?? []), lastUpdated('le', window.until)];
  if (window.since) filters.push(lastUpdated('gt', window.since));
  const batches = repo.searchStream(ctx, { ...request, filters }, window.pageSize);
  try {
    for (;;) {
      signal.throwIfAborted();
      // The repository notes what each batch shows in the context's access log.
      const seen = new AccessLog();
      ctx.seen = seen;
      const next = await batches.next();
      if (next.done) return;
      await onPage(next.value.resources, seen);
    }
  } finally {
    await batches.return(undefined);
  }
}

/** The time window of an export's searches and their page size. */
interface Paging {
  since?: Date;
  until: Date;
  pageSize: number;
}

function lastUpdated(prefix: 'le' | 'gt', at: Date): Filter {
  return { code: '_lastUpdated', operator: prefix as Filter['operator'], value: at.toISOString() };
}

/** Patient-level: the compartment types that hold anything the caller may see (one probe each). */
async function nonEmptyTypes(repo: Repository, ctx: RequestContext, plan: ExportPlan): Promise<string[]> {
  const probe = quietContext(ctx);
  const out: string[] = [];
  for (const type of plan.exportTypes) {
    const r = await repo.search(probe, { ...typeSearch(type), count: 1, total: 'none' });
    if (r.resources.length || r.withheld || r.hasMore) out.push(type);
  }
  return out;
}

/** A search for every resource of a type (the type was checked to be a resource type). */
function typeSearch(type: string): SearchRequest {
  return { resourceType: type as SearchRequest['resourceType'] };
}

function inPatientCompartment(type: string): boolean {
  return type === 'Patient' || patientCompartmentParamsFor(type).length > 0;
}

/** A copy of the caller's context for the job (its own audit notes; never wider access). */
function jobContext(ctx: RequestContext): RequestContext {
  return { actor: ctx.actor, purpose: ctx.purpose, requestId: ctx.requestId, access: ctx.access };
}

/** The caller's access without audit notes (validation probes, which return nothing to the caller). */
function quietContext(ctx: RequestContext): RequestContext {
  return jobContext(ctx);
}

/**
 * The caller's access narrowed to one patient's compartment: every grant becomes a patient-level
 * grant in the context of `patient`, so the repository limits each search to that compartment.
 * It never widens: patient-level grants bound to another patient are dropped.
 */
export function compartmentContext(ctx: RequestContext, patient: string): RequestContext {
  const a: Access = ctx.access;
  const all: ScopeGrant[] = a.unrestricted ? [{ level: 'system', type: '*', permissions: new Set(['r', 's']) }] : [...a.scopes];
  const scopes = all.filter((s) => s.level !== 'patient' || a.patient === patient).map((s): ScopeGrant => ({ ...s, level: 'patient' }));
  return { ...jobContext(ctx), access: { ...a, unrestricted: false, scopes, patient } };
}

/** Runs `fn`; a 400 it throws becomes a 400 naming `_typeFilter`. */
function asTypeFilter<T>(q: string, fn: () => T): T {
  const rethrow = (err: unknown): never => {
    if (err instanceof OperationOutcomeError && getStatus(err.outcome) === 400) {
      const text = err.outcome.issue?.[0]?.details?.text ?? 'invalid search';
      fail(badRequest(`_typeFilter "${q}": ${text}`, '_typeFilter'));
    }
    throw err;
  };
  try {
    const r = fn();
    return r instanceof Promise ? (r.catch(rethrow) as T) : r;
  } catch (err) {
    return rethrow(err);
  }
}

/** Who and what the export read, for its one audit record. */
class ExportSummary {
  readonly patients = new Set<string>();
  morePatients = false;
  readonly types = new Set<string>();
  resources = 0;
  glassBroken = false;

  add(seen: AccessLog, written: Resource[]): void {
    for (const p of seen.patients) {
      if (this.patients.has(p)) continue;
      if (this.patients.size >= MAX_AUDITED_PATIENTS) this.morePatients = true;
      else this.patients.add(p);
    }
    for (const r of written) this.types.add(r.resourceType);
    this.resources += written.length;
    if (seen.glassBroken) this.glassBroken = true;
  }
}

/** One NDJSON file per type, opened on its first line and appended to page by page. */
class NdjsonWriter {
  private readonly open = new Map<string, { fh: FileHandle; count: number; error: boolean }>();
  private readonly files_: ExportFiles;
  private readonly jobId: string;

  constructor(files: ExportFiles, jobId: string) {
    this.files_ = files;
    this.jobId = jobId;
  }

  async append(type: string, text: string, lines: number, error = false): Promise<void> {
    let f = this.open.get(type);
    if (!f) {
      f = { fh: await this.files_.openFile(this.jobId, `${type}.ndjson`), count: 0, error };
      this.open.set(type, f);
    }
    await f.fh.write(text);
    f.count += lines;
  }

  files(error: boolean): { type: string; count: number }[] {
    return [...this.open.entries()].filter(([, f]) => f.error === error && f.count > 0).map(([type, f]) => ({ type, count: f.count }));
  }

  async closeAll(): Promise<void> {
    for (const f of this.open.values()) await f.fh.close().catch(() => undefined);
  }
}

function pseudonymKeyOf(deps: { pseudonymKey?: Buffer }): Buffer {
  if (!deps.pseudonymKey) throw new Error('a de-identified export needs the pseudonym key');
  return deps.pseudonymKey;
}
