import type { CapabilityStatement, CapabilityStatementRestResource } from '@medplum/fhirtypes';
import { allResourceTypes, searchParamsFor } from '../../schema/fhir-definitions.ts';

const SUPPORTED_PARAM_TYPES = new Set(['token', 'string', 'date', 'quantity', 'number', 'reference', 'uri']);

/**
 * The CapabilityStatement: lists exactly the interactions, parameters and operations that work.
 * See: https://hl7.org/fhir/R4/capabilitystatement.html
 */
export function capabilityStatement(baseUrl: string, version: string): CapabilityStatement {
  const resource = allResourceTypes().map((type): CapabilityStatementRestResource => ({
    type: type as CapabilityStatementRestResource['type'],
    interaction: ['read', 'vread', 'update', 'delete', 'create', 'search-type', 'history-instance', 'history-type'].map((code) => ({ code: code as 'read' })),
    versioning: 'versioned-update',
    readHistory: true,
    updateCreate: true,
    conditionalCreate: true,
    conditionalUpdate: true,
    conditionalDelete: 'single',
    conditionalRead: 'not-supported',
    searchInclude: referenceParams(type).map((c) => `${type}:${c}`),
    searchParam: [
      { name: '_id', type: 'token' },
      { name: '_lastUpdated', type: 'date' },
      ...Object.entries(searchParamsFor(type))
        .filter(([code, p]) => code !== '_id' && code !== '_lastUpdated' && SUPPORTED_PARAM_TYPES.has(p.type as string))
        .map(([code, p]) => ({ name: code, type: p.type as 'token', ...(p.url ? { definition: p.url } : {}) })),
      ...(type === 'DocumentReference'
        ? [{ name: '_content', type: 'string' as const, documentation: 'Words that start words of the extracted text (text/plain attachments); :contains matches inside words.' }]
        : []),
    ],
    ...(type === 'Patient'
      ? {
          operation: [
            { name: 'everything', definition: 'http://hl7.org/fhir/OperationDefinition/Patient-everything' },
            {
              name: 'timeline',
              definition: 'urn:idr:OperationDefinition/Patient-timeline',
              documentation:
                'GET Patient/{id}/$timeline: the resources behind the patient timeline, newest event first (anchor resource as match, folded results as include). ' +
                'Parameters: lane (lab|imaging|pathology|document|diagnosis|treatment|encounter|other), code, from, to, _text, _count (max 200), cursor (from the next link).',
            },
          ],
        }
      : {}),
  }));
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: new Date().toISOString(),
    kind: 'instance',
    software: { name: 'IDR — Integrated Diagnostics Record', version },
    implementation: { description: 'IDR FHIR R4 server', url: baseUrl },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'application/json'],
    rest: [
      {
        mode: 'server',
        documentation:
          'Search supports the listed parameters with modifiers :missing, :not, :exact, :contains, :text (token), :identifier (reference), :below (uri); ' +
          'date prefixes eq ne gt lt ge le sa eb ap; _sort (multiple keys, descending), _count, _offset, _include, _revinclude (one level), ' +
          '_summary (true, text, data, count), _elements, _total. Chained parameters, _has and composite parameters are not supported.',
        resource,
        interaction: [{ code: 'transaction' }, { code: 'batch' }],
      },
    ],
  };
}

function referenceParams(type: string): string[] {
  return Object.entries(searchParamsFor(type))
    .filter(([, p]) => p.type === 'reference')
    .map(([code]) => code);
}
