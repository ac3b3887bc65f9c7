import type { CodeableConcept, Coding, Observation, Quantity, Range, Resource } from '@medplum/fhirtypes';
import { EVENT_STATUS, type EventStatus } from '../schema/timeline-event.ts';

/**
 * Small formatting helpers for timeline summaries: analyte short names, values with units,
 * interpretation flags, status folding and the clinically relevant time of a resource.
 */

/** Short names of common analytes by LOINC code, as clinicians write them. */
const SHORT_NAMES: Record<string, string> = {
  '718-7': 'Hb', '59260-0': 'Hb', '6690-2': 'WBC', '26464-8': 'WBC', '777-3': 'PLT', '26515-7': 'PLT',
  '751-8': 'Neutro', '26499-4': 'Neutro', '789-8': 'RBC', '4544-3': 'Ht', '20570-8': 'Ht',
  '14682-9': 'Creat', '2160-0': 'Creat', '62238-1': 'eGFR', '33914-3': 'eGFR', '1742-6': 'ALT', '1920-8': 'AST',
  '6768-6': 'ALP', '14631-6': 'Bili', '1975-2': 'Bili', '2039-6': 'CEA', '6875-9': 'CA 15-3', '24108-3': 'CA 19-9',
  '10334-1': 'CA 125', '2857-1': 'PSA', '2951-2': 'Na', '2823-3': 'K', '1988-5': 'CRP', '2532-0': 'LDH',
};

/** Interpretation codes (v3 ObservationInterpretation / HL7 v2 table 0078) that are not abnormal. */
const NORMAL_FLAGS = new Set(['N', 'NEG', 'ND', 'NR', 'S', 'IND', 'E', 'EXP']);

/** The LOINC code of a concept, if any. */
export function loincCode(cc: CodeableConcept | undefined): string | undefined {
  return cc?.coding?.find((c) => c.system === 'http://loinc.org')?.code;
}

/** A short display name of an observation code: "Hb", else the local display, else the text. */
export function shortName(cc: CodeableConcept | undefined): string {
  const loinc = loincCode(cc);
  if (loinc && SHORT_NAMES[loinc]) return SHORT_NAMES[loinc];
  const text = cc?.text ?? cc?.coding?.find((c) => c.display)?.display ?? cc?.coding?.[0]?.code ?? '?';
  return text.replace(/\s*\[.*$/, '').trim() || text;
}

/** The display of a concept (text, else the first display, else the first code). */
export function conceptText(cc: CodeableConcept | undefined): string | undefined {
  return cc?.text ?? cc?.coding?.find((c) => c.display)?.display ?? cc?.coding?.[0]?.code;
}

/** "system|code" and "code" for every coding. */
export function codeTokens(...concepts: (CodeableConcept | CodeableConcept[] | undefined)[]): string[] {
  const out = new Set<string>();
  for (const cc of concepts.flat()) {
    for (const c of cc?.coding ?? ([] as Coding[])) {
      if (!c.code) continue;
      out.add(c.code);
      if (c.system) out.add(`${c.system}|${c.code}`);
    }
  }
  return [...out];
}

/** A number as written, without float noise. */
export function formatNumber(n: number): string {
  return String(Number.parseFloat(n.toPrecision(12)));
}

/** "6.2 mmol/L", "<5 ug/L". */
export function formatQuantity(q: Quantity | undefined): string {
  if (q?.value === undefined) return '';
  const unit = q.unit ?? q.code ?? '';
  return `${q.comparator ?? ''}${formatNumber(q.value)}${unit ? ` ${unit}` : ''}`;
}

function formatRange(r: Range): string {
  return `${formatQuantity(r.low)}–${formatQuantity(r.high)}`;
}

/** The value of an observation as text with its unit. */
export function formatValue(obs: Observation): string {
  if (obs.valueQuantity) return formatQuantity(obs.valueQuantity);
  if (obs.valueCodeableConcept) return conceptText(obs.valueCodeableConcept) ?? '';
  if (obs.valueString !== undefined) return obs.valueString.split('\n')[0] ?? '';
  if (obs.valueBoolean !== undefined) return obs.valueBoolean ? 'yes' : 'no';
  if (obs.valueInteger !== undefined) return String(obs.valueInteger);
  if (obs.valueRange) return formatRange(obs.valueRange);
  if (obs.valueRatio) return `${formatQuantity(obs.valueRatio.numerator)}/${formatQuantity(obs.valueRatio.denominator)}`;
  if (obs.valueDateTime) return obs.valueDateTime;
  if (obs.valuePeriod) return `${obs.valuePeriod.start ?? ''}–${obs.valuePeriod.end ?? ''}`;
  if (obs.component?.length) return obs.component.map((c) => `${shortName(c.code)} ${c.valueQuantity ? formatQuantity(c.valueQuantity) : (conceptText(c.valueCodeableConcept) ?? c.valueString ?? '')}`).join(', ');
  if (obs.dataAbsentReason) return `(${conceptText(obs.dataAbsentReason) ?? 'no value'})`;
  return '';
}

/**
 * The interpretation flag of an observation ("L", "HH"…): as sent, else computed from the
 * first reference range for a quantity value.
 */
export function observationFlag(obs: Observation): string | undefined {
  const sent = obs.interpretation?.flatMap((i) => i.coding ?? []).find((c) => c.code)?.code;
  if (sent) return sent;
  const v = obs.valueQuantity?.value;
  const range = obs.referenceRange?.[0];
  if (v === undefined || !range) return undefined;
  if (range.low?.value !== undefined && v < range.low.value) return 'L';
  if (range.high?.value !== undefined && v > range.high.value) return 'H';
  return undefined;
}

/** True when a flag means abnormal. */
export function isAbnormalFlag(flag: string | undefined): boolean {
  return !!flag && !NORMAL_FLAGS.has(flag.toUpperCase());
}

/** "Hb 6.2 mmol/L (L)". */
export function observationLine(obs: Observation): string {
  const flag = observationFlag(obs);
  const value = formatValue(obs);
  return `${shortName(obs.code)}${value ? ` ${value}` : ''}${flag && isAbnormalFlag(flag) ? ` (${flag})` : ''}`;
}

/** Folds the status of any resource onto the timeline's statuses. */
export function eventStatus(resource: Resource): EventStatus {
  const r = resource as { status?: string; docStatus?: string; verificationStatus?: CodeableConcept };
  if (r.verificationStatus?.coding?.some((c) => c.code === 'entered-in-error')) return EVENT_STATUS.enteredInError;
  const s = r.docStatus && r.status !== 'entered-in-error' ? r.docStatus : r.status;
  switch (s) {
    case 'registered': case 'partial': case 'preliminary': case 'planned': case 'arrived': case 'triaged':
    case 'in-progress': case 'intended': case 'preparation': case 'draft': case 'on-hold': case 'onleave':
      return EVENT_STATUS.preliminary;
    case 'final': case 'available': case 'current': case 'completed': case 'finished': case 'active': case 'recorded':
      return EVENT_STATUS.final;
    case 'amended': case 'corrected': case 'appended':
      return EVENT_STATUS.corrected;
    case 'cancelled': case 'stopped': case 'not-done': case 'revoked': case 'superseded':
      return EVENT_STATUS.cancelled;
    case 'entered-in-error':
      return EVENT_STATUS.enteredInError;
    default:
      return s === undefined && !('status' in (resource as object)) ? EVENT_STATUS.final : EVENT_STATUS.unknown;
  }
}

/** The first parsable instant among the candidates (FHIR dates, dateTimes, instants). */
export function firstTime(...candidates: (string | undefined)[]): Date | undefined {
  for (const c of candidates) {
    if (!c) continue;
    const d = new Date(/^\d{4}$/.test(c) ? `${c}-01-01` : /^\d{4}-\d{2}$/.test(c) ? `${c}-01` : c);
    if (!Number.isNaN(d.getTime())) return d;
  }
  return undefined;
}

/** meta.lastUpdated as a Date (epoch when absent). */
export function lastUpdatedOf(resource: Resource): Date {
  return firstTime(resource.meta?.lastUpdated) ?? new Date(0);
}
