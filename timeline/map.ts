import type { DiagnosticReport, ImagingStudy, Observation, Provenance, Resource } from '@medplum/fhirtypes';
import type { EventSource, TimelineEvent } from '../schema/timeline-event.ts';
import {
  conditionEvent, documentEvent, imagingEvent, keyOf, observationEvent, refKey, reportEvent, reportKind, treatmentOrEncounterEvent,
  type EventDraft,
} from './events.ts';
import { normalizeString } from '../schema/search-index.ts';

/**
 * Builds timeline events from a bag of resources (pure). Observations that are results (or
 * members) of another resource in the bag are folded into that event; a radiology report linked
 * to an ImagingStudy in the bag is folded into the study's event; entered-in-error events are
 * left out. The same function serves materialisation (on a small bag around written resources)
 * and compute-on-read (on a patient's whole record).
 */

/** The resource types that can anchor an event. */
export const EVENT_TYPES = [
  'DiagnosticReport', 'Observation', 'ImagingStudy', 'DocumentReference', 'Condition', 'Procedure', 'MedicationStatement',
  'MedicationAdministration', 'MedicationRequest', 'Immunization', 'Encounter', 'CarePlan', 'RiskAssessment', 'Communication', 'ClinicalImpression',
] as const;

/** An event with its searchable text. */
export interface BuiltEvent extends TimelineEvent {
  text: string;
}

/** Maps a bag of resources (and the Provenance naming them) to timeline events. */
export function buildTimelineEvents(resources: Resource[], provenance: Provenance[] = []): BuiltEvent[] {
  const byKey = new Map(resources.map((r) => [keyOf(r), r]));
  const members = new Set<string>();
  const studyReports = new Map<string, DiagnosticReport[]>();
  for (const r of resources) {
    if (r.resourceType === 'DiagnosticReport') {
      for (const ref of r.result ?? []) addKey(members, refKey(ref));
      if (reportKind(r) === 'radiology') {
        for (const s of r.imagingStudy ?? []) {
          const k = refKey(s);
          if (k && byKey.get(k)?.resourceType === 'ImagingStudy') {
            studyReports.set(k, [...(studyReports.get(k) ?? []), r]);
            members.add(keyOf(r));
          }
        }
      }
    } else if (r.resourceType === 'Observation') {
      for (const ref of r.hasMember ?? []) addKey(members, refKey(ref));
    }
  }
  const observations = (refs: DiagnosticReport['result']): Observation[] =>
    (refs ?? []).map((ref) => byKey.get(refKey(ref) ?? '')).filter((o): o is Observation => o?.resourceType === 'Observation');
  const sources = latestSources(provenance);

  const out: BuiltEvent[] = [];
  for (const r of resources) {
    const key = keyOf(r);
    if (members.has(key)) continue;
    let draft: EventDraft | undefined;
    switch (r.resourceType) {
      case 'DiagnosticReport':
        draft = reportEvent(r, observations(r.result));
        break;
      case 'ImagingStudy': {
        const reports = studyReports.get(key) ?? [];
        draft = imagingEvent(r as ImagingStudy, reports, reports.flatMap((d) => observations(d.result)));
        break;
      }
      case 'Observation':
        draft = observationEvent(r);
        break;
      case 'DocumentReference':
        draft = r.status === 'superseded' ? undefined : documentEvent(r);
        break;
      case 'Condition':
        draft = conditionEvent(r);
        break;
      default:
        draft = treatmentOrEncounterEvent(r);
    }
    if (!draft || draft.status === 'entered-in-error') continue;
    out.push(finish(draft, sources));
  }
  return out;
}

/** Newest first, then by anchor descending: the timeline's one order (keyset paging relies on it). */
export function compareEvents(a: Pick<TimelineEvent, 'time' | 'anchor'>, b: Pick<TimelineEvent, 'time' | 'anchor'>): number {
  return b.time.getTime() - a.time.getTime() || (a.anchor < b.anchor ? 1 : a.anchor > b.anchor ? -1 : 0);
}

function finish(d: EventDraft, sources: Map<string, EventSource>): BuiltEvent {
  const source = d.refs.map((k) => sources.get(k)).filter((s): s is EventSource => !!s).sort((a, b) => (b.recorded ?? '').localeCompare(a.recorded ?? ''))[0];
  const { text, ...event } = d;
  return { ...event, ...(source ? { source } : {}), text: normalizeString([d.title, d.summary, text].filter(Boolean).join(' \n ')) };
}

function latestSources(provenance: Provenance[]): Map<string, EventSource> {
  const out = new Map<string, EventSource>();
  for (const p of provenance) {
    const src = p.entity?.find((e) => e.role === 'source')?.what;
    const source: EventSource = {
      ...(p.activity?.text ? { activity: p.activity.text } : {}),
      ...(src?.identifier?.value ? { inboxId: src.identifier.value } : {}),
      ...(p.id ? { provenance: `Provenance/${p.id}` } : {}),
      ...(p.agent?.[0]?.who?.display ? { agent: p.agent[0].who.display } : {}),
      ...(p.recorded ? { recorded: p.recorded } : {}),
    };
    for (const t of p.target ?? []) {
      const k = refKey(t);
      if (!k) continue;
      const prev = out.get(k);
      if (!prev || (prev.recorded ?? '') < (source.recorded ?? '')) out.set(k, source);
    }
  }
  return out;
}

function addKey(set: Set<string>, key: string | undefined): void {
  if (key) set.add(key);
}
