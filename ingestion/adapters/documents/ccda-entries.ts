import type { Bundle, Identifier, Patient, Reference, Resource } from '@medplum/fhirtypes';
import { identifierValue, type EntryCollector } from '../hl7v2/bundle.ts';
import { DOC_SYSTEMS } from './constants.ts';

/** Clinical resources taken over from @medplum/ccda's conversion; the rest (Practitioner, Composition...) is not. */
export const KEPT_TYPES: ReadonlySet<string> = new Set([
  'AllergyIntolerance', 'Condition', 'Observation', 'MedicationRequest', 'MedicationStatement', 'Procedure', 'Immunization',
]);
/** Converted types not kept on purpose (identity, authorship, the Composition itself): no warning for these. */
const SILENT = new Set(['Composition', 'Patient', 'Practitioner', 'PractitionerRole', 'Organization', 'RelatedPerson']);

/**
 * Rewrites references inside a converted resource: the patient -> our Patient entry, references to
 * other kept resources -> their urn:uuid, contained (`#id`) kept, anything else -> display only
 * (dropped entirely when it has no display).
 */
function rewrite(value: unknown, subject: Reference<Patient>, fullUrls: Map<string, string>): unknown {
  if (Array.isArray(value)) return value.map((v) => rewrite(v, subject, fullUrls)).filter((v) => v !== undefined);
  if (!value || typeof value !== 'object') return value;
  const obj = value as Record<string, unknown>;
  if (typeof obj.reference === 'string') {
    const ref = obj.reference;
    if (ref.startsWith('#')) return obj;
    if (ref.startsWith('Patient/')) return { ...subject };
    const target = fullUrls.get(ref);
    if (target) return { reference: target, ...(typeof obj.display === 'string' ? { display: obj.display } : {}) };
    return typeof obj.display === 'string' ? { display: obj.display } : undefined;
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    const r = rewrite(v, subject, fullUrls);
    if (r !== undefined && !(Array.isArray(r) && r.length === 0)) out[k] = r;
  }
  return out;
}

/**
 * Adds the clinical resources of a converted C-CDA Bundle as conditional updates. Identity, always
 * under the patient scope (documents of other patients reuse entry ids): the resource's own
 * identifier; else its converted id when that id comes from the document (a C-CDA entry id, stable
 * across versions); else `<document sha256 prefix>/<type>/<n>`. The entry's own identifiers are
 * kept after the key. Returns what was kept and a list of what was left out.
 */
export function addConvertedEntries(converted: Bundle, xml: string, docHash: string, scope: string, subject: Reference<Patient>, entries: EntryCollector): { kept: number; skipped: string[] } {
  const resources = (converted.entry ?? []).map((e) => e.resource).filter((r): r is Resource => !!r);
  const kept = resources.filter((r) => KEPT_TYPES.has(r.resourceType));
  const skipped = new Map<string, number>();
  for (const r of resources) if (!KEPT_TYPES.has(r.resourceType) && !SILENT.has(r.resourceType)) skipped.set(r.resourceType, (skipped.get(r.resourceType) ?? 0) + 1);

  const keys = new Map<Resource, Identifier>();
  const counts = new Map<string, number>();
  const fullUrls = new Map<string, string>();
  for (const r of kept) {
    const own = (r as { identifier?: Identifier[] }).identifier?.find((i) => i.system && i.value);
    const n = (counts.get(r.resourceType) ?? 0) + 1;
    counts.set(r.resourceType, n);
    const parts = own
      ? [r.resourceType, own.system as string, own.value as string]
      : r.id && xml.includes(r.id) ? [r.resourceType, r.id] : [docHash.slice(0, 16), r.resourceType, String(n)];
    const key: Identifier = { system: DOC_SYSTEMS.ccdaEntry, value: identifierValue(scope, ...parts) };
    keys.set(r, key);
  }
  // Two passes: first reserve every fullUrl, so references between kept resources resolve.
  const placeholders = new Map<Resource, Resource>();
  for (const r of kept) {
    const shell = { resourceType: r.resourceType } as Resource;
    placeholders.set(r, shell);
    const ref = entries.add(shell, keys.get(r) as Identifier);
    if (r.id) fullUrls.set(`${r.resourceType}/${r.id}`, ref.reference as string);
  }
  for (const r of kept) {
    const { id: _id, meta: _meta, ...rest } = r as Resource & { meta?: unknown };
    const body = rewrite(rest, subject, fullUrls) as Record<string, unknown>;
    const key = keys.get(r) as Identifier;
    const ids = ((body.identifier as Identifier[] | undefined) ?? []).filter((i) => !(i.system === key.system && i.value === key.value));
    Object.assign(placeholders.get(r) as Resource, withR4VerificationSystem(body), { identifier: [key, ...ids] });
  }
  return { kept: kept.length, skipped: [...skipped].map(([t, n]) => `${n} ${t}`) };
}

/** The code system R4 binds Condition.verificationStatus to (required binding). */
const CONDITION_VER_STATUS = 'http://terminology.hl7.org/CodeSystem/condition-ver-status';
/** What @medplum/ccda writes there instead: same codes, a system R4 does not have. */
const CONVERTER_CONDITION_VERIFICATION = 'http://terminology.hl7.org/CodeSystem/condition-verification';

/**
 * Corrects the converter's Condition.verificationStatus system to R4's (the codes are the same),
 * so a problem from a C-CDA document is kept instead of being refused by the required binding.
 */
function withR4VerificationSystem(body: Record<string, unknown>): Record<string, unknown> {
  const vs = body.verificationStatus as { coding?: { system?: string }[] } | undefined;
  if (!vs?.coding?.some((c) => c.system === CONVERTER_CONDITION_VERIFICATION)) return body;
  const coding = vs.coding.map((c) => (c.system === CONVERTER_CONDITION_VERIFICATION ? { ...c, system: CONDITION_VER_STATUS } : c));
  return { ...body, verificationStatus: { ...vs, coding } };
}
