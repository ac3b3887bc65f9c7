import type { CodeableConcept, DiagnosticReport, Observation } from '@medplum/fhirtypes';
import { SYSTEMS } from './constants.ts';

type ObservationStatus = Observation['status'];
type ReportStatus = DiagnosticReport['status'];

/**
 * OBX-11 (HL7 table 0085) -> Observation.status, after the HL7 v2-to-FHIR ConceptMap.
 * See: https://hl7.org/fhir/uv/v2mappings/ConceptMap-table-hl70085-to-observation-status.html
 */
export const OBSERVATION_STATUS: Readonly<Record<string, ObservationStatus>> = {
  A: 'amended', B: 'amended', C: 'corrected', D: 'entered-in-error', F: 'final', I: 'registered',
  N: 'cancelled', O: 'registered', P: 'preliminary', R: 'preliminary', S: 'preliminary',
  U: 'final', V: 'final', W: 'entered-in-error', X: 'cancelled',
};

/** data-absent-reason for an OBX without a value, by OBX-11 (undefined: no reason needed). */
export const ABSENT_REASON: Readonly<Record<string, string>> = {
  I: 'temp-unknown', O: 'temp-unknown', S: 'temp-unknown', X: 'not-performed', N: 'not-asked', D: 'error', W: 'error',
};

/**
 * OBR-25 (HL7 table 0123) -> DiagnosticReport.status.
 * See: https://hl7.org/fhir/uv/v2mappings/ConceptMap-table-hl70123-queries-to-diagnostic-report-status.html
 */
export const REPORT_STATUS: Readonly<Record<string, ReportStatus>> = {
  O: 'registered', I: 'registered', S: 'registered', A: 'partial', P: 'preliminary', C: 'corrected',
  M: 'corrected', R: 'partial', N: 'partial', F: 'final', X: 'cancelled', Y: 'unknown', Z: 'unknown',
};

/** HL7 table 0078 codes that are also v3 ObservationInterpretation codes (the same code). */
const V3_INTERPRETATION = new Set([
  'L', 'H', 'LL', 'HH', '<', '>', 'N', 'A', 'AA', 'U', 'D', 'B', 'W', 'S', 'R', 'I', 'MS', 'VS', 'NEG', 'POS',
  'IND', 'DET', 'ND', 'E', 'EX', 'HX', 'LX', 'NR', 'RR', 'SYN-R', 'SYN-S', 'IE', 'QCF', 'TOX', 'WR', 'CAR', 'AC',
  'EXP', 'HM', 'LU', 'HU', 'NS', 'NCL', 'OBX', 'UNE', 'SDD',
]);

/**
 * OBX-8 abnormal flag -> interpretation: table 0078 codes as v3 ObservationInterpretation, and the
 * sender's own coding kept when it used a different system. `null` (no range defined) is dropped.
 */
export function interpretation(code: string, display: string, systemUri: string | undefined): CodeableConcept | undefined {
  if (!code || code.toLowerCase() === 'null') return undefined;
  const v3 = V3_INTERPRETATION.has(code) ? code : undefined;
  const codings: NonNullable<CodeableConcept['coding']> = [];
  if (v3) codings.push({ system: SYSTEMS.v3Interpretation, code: v3 });
  const v2Table = SYSTEMS.v2Table('0078');
  if (!v3 || (systemUri && systemUri !== v2Table)) {
    codings.push(display ? { system: systemUri ?? v2Table, code, display } : { system: systemUri ?? v2Table, code });
  }
  return display ? { coding: codings, text: display } : { coding: codings };
}
