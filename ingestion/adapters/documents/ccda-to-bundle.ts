import type { Bundle, Identifier, Patient, Reference } from '@medplum/fhirtypes';
import { convertCcdaToFhir, convertXmlToCcda, type Ccda } from '@medplum/ccda';
import { EntryCollector } from '../hl7v2/bundle.ts';
import { DateConverter } from '../hl7v2/dates.ts';
import { AdapterError, type AdapterContext, type AdapterOutput } from '../types.ts';
import { addConvertedEntries } from './ccda-entries.ts';
import { documentText, narrativeText } from './ccda-text.ts';
import { DOC_SYSTEMS } from './constants.ts';
import { xmlRootName } from './detect.ts';
import { sha256Hex } from './hash.ts';
import { patientScope } from '../hl7v2/patient-scope.ts';
import { buildDocumentReference } from './document-reference.ts';

/** The C-CDA result: AdapterOutput, the narrative text, and the patient ids found in recordTarget. */
export interface CcdaOutput extends AdapterOutput {
  text: string;
  patientIdentifiers: Identifier[];
}

const LOINC_OID = '2.16.840.1.113883.6.1';
/** Characters XML 1.0 does not allow (section 2.2): controls other than tab, LF and CR. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const XML_FORBIDDEN = /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/;
const dates = new DateConverter('Europe/Amsterdam');
type Obj = Record<string, unknown>;

const attr = (o: unknown, name: string): string | undefined => {
  const v = (o as Obj | undefined)?.[`@_${name}`];
  return typeof v === 'string' && v.trim() ? v.trim() : undefined;
};
const first = (v: unknown): unknown => (Array.isArray(v) ? v[0] : v);

/** CDA PN -> display text ("Patricia Primary"), from given, family, prefix and suffix parts. */
function personDisplay(name: unknown): string | undefined {
  const n = first(name) as Obj | undefined;
  if (!n) return undefined;
  const parts = ['prefix', 'given', 'family', 'suffix'].map((k) => narrativeText(n[k]));
  const text = parts.filter(Boolean).join(' ').trim();
  return text || narrativeText(n) || undefined;
}

/** HL7 TS -> FHIR dateTime / instant; a malformed value adds a warning. */
function time(value: string | undefined, where: string, warnings: string[], instant: boolean): string | undefined {
  if (!value) return undefined;
  try {
    return instant ? dates.instant(value, where) : dates.dateTime(value, where);
  } catch {
    warnings.push(`${where}: not an HL7 date/time ${JSON.stringify(value)}; not mapped`);
    return undefined;
  }
}

/** A CDA II root as a URI: an OID -> urn:oid:, a UUID -> urn:uuid: (lower case), anything else as is. */
export function rootUri(root: string): string {
  if (/^[0-2](\.(0|[1-9]\d*))+$/.test(root)) return `urn:oid:${root}`;
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(root)) return `urn:uuid:${root.toLowerCase()}`;
  return root;
}

function patientOf(ccda: Ccda, ctx: AdapterContext): { patient: Patient; ids: Identifier[] } {
  const role = (first((ccda as unknown as Obj).recordTarget) as Obj | undefined)?.patientRole as Obj | undefined;
  const ids: Identifier[] = [];
  for (const id of ((role?.id as unknown[]) ?? [])) {
    const root = attr(id, 'root');
    const ext = attr(id, 'extension');
    if (root && ext) ids.push({ system: ctx.identifierSystem(root), value: ext });
  }
  if (!ids.length) throw new AdapterError('recordTarget/patientRole/id', 'no patient identifier (an id with root and extension) in the C-CDA header');
  const patient: Patient = { resourceType: 'Patient', identifier: ids };
  const p = role?.patient as Obj | undefined;
  const name = first(p?.name) as Obj | undefined;
  if (name) {
    const family = narrativeText(name.family);
    const given = ((Array.isArray(name.given) ? name.given : [name.given]) as unknown[]).map((g) => narrativeText(g)).filter(Boolean);
    patient.name = [{ ...(family ? { family } : {}), ...(given.length ? { given } : {}) }];
  }
  const gender = attr(p?.administrativeGenderCode, 'code');
  if (gender === 'F' || gender === 'M') patient.gender = gender === 'F' ? 'female' : 'male';
  const birth = attr(p?.birthTime, 'value');
  if (birth && /^\d{8}/.test(birth)) patient.birthDate = `${birth.slice(0, 4)}-${birth.slice(4, 6)}-${birth.slice(6, 8)}`;
  return { patient, ids };
}

/**
 * A C-CDA document (XML text) -> Patient (from recordTarget/patientRole/id, system via
 * ctx.identifierSystem(root)), one DocumentReference (type from ClinicalDocument/code, date from
 * effectiveTime, author, custodian, narrative text) and the clinical entries @medplum/ccda converts.
 * When the conversion throws, the document is kept and a warning says what was not converted.
 */
export function ccdaToBundle(xml: string, ctx: AdapterContext): CcdaOutput {
  const root = xmlRootName(xml);
  if (!root) throw new AdapterError('xml', 'not XML: no root element found');
  if (!/(^|:)ClinicalDocument$/.test(root)) throw new AdapterError('xml', `not a C-CDA document: the root element is <${root}>, expected <ClinicalDocument>`);
  const control = XML_FORBIDDEN.exec(xml);
  if (control) {
    const before = xml.slice(0, control.index);
    const line = before.split('\n').length;
    const column = control.index - before.lastIndexOf('\n');
    const code = (control[0].codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0');
    throw new AdapterError('xml', `not well-formed XML: the control character U+${code} at line ${line}, column ${column} is not allowed in XML 1.0`);
  }
  let ccda: Ccda;
  try {
    ccda = convertXmlToCcda(xml);
  } catch (err) {
    throw new AdapterError('xml', `not well-formed XML: ${(err as Error).message}`);
  }
  if (!ccda || typeof ccda !== 'object') throw new AdapterError('xml', 'not a C-CDA document: empty ClinicalDocument');
  const warnings: string[] = [];
  const bytes = new TextEncoder().encode(xml);
  const entries = new EntryCollector(ctx);
  const { patient, ids } = patientOf(ccda, ctx);
  const subject: Reference<Patient> = entries.add(patient, ids[0] as Identifier);
  const scope = patientScope(ids[0] as Identifier);

  const doc = ccda as unknown as Obj;
  const code = doc.code as Obj | undefined;
  const codeValue = attr(code, 'code');
  const codeSystem = attr(code, 'codeSystem');
  const display = attr(code, 'displayName');
  const title = narrativeText(doc.title) || display;
  const type = codeValue
    ? { coding: [{ system: codeSystem === LOINC_OID ? DOC_SYSTEMS.loinc : `urn:oid:${codeSystem ?? ''}`, code: codeValue, ...(display ? { display } : {}) }], ...(display ? { text: display } : {}) }
    : undefined;
  if (!type) warnings.push('ClinicalDocument/code missing: the document has no type');
  const effective = attr(first(doc.effectiveTime), 'value');
  const author = first(doc.author) as Obj | undefined;
  const assigned = author?.assignedAuthor as Obj | undefined;
  const authorName = personDisplay((assigned?.assignedPerson as Obj | undefined)?.name) ?? narrativeText(((assigned?.representedOrganization as Obj | undefined)?.name));
  const custodianOrg = ((doc.custodian as Obj | undefined)?.assignedCustodian as Obj | undefined)?.representedCustodianOrganization as Obj | undefined;
  const custodian = narrativeText(custodianOrg?.name);
  const docId = first(doc.id);
  const identifiers: Identifier[] = [];
  const idRoot = attr(docId, 'root');
  const idExt = attr(docId, 'extension');
  if (idRoot) identifiers.push(idExt ? { system: rootUri(idRoot), value: idExt } : { system: 'urn:ietf:rfc:3986', value: rootUri(idRoot) });
  const text = documentText(ccda);
  const date = time(effective, 'ClinicalDocument/effectiveTime', warnings, true);
  const creation = time(effective, 'ClinicalDocument/effectiveTime', [], false);
  const { resource, key } = buildDocumentReference({
    subject, scope, bytes, contentType: 'application/xml', text, identifiers,
    ...(type ? { type } : {}), ...(date ? { date } : {}), ...(creation ? { creation } : {}),
    ...(authorName ? { author: [{ display: authorName }] } : {}), ...(custodian ? { custodian } : {}), ...(title ? { title } : {}),
  });
  entries.add(resource, key);

  let converted: Bundle | undefined;
  try {
    converted = convertCcdaToFhir(ccda);
  } catch (err) {
    warnings.push(`C-CDA structured entries not converted (@medplum/ccda: ${(err as Error).message}); the document and its narrative text are kept`);
  }
  if (converted) {
    const { kept, skipped } = addConvertedEntries(converted, xml, sha256Hex(bytes), scope, subject, entries);
    if (kept === 0) warnings.push('no structured entries converted');
    if (skipped.length) warnings.push(`converted but not kept (they stay in the document text): ${skipped.join(', ')}`);
  }
  const bundle: Bundle = { resourceType: 'Bundle', type: 'transaction', timestamp: ctx.now().toISOString(), entry: entries.entries };
  return { bundle, kind: `C-CDA ${display ?? codeValue ?? 'document'}`, warnings, text, patientIdentifiers: ids };
}
