import type { CodeableConcept, Identifier, Observation, Organization, Patient, Reference, Specimen } from '@medplum/fhirtypes';
import { AdapterError } from '../types.ts';
import { identifierValue } from './bundle.ts';
import { codeableConcept, codeSystemUri } from './codes.ts';
import { IDR_SYSTEMS, SYSTEMS } from './constants.ts';
import type { DateConverter } from './dates.ts';
import type { ResultItem } from './groups.ts';
import { referenceRange } from './reference-range.ts';
import { noteOf } from './specimen.ts';
import { ABSENT_REASON, OBSERVATION_STATUS, interpretation } from './status.ts';
import { unitOf } from './units.ts';
import { isKnownValueType, mapObxValue, repetitionComponents, type MappedValue } from './values.ts';
import { performerRefs } from './performers.ts';

/** Everything an OBX mapping needs from its order group. */
export interface ObservationContext {
  subject: Reference<Patient>;
  /** Identifier value of the order (DiagnosticReport), the stem of every observation id. */
  orderValue: string;
  /** Observation.category. */
  category: CodeableConcept;
  /** OBR-7 as FHIR dateTime, used when OBX-14 is empty. */
  orderEffective: string | undefined;
  /** OBR-25, used when OBX-11 is empty. */
  orderStatus: string;
  specimen?: Reference<Specimen>;
  dates: DateConverter;
  warnings: string[];
  /** Counts of identity stems already used in this message (code/sub-id repeats get `/2`, `/3`...). */
  seen: Map<string, number>;
}

/** A mapped OBX: the Observation, its identity and the mapped value (the caller may reuse attachments). */
export interface MappedObservation {
  observation: Observation;
  key: Identifier;
  value: MappedValue;
}

/** The OBX-3 identifier used in observation identities (CE-1, else the alternate CE-4). */
export function obxCode(item: ResultItem): string {
  return item.obx.get(3, 1) || item.obx.get(3, 4);
}

/**
 * OBX -> Observation: identity `<order>/<OBX-3>/<OBX-4>`, status (OBX-11), code (OBX-3), value by
 * OBX-2, unit (OBX-6, UCUM when valid), reference range (OBX-7), interpretation (OBX-8),
 * effective (OBX-14, else OBR-7), performer (OBX-16, OBX-23), method (OBX-17), body site (OBX-20), notes (NTE).
 */
export function mapObservation(item: ResultItem, ctx: ObservationContext): MappedObservation {
  const obx = item.obx;
  const code = codeableConcept(obx, 3);
  const codeId = obxCode(item);
  if (!code || !codeId) throw new AdapterError(obx.loc(3), 'observation identifier missing (OBX-3 needs a code)');
  const type = obx.get(2).toUpperCase();
  if (type && !isKnownValueType(type)) throw new AdapterError(obx.loc(2), `unknown value type ${JSON.stringify(obx.get(2))}`);
  if (!type && obx.reps(5) > 0) throw new AdapterError(obx.loc(2), 'value type missing while OBX-5 has a value');

  const stem = identifierValue(ctx.orderValue, codeId, obx.get(4));
  const n = (ctx.seen.get(stem) ?? 0) + 1;
  ctx.seen.set(stem, n);
  const key: Identifier = { system: IDR_SYSTEMS.observation, value: n === 1 ? stem : `${stem}/${n}` };

  const statusCode = (obx.get(11) || ctx.orderStatus).toUpperCase();
  let status = OBSERVATION_STATUS[statusCode];
  if (!status) {
    ctx.warnings.push(`${obx.loc(11)}: result status ${JSON.stringify(obx.get(11))} not in HL7 table 0085; status unknown`);
    status = 'unknown';
  }
  const observation: Observation = { resourceType: 'Observation', identifier: [key], status, category: [ctx.category], code, subject: ctx.subject };

  const unit = unitOf(obx.get(6, 1), obx.get(6, 2));
  if (obx.get(6, 1) && !unit.code) {
    const msg = `${obx.loc(6)}: unit ${JSON.stringify(obx.get(6, 1))} is not valid UCUM; kept as text`;
    if (!ctx.warnings.includes(msg)) ctx.warnings.push(msg);
  }
  const value = type ? mapObxValue(obx, type, unit, ctx) : {};
  if (value.value) Object.assign(observation, value.value);
  if (value.repetitions) observation.component = repetitionComponents(code, value.repetitions);
  if (value.extension) observation.extension = value.extension;
  if (!value.value && !value.repetitions && !value.extension) {
    const reason = ABSENT_REASON[statusCode] ?? 'unknown';
    observation.dataAbsentReason = { coding: [{ system: SYSTEMS.dataAbsentReason, code: reason }] };
  }

  const range = referenceRange(obx.get(7), unit);
  if (range) observation.referenceRange = [range];
  const interpretations = [];
  for (let r = 0; r < obx.reps(8); r++) {
    const cc = interpretation(obx.get(8, 1, r), obx.get(8, 2, r), codeSystemUri(obx.get(8, 3, r)));
    if (cc) interpretations.push(cc);
  }
  if (interpretations.length) observation.interpretation = interpretations;

  const effective = ctx.dates.dateTime(obx.get(14), obx.loc(14)) ?? ctx.orderEffective;
  if (effective) observation.effectiveDateTime = effective;
  const performer = [...performerRefs(obx, 16), ...organizationRefs(obx)];
  if (performer.length) observation.performer = performer;
  const method = codeableConcept(obx, 17);
  if (method) observation.method = method;
  const bodySite = codeableConcept(obx, 20);
  if (bodySite) observation.bodySite = bodySite;
  if (ctx.specimen) observation.specimen = ctx.specimen;
  const notes = item.notes.flatMap(noteOf);
  if (notes.length) observation.note = notes;
  return { observation, key, value };
}

/** OBX-23 performing organization (2.5+), else OBX-15 producer's id, as display references. */
function organizationRefs(obx: ResultItem['obx']): Reference<Organization>[] {
  const name = obx.get(23, 1);
  if (name) {
    const id = obx.get(23, 10);
    return [{ display: name, ...(id ? { identifier: { value: id } } : {}) }];
  }
  const producer = obx.get(15, 2) || obx.get(15, 1);
  return producer ? [{ display: producer }] : [];
}
