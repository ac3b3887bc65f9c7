import type {
  CodeableConcept, Coding, Condition, DiagnosticReport, DocumentReference, ImagingStudy, Observation, Period, Reference, Resource, RiskAssessment,
} from '@medplum/fhirtypes';
import { LANES, type Lane, type TimelineEvent } from '../schema/timeline-event.ts';
import { codeTokens, conceptText, eventStatus, firstTime, isAbnormalFlag, lastUpdatedOf, observationFlag, observationLine } from './format.ts';
import { pathologyFindings, pathologySummary } from './pathology.ts';

/**
 * Per-type mapping of FHIR resources to timeline event drafts (everything but the source).
 * Pure: the caller passes the related resources it has (a report's results, a study's reports).
 */

/** An event before its source (Provenance) is attached, with extra searchable text (report conclusion, document description). */
export type EventDraft = Omit<TimelineEvent, 'source'> & { text?: string };

const MAX_LINES = 12;
/** Category or report codes that mark a pathology report (HL7 v2 diagnostic service sections, LOINC). */
export const PATHOLOGY_CODES = ['PAT', 'SP', 'CP', '11526-1', '60567-5', 'LP7839-6'];
const PATHOLOGY_CATEGORIES = new Set(PATHOLOGY_CODES);
const RADIOLOGY_CATEGORIES = new Set(['RAD', 'RX', 'CT', 'MR', 'NMR', 'US', 'NMS', 'VUS', 'LP29684-5', '18748-4', 'imaging']);

/** "Type/id" of a resource. */
export function keyOf(r: Resource): string {
  return `${r.resourceType}/${r.id}`;
}

/** "Type/id" of a literal reference (history suffixes and absolute bases dropped), if it is one. */
export function refKey(ref: Reference | undefined): string | undefined {
  const m = ref?.reference?.match(/(?:^|\/)([A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/);
  return m?.[1];
}

function reportCategories(dr: DiagnosticReport): string[] {
  return (dr.category ?? []).flatMap((c) => (c.coding ?? []).map((x) => x.code ?? '')).concat(codeTokens(dr.code));
}

/** The kind of a DiagnosticReport: pathology, radiology or lab. */
export function reportKind(dr: DiagnosticReport): 'pathology' | 'radiology' | 'lab' {
  const cats = reportCategories(dr);
  if (cats.some((c) => PATHOLOGY_CATEGORIES.has(c))) return 'pathology';
  if (dr.imagingStudy?.length || cats.some((c) => RADIOLOGY_CATEGORIES.has(c))) return 'radiology';
  return 'lab';
}

function maxDate(resources: Resource[]): Date {
  return new Date(Math.max(...resources.map((r) => lastUpdatedOf(r).getTime())));
}

function reportTime(dr: DiagnosticReport): Date {
  return firstTime(dr.effectiveDateTime, dr.effectivePeriod?.start, dr.issued) ?? lastUpdatedOf(dr);
}

/** A lab, pathology or (unlinked) radiology report with its results. */
export function reportEvent(dr: DiagnosticReport, results: Observation[]): EventDraft {
  const live = results.filter((o) => o.status !== 'entered-in-error' && o.status !== 'cancelled');
  const kind = reportKind(dr);
  let summary: string;
  let abnormal: boolean;
  if (kind === 'pathology') {
    const f = pathologyFindings(dr, live);
    summary = pathologySummary(f);
    abnormal = f.malignant || live.some((o) => isAbnormalFlag(observationFlag(o)));
  } else {
    const lines = live.map(observationLine);
    summary = lines.length > MAX_LINES ? `${lines.slice(0, MAX_LINES).join(', ')}, +${lines.length - MAX_LINES} more` : lines.join(', ');
    if (!summary) summary = dr.conclusion ?? '';
    else if (kind === 'radiology' && dr.conclusion) summary = `${dr.conclusion} (${summary})`;
    abnormal = live.some((o) => isAbnormalFlag(observationFlag(o)));
  }
  let status = eventStatus(dr);
  if (status === 'final' && live.some((o) => eventStatus(o) === 'corrected')) status = 'corrected';
  return {
    anchor: keyOf(dr),
    time: reportTime(dr),
    lane: kind === 'pathology' ? LANES.pathology : kind === 'radiology' ? LANES.imaging : LANES.lab,
    title: conceptText(dr.code) ?? 'Report',
    summary,
    abnormal,
    status,
    refs: unique([keyOf(dr), ...(dr.result ?? []).map(refKey), ...(dr.imagingStudy ?? []).map(refKey)]),
    codes: codeTokens(dr.code, dr.category, dr.conclusionCode, ...live.map((o) => o.code)),
    lastUpdated: maxDate([dr, ...live]),
    ...(dr.conclusion ? { text: dr.conclusion } : {}),
  };
}

/** An imaging study with its radiology reports (and their results). */
export function imagingEvent(study: ImagingStudy, reports: DiagnosticReport[], results: Observation[]): EventDraft {
  const modalities = unique([...(study.modality ?? []), ...(study.series ?? []).map((s) => s.modality)].map((c) => c?.code));
  const report = reports.filter((r) => r.status !== 'entered-in-error').sort((a, b) => (b.issued ?? '').localeCompare(a.issued ?? ''))[0];
  const counts = [study.numberOfSeries !== undefined && `${study.numberOfSeries} series`, study.numberOfInstances !== undefined && `${study.numberOfInstances} images`].filter(Boolean).join(', ');
  const conclusion = report?.conclusion ?? (report ? conceptText(report.conclusionCode?.[0]) : undefined);
  const title = [modalities.join('/'), study.description ?? conceptText(study.procedureCode?.[0]) ?? 'Imaging study'].filter(Boolean).join(' ');
  return {
    anchor: keyOf(study),
    time: firstTime(study.started) ?? (report ? reportTime(report) : lastUpdatedOf(study)),
    lane: LANES.imaging,
    title,
    summary: [counts, conclusion && `report: ${conclusion}`].filter(Boolean).join('; '),
    abnormal: results.some((o) => isAbnormalFlag(observationFlag(o))),
    status: report ? eventStatus(report) : eventStatus(study),
    refs: unique([keyOf(study), ...reports.map(keyOf), ...reports.flatMap((r) => (r.result ?? []).map(refKey))]),
    codes: codeTokens(study.procedureCode, ...reports.map((r) => r.code)).concat(modalities.map((m) => `modality:${m}`)),
    lastUpdated: maxDate([study, ...reports]),
    ...(conclusion ? { text: conclusion } : {}),
  };
}

/** A lone observation (not a result of a report in the record). */
export function observationEvent(obs: Observation): EventDraft {
  const cats = codeTokens(obs.category);
  const lane = cats.includes('laboratory') ? LANES.lab : cats.includes('imaging') ? LANES.imaging : LANES.other;
  return {
    anchor: keyOf(obs),
    time: firstTime(obs.effectiveDateTime, obs.effectivePeriod?.start, obs.effectiveInstant, obs.issued) ?? lastUpdatedOf(obs),
    lane,
    title: conceptText(obs.code) ?? 'Observation',
    summary: observationLine(obs),
    abnormal: isAbnormalFlag(observationFlag(obs)),
    status: eventStatus(obs),
    refs: unique([keyOf(obs), ...(obs.hasMember ?? []).map(refKey)]),
    codes: codeTokens(obs.code),
    lastUpdated: lastUpdatedOf(obs),
  };
}

/** A letter or other document. */
export function documentEvent(doc: DocumentReference): EventDraft {
  const attachment = doc.content?.[0]?.attachment;
  const author = doc.author?.map((a) => a.display).filter(Boolean).join(', ');
  return {
    anchor: keyOf(doc),
    time: firstTime(doc.date, doc.context?.period?.start, attachment?.creation) ?? lastUpdatedOf(doc),
    lane: LANES.document,
    title: conceptText(doc.type) ?? doc.description ?? attachment?.title ?? 'Document',
    summary: [conceptText(doc.category?.[0]), doc.description ?? attachment?.title, author].filter(Boolean).join(' · '),
    abnormal: false,
    status: eventStatus(doc),
    refs: [keyOf(doc)],
    codes: codeTokens(doc.type, doc.category),
    lastUpdated: lastUpdatedOf(doc),
    ...(doc.description ? { text: doc.description } : {}),
  };
}

/** A diagnosis (Condition). */
export function conditionEvent(c: Condition): EventDraft {
  const stage = c.stage?.map((s) => conceptText(s.summary)).filter(Boolean).join(', ');
  return {
    anchor: keyOf(c),
    time: firstTime(c.onsetDateTime, c.onsetPeriod?.start, c.recordedDate) ?? lastUpdatedOf(c),
    lane: LANES.diagnosis,
    title: conceptText(c.code) ?? 'Diagnosis',
    summary: [conceptText(c.clinicalStatus), conceptText(c.verificationStatus), stage && `stage ${stage}`, conceptText(c.bodySite?.[0])].filter(Boolean).join('; '),
    abnormal: false,
    status: eventStatus(c),
    refs: [keyOf(c)],
    codes: codeTokens(c.code, c.category),
    lastUpdated: lastUpdatedOf(c),
  };
}

/** The fields of procedures, medications, immunisations, encounters and care plans the timeline reads. */
interface OtherFields {
  code?: CodeableConcept;
  type?: CodeableConcept[];
  class?: Coding;
  serviceType?: CodeableConcept;
  reasonCode?: CodeableConcept[];
  bodySite?: CodeableConcept[];
  outcome?: CodeableConcept;
  medicationCodeableConcept?: CodeableConcept;
  medicationReference?: Reference;
  vaccineCode?: CodeableConcept;
  dosage?: { text?: string }[] | { text?: string };
  title?: string;
  description?: string;
  period?: Period;
  performedDateTime?: string;
  performedPeriod?: Period;
  effectiveDateTime?: string;
  effectivePeriod?: Period;
  authoredOn?: string;
  dateAsserted?: string;
  occurrenceDateTime?: string;
  created?: string;
  sent?: string;
  summary?: string;
  date?: string;
  note?: { text?: string }[];
}

/** A procedure, medication or immunisation (treatment lane), an encounter, or a care plan / risk assessment / communication (other). */
export function treatmentOrEncounterEvent(r: Resource): EventDraft | undefined {
  const x = r as unknown as OtherFields;
  let lane: Lane = LANES.treatment;
  let title: string | undefined;
  let summary = '';
  let time: Date | undefined;
  switch (r.resourceType) {
    case 'Procedure':
      title = conceptText(x.code);
      summary = [conceptText(x.bodySite?.[0]), conceptText(x.outcome)].filter(Boolean).join('; ');
      time = firstTime(x.performedDateTime, x.performedPeriod?.start);
      break;
    case 'MedicationStatement':
    case 'MedicationAdministration':
    case 'MedicationRequest':
      title = conceptText(x.medicationCodeableConcept) ?? x.medicationReference?.display;
      summary = [x.dosage].flat()[0]?.text ?? '';
      time = firstTime(x.effectiveDateTime, x.effectivePeriod?.start, x.authoredOn, x.dateAsserted);
      break;
    case 'Immunization':
      title = conceptText(x.vaccineCode);
      time = firstTime(x.occurrenceDateTime);
      break;
    case 'Encounter':
      lane = LANES.encounter;
      title = conceptText(x.type?.[0]) ?? x.class?.display ?? x.class?.code;
      summary = [x.class?.code, conceptText(x.serviceType), conceptText(x.reasonCode?.[0]), x.period?.end && `until ${x.period.end}`].filter(Boolean).join('; ');
      time = firstTime(x.period?.start);
      break;
    case 'RiskAssessment':
      return modelEvent(r as RiskAssessment);
    case 'ClinicalImpression':
      // A tumour board's decision (fhir/tumour-board.ts): decision, then recommendation and intent (its notes).
      lane = LANES.decision;
      title = conceptText(x.code) ?? 'Clinical impression';
      summary = [x.summary, ...(x.note ?? []).map((n) => n.text)].filter(Boolean).join('; ');
      time = firstTime(x.effectiveDateTime, x.date);
      break;
    case 'CarePlan':
    case 'Communication':
      lane = LANES.other;
      title = x.title ?? conceptText(x.code) ?? r.resourceType;
      summary = x.description ?? '';
      time = firstTime(x.created, x.occurrenceDateTime, x.sent);
      break;
    default:
      return undefined;
  }
  return {
    anchor: keyOf(r),
    time: time ?? lastUpdatedOf(r),
    lane,
    title: title ?? r.resourceType,
    summary,
    abnormal: false,
    status: eventStatus(r),
    refs: [keyOf(r)],
    codes: codeTokens(x.code, x.medicationCodeableConcept, x.vaccineCode, x.type),
    lastUpdated: lastUpdatedOf(r),
  };
}

/**
 * A model's result (the write-back contract, docs/model-results.md): a RiskAssessment whose
 * performer is the model's Device. Its own lane, titled with the prediction and score, the model
 * named in the summary — never shown as a clinician's finding. A RiskAssessment by a person stays
 * in the "other" lane.
 */
function modelEvent(r: RiskAssessment): EventDraft {
  const byModel = r.performer?.reference?.startsWith('Device/') === true;
  const prediction = r.prediction?.[0];
  const outcome = conceptText(prediction?.outcome) ?? conceptText(r.code) ?? 'Risk assessment';
  const score = prediction?.probabilityDecimal !== undefined ? `${Math.round(prediction.probabilityDecimal * 1000) / 10}%` : conceptText(prediction?.qualitativeRisk);
  const model = r.performer?.display ?? conceptText(r.method);
  return {
    anchor: keyOf(r),
    time: firstTime(r.occurrenceDateTime, r.occurrencePeriod?.start) ?? lastUpdatedOf(r),
    lane: byModel ? LANES.model : LANES.other,
    title: score ? `${outcome}: ${score}` : outcome,
    summary: [byModel ? `model result${model ? ` (${model})` : ''}, not a clinician's finding` : model, r.status !== 'final' ? r.status : undefined, r.note?.[0]?.text].filter(Boolean).join('; '),
    abnormal: false,
    status: eventStatus(r),
    refs: [keyOf(r)],
    codes: codeTokens(r.code, prediction?.outcome, r.method),
    lastUpdated: lastUpdatedOf(r),
  };
}

function unique(values: (string | undefined)[]): string[] {
  return [...new Set(values.filter((v): v is string => !!v))];
}
