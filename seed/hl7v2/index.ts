/**
 * Synthetic oncology patients as raw HL7 v2.5.1 ORU^R01 messages (lab series and pathology
 * reports), for loading through the real ingestion pipeline. Deterministic: the same seed gives
 * byte-identical output.
 */
import { labMessages } from './lab-series.ts';
import { pathologyMessages } from './pathology-reports.ts';
import { type SeedOptions, seedPatients } from './patients.ts';

export { isValidBsn, syntheticBsn } from './bsn.ts';
export { escapeText, unescapeText, SEGMENT_SEPARATOR } from './hl7-writer.ts';
export { abnormalFlag, LAB_TESTS, rangeText, type ReferenceRange } from './lab-catalog.ts';
export { labMessages, type LabOptions, markerTest } from './lab-series.ts';
export { pathologyMessages, pathologyReports, type PathologyOptions, type PathologyReport, REPORT_SECTIONS, SYNOPTIC_ITEMS } from './pathology-reports.ts';
export { ASSIGNING_AUTHORITIES, CANCER_TYPES, type CancerType, DEFAULT_SEED, seedPatients, type SeedOptions, type SeedPatient } from './patients.ts';

/** One generated message with a suggested file name. */
export interface SeedMessage {
  name: string;
  text: string;
}

/** The instant (UTC ms) of an HL7 DTM with offset, e.g. `20250312083015+0100`. */
export function parseHl7Instant(dtm: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})([+-])(\d{2})(\d{2})$/.exec(dtm);
  if (!m) throw new Error(`not an HL7 DTM with seconds and offset: "${dtm}"`);
  const n = (i: number): number => Number(m[i]);
  const offset = (m[7] === '-' ? -1 : 1) * (n(8) * 60 + n(9));
  return Date.UTC(n(1), n(2) - 1, n(3), n(4), n(5), n(6)) - offset * 60_000;
}

/** MSH-7 and MSH-10 of a message written by the seed. */
function header(text: string): { sentAt: number; controlId: string } {
  const fields = (text.split('\r', 1)[0] ?? '').split('|');
  return { sentAt: parseHl7Instant(fields[6] ?? ''), controlId: fields[9] ?? '' };
}

/** All messages of all seed patients in the order they were sent, each with a suggested file name. */
export function seedHl7Messages(opts: SeedOptions = {}): SeedMessage[] {
  const patients = seedPatients(opts);
  const all = patients.flatMap((patient) => [
    ...labMessages(patient).map((text) => ({ patient, kind: 'lab', text })),
    ...pathologyMessages(patient).map((text) => ({ patient, kind: 'pathology', text })),
  ]);
  const withHeader = all.map((m, order) => ({ ...m, order, ...header(m.text) }));
  withHeader.sort((a, b) => a.sentAt - b.sentAt || a.patient.index - b.patient.index || a.order - b.order);
  const width = Math.max(4, String(withHeader.length).length);
  return withHeader.map((m, i) => ({
    name: `${String(i + 1).padStart(width, '0')}-${m.patient.key}-${m.kind}-${m.controlId}.hl7`,
    text: m.text,
  }));
}
