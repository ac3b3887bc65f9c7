import type { Annotation, Identifier, Patient, Reference, Specimen } from '@medplum/fhirtypes';
import { codeableConcept, coding } from './codes.ts';
import { IDR_SYSTEMS } from './constants.ts';
import type { DateConverter } from './dates.ts';
import { identifierValue } from './bundle.ts';
import type { SpecimenItem } from './groups.ts';
import type { Segment } from './segment.ts';

/** A mapped Specimen and the identifier used for its conditional update. */
export interface MappedSpecimen {
  specimen: Specimen;
  key: Identifier;
}

/** An EI component of SPM-2 (id & namespace & universal id) as an identifier value, or '' without an id. */
function entityId(spm: Segment, c: number, fallbackAuthority: string): string {
  const id = spm.sub(2, c, 1);
  if (!id) return '';
  return identifierValue(spm.sub(2, c, 2) || spm.sub(2, c, 3) || fallbackAuthority, id);
}

/**
 * SPM (v2.5+) -> Specimen: identifier from SPM-2 (filler id, else placer id; without either the
 * report identity and SPM-1); identity (key) the first of them scoped by the patient, type SPM-4, collection method SPM-7, body site SPM-8,
 * collection time SPM-17, received time SPM-18, condition SPM-24, description SPM-14 and NTEs as notes.
 */
export function mapSpm(item: SpecimenItem, n: number, orderValue: string, scope: string, authority: string, subject: Reference<Patient>, dates: DateConverter): MappedSpecimen {
  const spm = item.spm;
  const filler = entityId(spm, 2, authority);
  const placer = entityId(spm, 1, authority);
  const identifier: Identifier[] = [];
  if (filler) identifier.push({ system: IDR_SYSTEMS.specimen, value: filler });
  if (placer) identifier.push({ system: filler ? IDR_SYSTEMS.specimenPlacer : IDR_SYSTEMS.specimen, value: placer });
  // Without SPM-2 the report identity (already scoped by the patient) names the specimen.
  if (identifier.length === 0) identifier.push({ system: IDR_SYSTEMS.specimen, value: identifierValue(orderValue, 'specimen', spm.get(1) || String(n)) });
  const source = identifier[0] as Identifier;
  const key: Identifier = filler || placer ? { system: IDR_SYSTEMS.specimenKey, value: identifierValue(scope, source.value as string) } : source;
  const specimen: Specimen = { resourceType: 'Specimen', identifier: key === source ? identifier : [key, ...identifier], subject };
  const type = codeableConcept(spm, 4);
  if (type) specimen.type = type;
  const collection: NonNullable<Specimen['collection']> = {};
  const method = codeableConcept(spm, 7);
  if (method) collection.method = method;
  const site = codeableConcept(spm, 8);
  if (site) collection.bodySite = site;
  const start = dates.dateTime(spm.get(17, 1), spm.loc(17));
  const end = dates.dateTime(spm.get(17, 2), spm.loc(17));
  if (start && end) collection.collectedPeriod = { start, end };
  else if (start) collection.collectedDateTime = start;
  if (Object.keys(collection).length) specimen.collection = collection;
  const received = dates.dateTime(spm.get(18), spm.loc(18));
  if (received) specimen.receivedTime = received;
  const condition = [];
  for (let r = 0; r < spm.reps(24); r++) {
    const cc = codeableConcept(spm, 24, r);
    if (cc) condition.push(cc);
  }
  if (condition.length) specimen.condition = condition;
  const note: Annotation[] = [];
  for (let r = 0; r < spm.reps(14); r++) note.push({ text: spm.text(14, r) });
  for (const nte of item.notes) note.push(...noteOf(nte));
  if (note.length) specimen.note = note;
  return { specimen, key };
}

/**
 * OBR-15 specimen source (v2.3/2.4, SPS) -> Specimen, identified by the report identity (scoped by the patient):
 * source (SPS-1, a CE in subcomponents) as type, collection method SPS-3, body site SPS-4, time OBR-7.
 */
export function mapObr15(obr: Segment, orderValue: string, subject: Reference<Patient>, dates: DateConverter): MappedSpecimen | undefined {
  if (obr.reps(15) === 0) return undefined;
  const identifier: Identifier = { system: IDR_SYSTEMS.specimen, value: identifierValue(orderValue, 'specimen') };
  const specimen: Specimen = { resourceType: 'Specimen', identifier: [identifier], subject };
  const sub = (c: number, s: number): string => obr.sub(15, c, s);
  const type = coding(sub(1, 1), sub(1, 2), sub(1, 3));
  if (type || sub(1, 2)) specimen.type = { ...(type ? { coding: [type] } : {}), ...(sub(1, 2) ? { text: sub(1, 2) } : {}) };
  const collection: NonNullable<Specimen['collection']> = {};
  if (obr.get(15, 3)) collection.method = { text: obr.get(15, 3) };
  const site = coding(sub(4, 1), sub(4, 2), sub(4, 3));
  if (site || sub(4, 2)) collection.bodySite = { ...(site ? { coding: [site] } : {}), ...(sub(4, 2) ? { text: sub(4, 2) } : {}) };
  const collected = dates.dateTime(obr.get(7), obr.loc(7));
  if (collected) collection.collectedDateTime = collected;
  if (Object.keys(collection).length) specimen.collection = collection;
  if (obr.get(15, 2)) specimen.note = [{ text: `Additives: ${obr.get(15, 2)}` }];
  return { specimen, key: identifier };
}

/** NTE -> Annotation (NTE-3 comment, repetitions joined by newlines). */
export function noteOf(nte: Segment): Annotation[] {
  const text = nte.texts(3).join('\n');
  return text ? [{ text }] : [];
}
