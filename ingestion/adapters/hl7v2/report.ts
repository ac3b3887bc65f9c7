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

/** The identity of an order group's report: its identifiers and the one its conditional update uses. */
export interface OrderIdentity {
  /** The key first, then the filler and placer order numbers as sent (for search and imaging links). */
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
 * Report identity. Senders reuse one order number for several OBR groups (a filler order with
 * several panels; newborn-screening panels even repeat OBR-4), so a report is the order number
 * plus the universal service id (OBR-4), and the n-th group of one message with both the same
 * gets `/<n>`. The order number is the filler order number (OBR-3, else ORC-3) qualified by its
 * namespace (EI-2/EI-3, else the sending application MSH-3); without one, the placer number
 * (OBR-2, else ORC-2, qualified by EI-2/EI-3 else the receiving application MSH-5). The key is
 * scoped by the patient (see patientScope); `occurrences` counts identities within the message.
 */
export function orderIdentity(group: OrderGroup, msh: Segment, scope: string, occurrences: Map<string, number>): OrderIdentity {
  const { obr, orc } = group;
  const fillerAuthority = msh.get(3, 1) || msh.get(4, 1);
  const placerAuthority = msh.get(5, 1) || msh.get(6, 1);
  const filler = entity(obr, 3, fillerAuthority) || entity(orc, 3, fillerAuthority);
  const placer = entity(obr, 2, placerAuthority) || entity(orc, 2, placerAuthority);
  if (!filler && !placer) throw new AdapterError(obr.loc(3), 'no filler order number (OBR-3 / ORC-3) or placer order number (OBR-2 / ORC-2) to identify the report');
  const service = obr.get(4, 1) || obr.get(4, 4);
  if (!service) throw new AdapterError(obr.loc(4), 'universal service identifier missing (OBR-4 needs a code)');
  const stem = filler ? identifierValue(scope, 'filler', filler, service) : identifierValue(scope, 'placer', placer, service);
  const n = (occurrences.get(stem) ?? 0) + 1;
  occurrences.set(stem, n);
  const key: Identifier = { system: IDR_SYSTEMS.report, value: n === 1 ? stem : `${stem}/${n}` };
  const identifiers: Identifier[] = [key];
  if (filler) identifiers.push({ system: IDR_SYSTEMS.fillerOrder, value: filler });
  if (placer) identifiers.push({ system: IDR_SYSTEMS.placerOrder, value: placer });
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
    out.push({ coding: [{ system: V2_0074, code: 'PAT', display: 'Pathology (gross & histopath, not surgical)' }, { system: SYSTEMS.loinc, code: '11526-1', display: 'Pathology study' }] });
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
