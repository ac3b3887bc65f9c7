import type { Attachment, Bundle, DiagnosticReport, Extension, Observation, Patient, Reference, Specimen } from '@medplum/fhirtypes';
import { AdapterError, type AdapterContext, type AdapterOutput } from '../types.ts';
import { EntryCollector, identifierValue } from './bundle.ts';
import { codeableConcept } from './codes.ts';
import { EXTENSIONS, IDR_SYSTEMS, NEWER_VERSIONS, SUPPORTED_VERSIONS } from './constants.ts';
import { DateConverter } from './dates.ts';
import { groupSegments, type OrderGroup, type PatientGroup, type ResultItem } from './groups.ts';
import { mapObservation, obxCode, type ObservationContext } from './observation.ts';
import { patientScope } from './patient-scope.ts';
import { resolveOptions, type Hl7v2AdapterOptions, type ResolvedHl7v2Options } from './options.ts';
import { parseMessage } from './parse.ts';
import { buildPathology, isNarrative } from './pathology.ts';
import { mapPatient } from './patient.ts';
import { interpreterRefs } from './performers.ts';
import { observationCategory, orderIdentity, reportCategories, reportKind, reportStatus, type ReportKind } from './report.ts';
import type { Segment } from './segment.ts';
import { mapObr15, mapSpm, noteOf } from './specimen.ts';
import { mapObxValue } from './values.ts';

const converters = new Map<string, DateConverter>();

/** Checks MSH-9: only ORU^R01 is accepted; everything else is refused with what it is. */
function checkMessageType(msh: Segment, warnings: string[]): void {
  const type = msh.get(9, 1).toUpperCase();
  const trigger = msh.get(9, 2).toUpperCase();
  const label = trigger ? `${type}^${trigger}` : type;
  if (!type) throw new AdapterError(msh.loc(9), 'message type missing (ORU^R01 expected)');
  if (type === 'ORU' && trigger === 'R01') return;
  if (type === 'ORU' && !trigger) {
    warnings.push(`${msh.loc(9)}: trigger event missing; read as ORU^R01`);
    return;
  }
  if (type === 'ORU' || type === 'OUL') {
    throw new AdapterError(msh.loc(9), `${label} is not supported: only ORU^R01 lab and pathology results are mapped`);
  }
  throw new AdapterError(msh.loc(9), `${label} is not a lab or pathology result (ORU^R01 expected)`);
}

/** Checks MSH-12: 2.3 to 2.5.1; later 2.x accepted with a warning when the option allows it. */
function checkVersion(msh: Segment, options: ResolvedHl7v2Options, warnings: string[]): void {
  const version = msh.get(12, 1);
  if (SUPPORTED_VERSIONS.includes(version)) return;
  if (NEWER_VERSIONS.includes(version) && options.acceptNewerVersions) {
    warnings.push(`${msh.loc(12)}: version ${version} mapped with the 2.5.1 rules`);
    return;
  }
  const got = version ? `version ${JSON.stringify(version)}` : 'no version';
  throw new AdapterError(msh.loc(12), `${got}; HL7 v2.3 to 2.5.1 expected${options.acceptNewerVersions ? ' (2.6 to 2.9 accepted)' : ''}`);
}

/**
 * Maps one HL7 v2 ORU^R01 message (lab results and anatomic pathology reports, v2.3 to 2.5.1)
 * to a FHIR R4 transaction Bundle of conditional updates. Throws AdapterError for refused input.
 */
export function oruToBundle(raw: string, ctx: AdapterContext, options?: Hl7v2AdapterOptions): AdapterOutput {
  const opts = resolveOptions(options);
  const warnings: string[] = [];
  const { segments, msh } = parseMessage(raw, warnings);
  checkMessageType(msh, warnings);
  checkVersion(msh, opts, warnings);
  let dates = converters.get(opts.defaultTimezone);
  if (!dates) converters.set(opts.defaultTimezone, (dates = new DateConverter(opts.defaultTimezone)));
  const groups = groupSegments(segments, warnings);

  const entries = new EntryCollector(ctx);
  const patients = new Map<PatientGroup, MappedSubject>();
  const seen = new Map<string, number>();
  const occurrences = new Map<string, number>();
  for (const p of patientGroups(groups)) {
    const { patient, key } = mapPatient(p.pid, ctx, dates);
    const subject = { ref: entries.add(patient, key), scope: patientScope(key) };
    patients.set(p, subject);
    for (const nte of p.notes) warnings.push(`${nte.label}: patient note not mapped`);
    mapPatientObservations(p, subject, msh, entries, { dates, warnings, seen });
  }
  const kinds = new Set<ReportKind>();
  for (const g of groups) {
    kinds.add(mapGroup(g, msh, patients.get(g.patient) as MappedSubject, { entries, dates, opts, warnings, seen, occurrences }));
  }

  const controlId = msh.get(10);
  const bundle: Bundle = {
    resourceType: 'Bundle',
    ...(controlId ? { identifier: { system: IDR_SYSTEMS.messageControlId, value: identifierValue(msh.get(3, 1), controlId) } } : {}),
    type: 'transaction',
    timestamp: ctx.now().toISOString(),
    entry: entries.entries,
  };
  return { bundle, kind: `ORU^R01 ${[...kinds].sort().join('+')}`, warnings };
}

/** A mapped patient: the reference to its entry and the scope of the identifiers derived for it. */
interface MappedSubject {
  ref: Reference<Patient>;
  scope: string;
}

interface GroupContext {
  entries: EntryCollector;
  dates: DateConverter;
  opts: ResolvedHl7v2Options;
  warnings: string[];
  /** Observation identity stems used so far in the message. */
  seen: Map<string, number>;
  /** Report identity stems used so far in the message. */
  occurrences: Map<string, number>;
}

/** The patients of the order groups, each once, in message order. */
function patientGroups(groups: OrderGroup[]): PatientGroup[] {
  return [...new Set(groups.map((g) => g.patient))];
}

/**
 * OBX after PID and before any OBR: Observations of the patient without a report, identified by
 * the message (`<scope>/message/<MSH-3>/<MSH-10>`), so a resent message updates them. An OBX
 * without OBX-3 cannot be identified: not mapped, with a warning (the raw message keeps it).
 */
function mapPatientObservations(p: PatientGroup, subject: MappedSubject, msh: Segment, entries: EntryCollector, c: Pick<GroupContext, 'dates' | 'warnings' | 'seen'>): void {
  if (!p.observations.length) return;
  const orderValue = identifierValue(subject.scope, 'message', msh.get(3, 1), msh.get(10) || msh.get(7));
  const octx: ObservationContext = {
    subject: subject.ref, orderValue, category: observationCategory('lab'), orderEffective: undefined, orderStatus: '',
    dates: c.dates, warnings: c.warnings, seen: c.seen,
  };
  for (const item of p.observations) {
    if (!obxCode(item)) {
      c.warnings.push(`${item.obx.label}: observation outside an order group without OBX-3; not mapped`);
      continue;
    }
    const mapped = mapObservation(item, octx);
    entries.add(mapped.observation, mapped.key);
  }
}

/** Maps one order group to its Specimens, Observations and DiagnosticReport; returns the report kind. */
function mapGroup(g: OrderGroup, msh: Segment, patient: MappedSubject, c: GroupContext): ReportKind {
  const { obr } = g;
  const { entries, dates, warnings } = c;
  const subject = patient.ref;
  const identity = orderIdentity(g, msh, patient.scope, c.occurrences);
  const orderValue = identity.key.value as string;
  const code = codeableConcept(obr, 4);
  if (!code) throw new AdapterError(obr.loc(4), 'universal service identifier missing (OBR-4 needs a code)');
  const kind = reportKind(obr, c.opts);

  const specimenRefs = new Map<object, Reference<Specimen>>();
  g.specimens.forEach((item, i) => {
    const { specimen, key } = mapSpm(item, i + 1, orderValue, patient.scope, msh.get(3, 1), subject, dates);
    specimenRefs.set(item, entries.add(specimen, key));
  });
  if (g.specimens.length === 0) {
    const s = mapObr15(obr, orderValue, subject, dates);
    if (s) specimenRefs.set(obr, entries.add(s.specimen, s.key));
  }
  const effective =
    dates.dateTime(obr.get(7), obr.loc(7)) ??
    dates.dateTime(obr.get(8), obr.loc(8)) ??
    (g.specimens[0] ? dates.dateTime(g.specimens[0].spm.get(17, 1), g.specimens[0].spm.loc(17)) : undefined);

  const octx: ObservationContext = {
    subject, orderValue, category: observationCategory(kind), orderEffective: effective, orderStatus: obr.get(25),
    dates, warnings, seen: c.seen,
  };
  const defaultSpecimen = specimenRefs.get(obr) ?? (g.specimens.length === 1 ? specimenRefs.get(g.specimens[0] as object) : undefined);
  const observations: Observation[] = [];
  const results: Reference<Observation>[] = [];
  const narrative: ResultItem[] = [];
  const attachments: Attachment[] = [];
  for (const item of g.results) {
    if (kind === 'pathology' && isNarrative(item)) {
      narrative.push(item);
      continue;
    }
    if (kind === 'pathology' && item.obx.get(2).toUpperCase() === 'ED') {
      attachments.push(...(mapObxValue(item.obx, 'ED', {}, octx).attachments ?? []));
      continue;
    }
    const specimen = item.specimen ? specimenRefs.get(item.specimen) : defaultSpecimen;
    const mapped = mapObservation(item, specimen ? { ...octx, specimen } : octx);
    observations.push(mapped.observation);
    results.push(entries.add(mapped.observation, mapped.key));
  }

  const report: DiagnosticReport = {
    resourceType: 'DiagnosticReport',
    identifier: identity.identifiers,
    status: reportStatus(obr, observations, warnings),
    category: reportCategories(kind, obr),
    code,
    subject,
  };
  if (effective) report.effectiveDateTime = effective;
  const issued = dates.instant(obr.get(22), obr.loc(22));
  if (issued) report.issued = issued;
  const interpreters = interpreterRefs(obr, 32);
  const performers = [...interpreters, ...interpreterRefs(obr, 34)];
  if (performers.length) report.performer = performers;
  if (interpreters.length) report.resultsInterpreter = interpreters;
  const specimens = [...new Set(specimenRefs.values())];
  if (specimens.length) report.specimen = specimens;
  if (results.length) report.result = results;
  const notes = reportNotes(g);
  if (notes.length) report.extension = notes;
  if (kind === 'pathology') {
    const title = [code.text ?? code.coding?.[0]?.code, identity.identifiers[1]?.value].filter(Boolean).join(' — ');
    const parts = buildPathology(title, narrative, g.notes, observations, attachments, issued);
    report.presentedForm = parts.presentedForm;
    if (parts.conclusion) report.conclusion = parts.conclusion;
    if (parts.conclusionCode) report.conclusionCode = parts.conclusionCode;
  }
  entries.add(report, identity.key);
  return kind;
}

/** NTE after OBR and OBR-13 (relevant clinical information) as R5 DiagnosticReport.note extensions. */
function reportNotes(g: OrderGroup): Extension[] {
  const notes = g.notes.flatMap(noteOf);
  const clinical = g.obr.texts(13).join('\n').trim();
  if (clinical) notes.unshift({ text: `Relevant clinical information: ${clinical}` });
  return notes.map((n) => ({ url: EXTENSIONS.reportNoteR5, valueAnnotation: n }));
}
