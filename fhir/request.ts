import type { OperationOutcome, Resource } from '@medplum/fhirtypes';
import type { Repository } from '../store/repository.ts';
import type { WriteScope } from '../store/version-store.ts';
import type { TimelineStore } from '../timeline/projection.ts';
import type { RequestContext } from '../store/request-context.ts';

/**
 * The shapes the FHIR router works with: a request as method + path + query + body (from an HTTP
 * call or a Bundle entry alike) and a result as an outcome plus an optional resource or Bundle.
 * See: https://hl7.org/fhir/R4/http.html
 */

/** One FHIR interaction, as REST sends it or as a batch/transaction entry describes it. */
export interface FhirRequest {
  /** GET, HEAD, POST, PUT, DELETE (anything else is answered 404). */
  method: string;
  /** The path below the FHIR base, without leading slash or query: "Patient/1/_history/2". */
  path: string;
  /** The query, order and repeats kept as sent. */
  query: URLSearchParams;
  /** The parsed body: a resource, or form fields of a POST _search. */
  body?: unknown;
  /** The request headers that change what happens (HTTP headers or Bundle.entry.request fields). */
  headers?: { ifMatch?: string; ifNoneExist?: string; prefer?: string };
}

/** What the router answers: an outcome (its id gives the HTTP status), optionally a resource or Bundle. */
export interface FhirResult {
  outcome: OperationOutcome;
  resource?: Resource;
  /** The version written, relative to the base ("Patient/1/_history/2"): the Location of a create, the Content-Location of an update. */
  location?: string;
}

/** What the router needs: the repository, the public base URL, and (when it runs) the timeline. */
export interface FhirDeps {
  repo: Repository;
  /** Absolute base URL for links and fullUrls, e.g. "https://idr.example/fhir"; "" gives relative ones. */
  baseUrl: string;
  timeline?: TimelineStore;
  /** IDR's version, for the CapabilityStatement. */
  version?: string;
  /** Merges one Patient into another (ingestion/patient-merge.ts); `Patient/{id}/$merge` answers only when set. */
  mergePatients?: (ctx: RequestContext, sourceId: string, targetId: string) => Promise<{ source: Resource; target: Resource; moved: string[]; provenance: string }>;
  /** How clients get tokens, for the CapabilityStatement's security section. */
  security?: { tokenEndpoint?: string; authorizeEndpoint?: string; cors: boolean };
}

/** Set by the transaction processor: the write scope (session or journal) and ids chosen before the first write. */
export interface WriteOptions {
  scope?: WriteScope;
  /** The id a create or conditional update must use (resolved before any write so references can be rewritten). */
  id?: string;
}

/** An absolute URL under the base, or the path itself when the base is empty. */
export function fhirUrl(deps: Pick<FhirDeps, 'baseUrl'>, path: string): string {
  return deps.baseUrl ? `${deps.baseUrl}/${path}` : path;
}
