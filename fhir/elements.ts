import type { Resource } from '@medplum/fhirtypes';
import { elementSets } from '../schema/fhir-definitions.ts';

const SUBSETTED = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED', display: 'subsetted' };
const ALWAYS = new Set(['resourceType', 'id', 'meta']);

/** The values of _summary that subset a resource (`count` is a search-only mode). */
export type Summary = 'true' | 'text' | 'data' | 'false';

/**
 * Applies _elements and _summary to a resource returned by a read or search, marking the result
 * SUBSETTED as the spec asks. See: https://hl7.org/fhir/R4/search.html#elements
 */
export function subsetResource(resource: Resource, options: { elements?: string[]; summary?: Summary }): Resource {
  const { elements, summary } = options;
  if ((!elements || elements.length === 0) && (!summary || summary === 'false')) return resource;
  const { summary: summarySet, mandatory, choices } = elementSets(resource.resourceType);
  const baseName = (key: string): string => elementName(key, choices);
  let keep: (key: string) => boolean;
  if (elements?.length) {
    const wanted = new Set(elements.map((e) => baseName(e.trim().replace(/^[A-Z][A-Za-z]+\./, ''))));
    keep = (k) => ALWAYS.has(k) || mandatory.has(baseName(k)) || wanted.has(baseName(k));
  } else if (summary === 'true') {
    keep = (k) => ALWAYS.has(k) || summarySet.has(baseName(k));
  } else if (summary === 'text') {
    keep = (k) => ALWAYS.has(k) || k === 'text' || mandatory.has(baseName(k));
  } else {
    keep = (k) => k !== 'text';
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(resource)) if (keep(k)) out[k] = v;
  const meta = (out.meta ?? {}) as Resource['meta'] & object;
  out.meta = { ...meta, tag: [...(meta.tag ?? []), SUBSETTED] };
  return out as unknown as Resource;
}

/**
 * "valueQuantity" -> "value", "_birthDate" -> "birthDate": the element a JSON key belongs to.
 * Only choice elements (`choices`, e.g. "value") lose their type suffix: "birthDate" stays.
 */
function elementName(key: string, choices: Set<string>): string {
  const k = key.startsWith('_') ? key.slice(1) : key;
  const m = /^([a-z][A-Za-z]*?)(Quantity|CodeableConcept|String|Boolean|Integer|Range|Ratio|SampledData|Time|DateTime|Period|Attachment|Reference|Date|Instant|Uri|Url|Canonical|Code|Coding|Decimal|Age|Duration|Timing|Identifier|Annotation|Markdown|Base64Binary|Oid|Id|PositiveInt|UnsignedInt|Uuid|Money|Address|ContactPoint|HumanName|Signature|Count|Distance|Expression|Meta|Dosage|ContactDetail|Contributor|DataRequirement|ParameterDefinition|RelatedArtifact|TriggerDefinition|UsageContext)$/.exec(k);
  return m && m[1] && m[1] !== k && choices.has(m[1]) ? m[1] : k;
}
