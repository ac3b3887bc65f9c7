import type { CodeableConcept, Coding } from '@medplum/fhirtypes';
import { IDR_SYSTEMS, SYSTEMS } from './constants.ts';
import type { Segment } from './segment.ts';

/** HL7 table 0396 coding-system names (and common variants) with a FHIR URI. */
const KNOWN: Readonly<Record<string, string>> = {
  LN: SYSTEMS.loinc, LOINC: SYSTEMS.loinc,
  SCT: SYSTEMS.snomed, SNM: SYSTEMS.snomed, SNM3: SYSTEMS.snomed, SCT2: SYSTEMS.snomed, SNOMED: SYSTEMS.snomed, SNOMEDCT: SYSTEMS.snomed,
  I10: SYSTEMS.icd10, ICD10: SYSTEMS.icd10, 'ICD-10': SYSTEMS.icd10, I10C: SYSTEMS.icd10cm,
  I9: SYSTEMS.icd9cm, I9C: SYSTEMS.icd9cm, I9CM: SYSTEMS.icd9cm, I9M: SYSTEMS.icd9cm,
  ICDO: SYSTEMS.icdo3, ICDO3: SYSTEMS.icdo3, 'ICD-O-3': SYSTEMS.icdo3, 'ICDO-3': SYSTEMS.icdo3, ICDO3M: SYSTEMS.icdo3, ICDO3T: SYSTEMS.icdo3,
  UCUM: SYSTEMS.ucum,
  DCM: 'http://dicom.nema.org/resources/ontology/DCM',
  C4: 'http://www.ama-assn.org/go/cpt', CPT: 'http://www.ama-assn.org/go/cpt',
  NDC: 'http://hl7.org/fhir/sid/ndc', CVX: 'http://hl7.org/fhir/sid/cvx',
  RXNORM: 'http://www.nlm.nih.gov/research/umls/rxnorm', ATC: 'http://www.whocc.no/atc',
  CDCREC: 'urn:oid:2.16.840.1.113883.6.238', HGNC: 'http://www.genenames.org', HGVS: 'http://varnomen.hgvs.org',
};

const systemCache = new Map<string, string | undefined>();

/**
 * FHIR system URI for an HL7 v2 coding-system name: known names map to their canonical URI,
 * `HL7nnnn` to the v2 table, anything else (local `L`, `99zzz`, vendor names) to
 * `urn:idr:hl7v2:code-system:<name>`. An empty name gives no system.
 */
export function codeSystemUri(name: string): string | undefined {
  if (!name) return undefined;
  if (systemCache.has(name)) return systemCache.get(name);
  const upper = name.toUpperCase();
  let uri = KNOWN[upper];
  if (!uri) {
    const table = /^HL7-?(\d{4})$/.exec(upper);
    uri = table ? SYSTEMS.v2Table(table[1] as string) : IDR_SYSTEMS.localCodeSystemPrefix + encodeURIComponent(name);
  }
  systemCache.set(name, uri);
  return uri;
}

/** One Coding from code, display, coding-system name and version; undefined without a code. */
export function coding(code: string, display: string, systemName: string, version = ''): Coding | undefined {
  if (!code) return undefined;
  const c: Coding = {};
  const system = codeSystemUri(systemName);
  if (system) c.system = system;
  if (version) c.version = version;
  c.code = code;
  if (display) c.display = display;
  return c;
}

/**
 * CE / CWE / CNE (repetition `rep` of field n) -> CodeableConcept, keeping the primary and the
 * alternate coding and the text (original text CWE-9, else the primary or alternate text).
 */
export function codeableConcept(seg: Segment, n: number, rep = 0): CodeableConcept | undefined {
  const codings: Coding[] = [];
  const primary = coding(seg.get(n, 1, rep), seg.get(n, 2, rep), seg.get(n, 3, rep), seg.get(n, 7, rep));
  const alternate = coding(seg.get(n, 4, rep), seg.get(n, 5, rep), seg.get(n, 6, rep), seg.get(n, 8, rep));
  if (primary) codings.push(primary);
  if (alternate) codings.push(alternate);
  const text = seg.get(n, 9, rep) || seg.get(n, 2, rep) || seg.get(n, 5, rep);
  if (codings.length === 0 && !text) return undefined;
  const cc: CodeableConcept = {};
  if (codings.length) cc.coding = codings;
  if (text) cc.text = text;
  return cc;
}

/** A CodeableConcept with one coding from a fixed system (for HL7 table values). */
export function tableConcept(system: string, code: string, display?: string): CodeableConcept {
  return { coding: [display ? { system, code, display } : { system, code }] };
}

/** The first coding of a concept whose system is one of `systems`. */
export function findCoding(cc: CodeableConcept | undefined, systems: readonly string[]): Coding | undefined {
  return cc?.coding?.find((c) => c.system !== undefined && systems.includes(c.system));
}
