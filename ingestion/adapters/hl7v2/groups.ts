import { AdapterError } from '../types.ts';
import type { Segment } from './segment.ts';

/** A PID and what belongs to it. */
export interface PatientGroup {
  pid: Segment;
  /** NTE segments directly after PID. */
  notes: Segment[];
  /** OBX after PID and before any OBR (v2.7+ PATIENT_OBSERVATION; some 2.5.1 senders send it too). */
  observations: ResultItem[];
}

/** One OBX with the NTE segments that follow it and the SPM it sits under, if any. */
export interface ResultItem {
  obx: Segment;
  notes: Segment[];
  specimen?: SpecimenItem;
}

/** One SPM with its NTE segments. */
export interface SpecimenItem {
  spm: Segment;
  notes: Segment[];
}

/** An ORU^R01 order group: ORC (optional), OBR, its notes, observations and specimens. */
export interface OrderGroup {
  patient: PatientGroup;
  orc?: Segment;
  obr: Segment;
  notes: Segment[];
  results: ResultItem[];
  specimens: SpecimenItem[];
}

/** Segments that carry nothing this adapter maps (kept in the raw message); listed so they are skipped knowingly. */
const IGNORED = new Set(['SFT', 'EVN', 'PD1', 'NK1', 'PV1', 'PV2', 'TQ1', 'TQ2', 'CTD', 'CTI', 'FT1', 'PRT', 'DSC', 'SAC', 'INV', 'TXA', 'ROL', 'AL1', 'DG1']);

/**
 * Groups the segments of an ORU^R01 (v2.3 to 2.5.1, and later versions read the same way): PID
 * starts a patient (PATIENT_RESULT), ORC/OBR an order (ORDER_OBSERVATION), OBX/NTE/SPM belong to
 * the order they follow; OBX between PID and the first OBR are the patient's own observations.
 * Several orders may carry the same order number (see orderIdentity). Z-segments and the
 * segments in IGNORED (TQ1, CTD, PV1...) are skipped.
 */
export function groupSegments(segments: Segment[], warnings: string[]): OrderGroup[] {
  const groups: OrderGroup[] = [];
  let patient: PatientGroup | undefined;
  let pendingOrc: Segment | undefined;
  let group: OrderGroup | undefined;
  let specimen: SpecimenItem | undefined;
  // Where the next NTE goes.
  let notes: Segment[] | undefined;
  for (const seg of segments.slice(1)) {
    switch (seg.name) {
      case 'MSH':
        throw new AdapterError(seg.label, 'a second MSH inside one message (split batches first)');
      case 'PID':
        patient = { pid: seg, notes: [], observations: [] };
        notes = patient.notes;
        group = undefined;
        pendingOrc = undefined;
        break;
      case 'ORC':
        pendingOrc = seg;
        notes = undefined;
        break;
      case 'OBR':
        if (!patient) throw new AdapterError(seg.label, 'OBR before any PID: an ORU^R01 result needs its patient');
        group = { patient, obr: seg, notes: [], results: [], specimens: [], ...(pendingOrc ? { orc: pendingOrc } : {}) };
        groups.push(group);
        pendingOrc = undefined;
        specimen = undefined;
        notes = group.notes;
        break;
      case 'OBX': {
        if (!patient) throw new AdapterError(seg.label, 'OBX before any PID: an ORU^R01 result needs its patient');
        const item: ResultItem = { obx: seg, notes: [], ...(group && specimen ? { specimen } : {}) };
        (group ? group.results : patient.observations).push(item);
        notes = item.notes;
        break;
      }
      case 'SPM':
        if (!group) throw new AdapterError(seg.label, 'SPM outside an order group (no OBR before it)');
        specimen = { spm: seg, notes: [] };
        group.specimens.push(specimen);
        notes = specimen.notes;
        break;
      case 'NTE':
        if (notes) notes.push(seg);
        else warnings.push(`${seg.label}: note not attached to a PID, OBR, OBX or SPM; not mapped`);
        break;
      default:
        if (!IGNORED.has(seg.name) && !seg.name.startsWith('Z')) warnings.push(`${seg.label}: segment not part of ORU^R01 mapping; skipped`);
        if (seg.name !== 'PRT') notes = undefined;
    }
  }
  if (!patient) throw new AdapterError('PID', 'PID segment missing: an ORU^R01 result needs its patient');
  if (groups.length === 0) throw new AdapterError('OBR', 'no OBR segment: an ORU^R01 carries at least one order group');
  return groups;
}
