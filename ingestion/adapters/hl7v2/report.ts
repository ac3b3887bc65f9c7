import type { CodeableConcept, DiagnosticReport, Identifier, Observation } from '@medplum/fhirtypes';
import { AdapterError } from '../types.ts';
import { identifierValue } from './bundle.ts';
import { IDR_SYSTEMS, SYSTEMS } from './constants.ts';
import type { OrderGroup } from './groups.ts';
import type { ResolvedHl7v2Options } from './options.ts';
import type { Segment } from './segment.ts';
import { REPORT_STATUS } from './status.ts';

/** What kind of report an order group is. */
export const REPORT_KINDS = { lab: 'lab', pathology: 'pathology', radiology: 'radiology' } as const;
/** One of REPORT_KINDS. */
export type ReportKind = (typeof REPORT_KINDS)[keyof typeof REPORT_KINDS];

/** The identity of an order: identifiers for the DiagnosticReport and the one its conditional update uses. */
export interface OrderIdentity {
  identifiers: Identifier[];
  key: Identifier;
}

function entity(seg: Segment | undefined, n: number, fallbackAuthority: string): string {
  const id = seg?.get(n, 1) ?? '';
  if (!seg || !id) return '';
  const authority = seg.get(n, 2) || seg.get(n, 3) || fallbackAuthority;
  return authority ? identifierValue(authority, id) : identifierValue(id);
}

/**
 * Order identity: filler order number (OBR-3, else ORC-3) qualified by its namespace (EI-2/EI-3,
 * else the sending application MSH-3); without one, the placer number (OBR-2, else ORC-2, qualified
 * by EI-2/EI-3 else the receiving application MSH-5) under a different system.
 */
export function orderIdentity(group: OrderGroup, msh: Segment): OrderIdentity {
  const { obr, orc } = group;
  const fillerAuthority = msh.get(3, 1) || msh.get(4, 1);
  const placerAuthority = msh.get(5, 1) || msh.get(6, 1);
  const filler = entity(obr, 3, fillerAuthority) || entity(orc, 3, fillerAuthority);
  const placer = entity(obr, 2, placerAuthority) || entity(orc, 2, placerAuthority);
  const identifiers: Identifier[] = [];
  if (filler) identifiers.push({ system: IDR_SYSTEMS.fillerOrder, value: filler });
  if (placer) identifiers.push({ system: IDR_SYSTEMS.placerOrder, value: placer });
  const key = identifiers[0];
  if (!key) throw new AdapterError(obr.loc(3), 'no filler order number (OBR-3 / ORC-3) or placer order number (OBR-2 / ORC-2) to identify the report');
  return { identifiers, key };
}

/** Pathology when OBR-24 is a configured pathology section or OBR-4 a configured service id; radiology likewise; else lab. */
export function reportKind(obr: Segment, options: ResolvedHl7v2Options): ReportKind {
  const section = obr.get(24).toUpperCase();
  if (options.pathologySections.includes(section)) return 'pathology';
  const services = [obr.get(4, 1), obr.get(4, 4)].filter(Boolean);
  if (services.some((s) => options.pathologyServiceIds.includes(s))) return 'pathology';
  if (options.radiologySections.includes(section)) return 'radiology';
  return 'lab';
}

const V2_0074 = SYSTEMS.v2Table('0074');

/** DiagnosticReport.category: LAB / PAT (+ LOINC 11526-1) / RAD, plus OBR-24 as sent when it differs. */
export function reportCategories(kind: ReportKind, obr: Segment): CodeableConcept[] {
  const out: CodeableConcept[] = [];
  if (kind === 'pathology') {
    out.push({ coding: [{ system: V2_0074, code: 'PAT', display: 'Pathology' }, { system: SYSTEMS.loinc, code: '11526-1', display: 'Pathology study' }] });
  } else if (kind === 'radiology') {
    out.push({ coding: [{ system: V2_0074, code: 'RAD', display: 'Radiology' }] });
  } else {
    out.push({ coding: [{ system: V2_0074, code: 'LAB', display: 'Laboratory' }] });
  }
  const section = obr.get(24);
  const main = kind === 'pathology' ? 'PAT' : kind === 'radiology' ? 'RAD' : 'LAB';
  if (section && section.toUpperCase() !== main) out.push({ coding: [{ system: V2_0074, code: section }] });
  return out;
}

/** Observation.category for the results of a report of this kind. */
export function observationCategory(kind: ReportKind): CodeableConcept {
  const code = kind === 'radiology' ? 'imaging' : 'laboratory';
  return { coding: [{ system: SYSTEMS.observationCategory, code, display: code === 'imaging' ? 'Imaging' : 'Laboratory' }] };
}

/**
 * OBR-25 -> DiagnosticReport.status (HL7 table 0123). When OBR-25 is empty the status is derived
 * from the observations: all final -> final (corrected if any is), any preliminary -> preliminary.
 */
export function reportStatus(obr: Segment, observations: Observation[], warnings: string[]): DiagnosticReport['status'] {
  const code = obr.get(25).toUpperCase();
  if (code) {
    const s = REPORT_STATUS[code];
    if (s) return s;
    warnings.push(`${obr.loc(25)}: result status ${JSON.stringify(obr.get(25))} not in HL7 table 0123; status unknown`);
    return 'unknown';
  }
  warnings.push(`${obr.loc(25)}: result status empty; derived from the OBX statuses`);
  const statuses = new Set(observations.map((o) => o.status));
  if (statuses.size === 0) return 'registered';
  if ([...statuses].every((s) => s === 'final' || s === 'corrected' || s === 'amended')) {
    return statuses.has('corrected') || statuses.has('amended') ? 'corrected' : 'final';
  }
  if (statuses.has('preliminary') || statuses.has('final')) return 'preliminary';
  return 'registered';
}
