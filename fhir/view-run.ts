import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { badRequest, notFound } from '@medplum/core';
import type { Parameters, Patient, Resource } from '@medplum/fhirtypes';
import { fail, withText } from '../schema/outcomes.ts';
import { patientCompartmentParamsFor } from '../schema/fhir-definitions.ts';
import type { Repository } from '../store/repository.ts';
import { systemContext, type RequestContext } from '../store/request-context.ts';
import { groupMemberIds } from './bulk-export.ts';
import { Deidentifier, patientFacts } from './deidentify.ts';
import { MAX_COUNT, parseFhirSearch } from '../store/search-to-mongo.ts';
import { compileView, viewRows, type CompiledView, type Row, type ViewDefinition } from './view-definition.ts';
import { viewFormat, type ViewFormat } from './view-output.ts';

/**
 * ViewDefinition/$run: which view (inline, or one of IDR's ready-made views in fhir/views/), over
 * which resources (the caller's, read through the repository one page at a time, so access
 * control and the access audit apply), as rows produced while the pages arrive.
 * See: https://sql-on-fhir.org/ig/OperationDefinition-ViewDefinitionRun.html
 */

const VIEWS_DIR = path.join(import.meta.dirname, 'views');
let readyMade: Map<string, ViewDefinition> | undefined;

/** IDR's ready-made ViewDefinitions (fhir/views/*.json), by name (the file name without .json). */
export function readyMadeViews(): Map<string, ViewDefinition> {
  if (!readyMade) {
    readyMade = new Map();
    for (const file of readdirSync(VIEWS_DIR).filter((f) => f.endsWith('.json')).sort()) {
      const view = JSON.parse(readFileSync(path.join(VIEWS_DIR, file), 'utf8')) as ViewDefinition;
      compileView(view); // a broken ready-made view stops start-up, not a request
      readyMade.set(file.slice(0, -'.json'.length), view);
    }
  }
  return readyMade;
}

/** A ready-made view by name ("ViewDefinition/lab-results", or the name); 404 when IDR has none of that name. */
export function readyMadeView(ref: string): ViewDefinition {
  const name = ref.replace(/^ViewDefinition\//, '');
  const view = readyMadeViews().get(name);
  if (!view) fail(withText(notFound, `No ready-made ViewDefinition "${name}"; IDR has ${[...readyMadeViews().keys()].join(', ')}`));
  return view;
}

/** What a $run asks for. */
export interface ViewRunRequest {
  view: CompiledView;
  format: ViewFormat;
  /** Only this patient's resources (an id). */
  patient?: string;
  /** At most this many rows. */
  limit?: number;
  /** Only the resources of this Group's members (a cohort; an id). */
  group?: string;
  /** With `group`: the members' resources de-identified before the view sees them (fhir/deidentify.ts). */
  deidentify?: boolean;
}

/** The run a Parameters body (POST) or query (GET) asks for: viewResource | viewReference (or the view named in the path), _format, patient, _limit. */
export function viewRunRequest(input: { body?: unknown; query: URLSearchParams; name?: string; accept?: string }): ViewRunRequest {
  const body = input.body as Parameters | undefined;
  if (body !== undefined && (typeof body !== 'object' || body === null || body.resourceType !== 'Parameters')) fail(badRequest('The body of $run must be a Parameters resource', 'Parameters'));
  const param = (name: string) => body?.parameter?.find((p) => p.name === name);
  const text = (name: string): string | undefined => {
    const p = param(name);
    return p?.valueCode ?? p?.valueString ?? p?.valueCanonical ?? p?.valueReference?.reference ?? p?.valueId ?? input.query.get(name) ?? undefined;
  };
  const inline = param('viewResource')?.resource as unknown;
  const reference = input.name ?? text('viewReference');
  if (inline !== undefined && reference !== undefined) fail(badRequest('Give either viewResource or viewReference, not both', 'viewResource'));
  if (inline === undefined && reference === undefined) fail(badRequest('$run needs a view: viewResource (the ViewDefinition) or viewReference (a ready-made one)', 'viewResource'));
  const view = compileView(inline ?? readyMadeView(reference as string));

  const formatText = text('_format') ?? input.accept?.split(',').map((t) => viewFormat(t)).find((f) => f !== undefined) ?? 'json';
  const format = viewFormat(formatText);
  if (!format) fail(badRequest(`_format must be csv, ndjson, json or parquet, got "${formatText}"`, '_format'));

  const patientRef = text('patient');
  const patient = patientRef?.replace(/^Patient\//, '');
  if (patient !== undefined && !/^[A-Za-z0-9\-.]{1,64}$/.test(patient)) fail(badRequest(`patient must be "Patient/{id}" or an id, got "${patientRef}"`, 'patient'));
  const limitText = param('_limit')?.valueInteger ?? input.query.get('_limit') ?? undefined;
  const limit = limitText === undefined ? undefined : Number(limitText);
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) fail(badRequest('_limit must be a non-negative integer', '_limit'));
  const groupRef = text('group');
  const group = groupRef?.replace(/^Group\//, '');
  if (group !== undefined && !/^[A-Za-z0-9\-.]{1,64}$/.test(group)) fail(badRequest(`group must be "Group/{id}" or an id, got "${groupRef}"`, 'group'));
  if (group !== undefined && patient !== undefined) fail(badRequest('Give either patient or group, not both', 'group'));
  const deidText = param('deidentify')?.valueBoolean?.toString() ?? input.query.get('deidentify') ?? undefined;
  if (deidText !== undefined && deidText !== 'true' && deidText !== 'false') fail(badRequest(`deidentify must be true or false, got "${deidText}"`, 'deidentify'));
  const deidentify = deidText === 'true';
  if (deidentify && group === undefined) fail(badRequest('deidentify=true runs a view over a cohort: give group (Group/{id})', 'deidentify'));
  return { view, format, ...(patient !== undefined ? { patient } : {}), ...(limit !== undefined ? { limit } : {}), ...(group !== undefined ? { group } : {}), ...(deidentify ? { deidentify } : {}) };
}

/** The search parameter that narrows a type to one patient's compartment (`_id` for Patient). */
function patientParam(type: string): string {
  if (type === 'Patient') return '_id';
  const params = patientCompartmentParamsFor(type);
  const param = ['patient', 'subject'].find((p) => params.includes(p)) ?? params[0];
  if (!param) fail(badRequest(`patient cannot narrow a view of ${type}: it is not in the Patient compartment`, 'patient'));
  return param;
}

/**
 * The rows of a view over the caller's resources of its type: the repository is searched page by
 * page (up to MAX_COUNT resources each), and each page's rows are yielded before the next is read.
 * With `group`, over each member's compartment in turn; with `deidentify` too, the members'
 * records are read as IDR (the caller may read the Group, not the records: the PIE principle) and
 * each resource is de-identified before the view sees it.
 */
export async function* viewResultRows(repo: Repository, ctx: RequestContext, run: Pick<ViewRunRequest, 'view' | 'patient' | 'limit' | 'group' | 'deidentify'>, options: { pageSize?: number; pseudonymKey?: () => Promise<Buffer> } = {}): AsyncGenerator<Row> {
  const pageSize = Math.min(options.pageSize ?? MAX_COUNT, MAX_COUNT);
  if (run.limit === 0) return;
  if (run.group === undefined) {
    yield* rowsOf(repo, ctx, run.view, run.patient, run.limit, pageSize);
    return;
  }
  const members = await groupMemberIds(repo, ctx, run.group);
  if (run.deidentify && !options.pseudonymKey) throw new Error('a de-identified view run needs the pseudonym key');
  const deid = run.deidentify && options.pseudonymKey ? new Deidentifier(await options.pseudonymKey()) : undefined;
  const reader = deid ? systemContext('deidentified-view', ctx.requestId) : ctx;
  let produced = 0;
  for (const member of members) {
    let transform: ((r: Resource) => Resource) | undefined;
    if (deid) {
      const facts = patientFacts((await repo.read(reader, 'Patient', member)) as Patient);
      transform = (r) => deid.deidentify(r, facts);
      // The audit names the patients whose data went into the rows.
      ctx.seen?.add('Patient', member, [member]);
    }
    for await (const row of rowsOf(repo, reader, run.view, member, run.limit === undefined ? undefined : run.limit - produced, pageSize, transform)) {
      yield row;
      if (run.limit !== undefined && ++produced >= run.limit) return;
    }
  }
}

async function* rowsOf(repo: Repository, ctx: RequestContext, view: CompiledView, patient: string | undefined, limit: number | undefined, pageSize: number, transform?: (r: Resource) => Resource): AsyncGenerator<Row> {
  const narrow = patient === undefined ? '' : `${patientParam(view.resource)}=${encodeURIComponent(view.resource === 'Patient' ? patient : `Patient/${patient}`)}`;
  let produced = 0;
  // One cursor over every match, batch by batch (each checked against the caller's access): each
  // resource is read once, and none is skipped or repeated when others change during the run.
  const batches = repo.searchStream(ctx, parseFhirSearch(view.resource, narrow), pageSize);
  try {
    for await (const batch of batches) {
      for (const resource of batch.resources) {
        for (const row of viewRows(view, transform ? transform(resource) : resource)) {
          yield row;
          if (limit !== undefined && ++produced >= limit) return;
        }
      }
    }
  } finally {
    await batches.return(undefined);
  }
}
