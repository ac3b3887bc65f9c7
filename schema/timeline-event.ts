/**
 * The timeline model: one event per clinically meaningful item of a patient's record (a lab panel
 * with its results, a lone observation, an imaging study with its report, a pathology report, a
 * letter, a diagnosis, a treatment, an encounter). Events are derived from FHIR resources by the
 * pure functions in timeline-map.ts and kept in the `timeline` collection (timeline-store.ts).
 */

/** The lanes of the timeline, one per kind of source. */
export const LANES = {
  lab: 'lab',
  imaging: 'imaging',
  pathology: 'pathology',
  document: 'document',
  diagnosis: 'diagnosis',
  treatment: 'treatment',
  encounter: 'encounter',
  /** Results of models (RiskAssessment by a Device): never mixed with clinicians' findings. */
  model: 'model',
  /** A tumour board's decision and recommendation (a ClinicalImpression, docs/tumour-board.md). */
  decision: 'decision',
  other: 'other',
} as const;
export type Lane = (typeof LANES)[keyof typeof LANES];

/** The statuses an event can have (FHIR statuses of every type folded onto these). */
export const EVENT_STATUS = {
  preliminary: 'preliminary',
  final: 'final',
  corrected: 'corrected',
  cancelled: 'cancelled',
  enteredInError: 'entered-in-error',
  unknown: 'unknown',
} as const;
export type EventStatus = (typeof EVENT_STATUS)[keyof typeof EVENT_STATUS];

/** Where the data of an event came from, from the latest Provenance naming one of its resources. */
export interface EventSource {
  /** Provenance.activity.text, e.g. the adapter's message label ("lab", "pathology"). */
  activity?: string;
  /** The inbox id of the raw input the resources were produced from. */
  inboxId?: string;
  /** "Provenance/id". */
  provenance?: string;
  /** The agent, e.g. "IDR ingestion, adapter hl7v2@1". */
  agent?: string;
  recorded?: string;
}

/** One event of a patient's timeline. */
export interface TimelineEvent {
  /** "Type/id" of the resource the event stands for (a report, a study, a letter…). */
  anchor: string;
  /** The clinically relevant time (collection, study start, document date…). */
  time: Date;
  lane: Lane;
  title: string;
  /** One line with values and units, e.g. "Hb 6.2 mmol/L (L), WBC 3.1 10*9/L (L)". */
  summary: string;
  abnormal: boolean;
  status: EventStatus;
  /** Every "Type/id" the event stands for, the anchor first (results, linked report…). */
  refs: string[];
  /** Codes of the anchor and its members as "system|code" and "code". */
  codes: string[];
  source?: EventSource;
  /** The latest meta.lastUpdated of the resources in the event. */
  lastUpdated: Date;
}

/** An event as stored: `_id` = "<patient id>|<anchor>", deterministic, so projection is an upsert. */
export interface TimelineDoc extends TimelineEvent {
  _id: string;
  patient: string;
  /** Lower-cased, accent-free title, summary and conclusion for `text` filtering. */
  text: string;
  /**
   * "<patient id>|<YYYY-MM>" of `time` (UTC): the month bucket a page reads on the embedded store,
   * whose index serves equality only (absent on events written before it existed).
   */
  pm?: string;
}

/** The key of a stored event. */
export function timelineDocId(patient: string, anchor: string): string {
  return `${patient}|${anchor}`;
}

/** The month (UTC) an event falls in: "2025-03". */
export function eventMonth(time: Date): string {
  return new Date(time).toISOString().slice(0, 7);
}

/** The month bucket key of a patient's event. */
export function monthBucket(patient: string, time: Date): string {
  return `${patient}|${eventMonth(time)}`;
}

/** Which months a patient's timeline has events in; `complete` when every event carries its bucket. */
export interface TimelineMonthsDoc {
  _id: string;
  months: string[];
  complete: boolean;
  /** About how many events the timeline holds (exact after a rebuild; kept by increments since). */
  events: number;
  /**
   * Changes with every write that re-derives anything of the patient (a new random value each
   * time): what was read for the patient under one stamp is current while the stamp is
   * (timeline/summary-cache.ts). Absent on lists written before stamps existed.
   */
  stamp?: string;
}
