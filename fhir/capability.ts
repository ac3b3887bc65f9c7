import type { CapabilityStatement, CapabilityStatementRestResource, CapabilityStatementRestResourceSearchParam } from '@medplum/fhirtypes';
import { allResourceTypes, searchParamsFor } from '../schema/fhir-definitions.ts';
import { operationsFor, OPERATIONS } from './operations.ts';
import type { FhirDeps } from './request.ts';

/** The parameter types store/search-to-mongo.ts translates (not composite, not special). */
const SUPPORTED_PARAM_TYPES = new Set(['token', 'string', 'date', 'quantity', 'number', 'reference', 'uri']);

/**
 * The CapabilityStatement: lists exactly the interactions, parameters and operations that work
 * (operations from the router's own table, parameters the search translator serves).
 * See: https://hl7.org/fhir/R4/capabilitystatement.html
 */
export function capabilityStatement(deps: Pick<FhirDeps, 'baseUrl' | 'version' | 'timeline' | 'security'>): CapabilityStatement {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: new Date().toISOString(),
    kind: 'instance',
    software: { name: 'IDR — Integrated Diagnostics Record', ...(deps.version ? { version: deps.version } : {}) },
    implementation: { description: 'IDR FHIR R4 server', url: deps.baseUrl },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'application/json'],
    rest: [
      {
        mode: 'server',
        ...(deps.security ? { security: securitySection(deps.security) } : {}),
        documentation:
          'Search supports the listed parameters with modifiers :missing, :not, :exact, :contains, :text (token), :identifier (reference), :below (uri); ' +
          'date prefixes eq ne gt lt ge le sa eb ap; _sort (multiple keys, descending), _count, _offset, _include, _revinclude, their :iterate forms (up to 3 rounds, 1,000 included resources), ' +
          '_summary (true, text, data, count), _elements, _total. Chained parameters (subject:Patient.birthdate=…) and _has (one search per link, at most 10,000 matches each); :below on codes that carry their hierarchy (ICD-10, ICD-O-3 prefixes). Composite parameters are not supported. ' +
          'Batch and transaction entries take every interaction and operation the REST API takes.',
        resource: allResourceTypes().map((type) => resourceCapability(deps, type)),
        interaction: [{ code: 'transaction' }, { code: 'batch' }],
        operation: OPERATIONS.filter((op) => op.level === 'system').map((op) => ({ name: op.code, definition: op.definition, ...(op.documentation ? { documentation: op.documentation } : {}) })),
      },
    ],
  };
}

/** OAuth 2.0 / SMART: every interaction but this statement needs a bearer token. See: https://hl7.org/fhir/smart-app-launch/conformance.html */
function securitySection(security: NonNullable<FhirDeps['security']>): NonNullable<CapabilityStatement['rest']>[number]['security'] {
  const uris = [
    ...(security.tokenEndpoint ? [{ url: 'token', valueUri: security.tokenEndpoint }] : []),
    ...(security.authorizeEndpoint ? [{ url: 'authorize', valueUri: security.authorizeEndpoint }] : []),
  ];
  return {
    cors: security.cors,
    service: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR', display: 'SMART-on-FHIR' }], text: 'OAuth 2.0 bearer tokens (SMART App Launch v2 scopes); discovery at .well-known/smart-configuration' }],
    description: 'Every interaction except this CapabilityStatement needs an OAuth 2.0 bearer token (JWT). SMART v2 scopes, capped by the IDR role, decide what is visible; every access is recorded as an AuditEvent.',
    ...(uris.length ? { extension: [{ url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris', extension: uris }] } : {}),
  };
}

/** The search parameters IDR serves for a type, as the CapabilityStatement lists them. */
export function servedSearchParams(type: string): CapabilityStatementRestResourceSearchParam[] {
  return [
    { name: '_id', type: 'token' },
    { name: '_lastUpdated', type: 'date' },
    ...Object.entries(searchParamsFor(type))
      .filter(([code, p]) => code !== '_id' && code !== '_lastUpdated' && SUPPORTED_PARAM_TYPES.has(p.type))
      .map(([code, p]) => ({ name: code, type: p.type as CapabilityStatementRestResourceSearchParam['type'], ...(p.url ? { definition: p.url } : {}) })),
    ...(type === 'DocumentReference'
      ? [{ name: '_content', type: 'string' as const, documentation: 'Words that start words of the extracted text (text/plain attachments); :contains matches inside words.' }]
      : []),
  ];
}

function resourceCapability(deps: Pick<FhirDeps, 'timeline' | 'mergePatients'>, type: string): CapabilityStatementRestResource {
  const operations = operationsFor(deps, type);
  return {
    type: type as CapabilityStatementRestResource['type'],
    interaction: ['read', 'vread', 'update', 'delete', 'create', 'search-type', 'history-instance', 'history-type'].map((code) => ({ code: code as 'read' })),
    versioning: 'versioned-update',
    readHistory: true,
    updateCreate: true,
    conditionalCreate: true,
    conditionalUpdate: true,
    conditionalDelete: 'single',
    conditionalRead: 'not-supported',
    // References must resolve in IDR (store/reference-check.ts); contained and identifier-only references are kept.
    referencePolicy: ['literal', 'logical', 'enforced', 'local'],
    searchInclude: referenceParams(type).map((c) => `${type}:${c}`),
    searchParam: servedSearchParams(type),
    ...(type === 'Subscription' ? { documentation: SUBSCRIPTION_DOC } : {}),
    ...(operations.length ? { operation: operations.map((op) => ({ name: op.code, definition: op.definition, ...(op.documentation ? { documentation: op.documentation } : {}) })) } : {}),
  };
}

/** How IDR serves R4 Subscriptions (fhir/subscriptions.ts, fhir/subscription-delivery.ts). See: https://hl7.org/fhir/R4/subscription.html */
const SUBSCRIPTION_DOC =
  'R4 Subscriptions, channel type rest-hook only (websocket, email, sms and message are refused). The server manages status: requested becomes active when the criteria parse and the endpoint is allowed; off stays off; ' +
  'after failed deliveries and their retries the status is error with the reason in error (write it again as requested to resume). channel.endpoint must start with a prefix the server allows (IDR_SUBSCRIPTION_ENDPOINTS; none by default). ' +
  'channel.payload absent: an empty POST; application/fhir+json: the resource version that matched. channel.header lines are sent with each notification; their values are held by the server and shown as *** (write *** to keep one). ' +
  'criteria: a search on one type with the type\'s search parameters, _id and _lastUpdated, plus R5-style membership patient._in=Group/{id} (any reference parameter): the referenced patient is a current member of the Group. ' +
  'Matched against every version written (REST, Bundles, ingestion); each notification is checked against the subscriber\'s access and recorded in the access audit (subtype notify).';

function referenceParams(type: string): string[] {
  return Object.entries(searchParamsFor(type))
    .filter(([, p]) => p.type === 'reference')
    .map(([code]) => code);
}
