import { addDays, addMinutes, atTime, hl7DateTime, type WallTime } from './clock.ts';
import { type Field, message, segment } from './hl7-writer.ts';
import { mshFor, PATHOLOGY_SENDER, pidFor, pv1For, xcn } from './header-segments.ts';
import { breastReports } from './pathology-breast.ts';
import { PATHOLOGY_SERVICE, pad, REPORT_SECTIONS, type Report, type ReportTimes, type SectionKey } from './pathology-codes.ts';
import { colorectalReports } from './pathology-colorectal.ts';
import { DEFAULT_SEED, fromIsoDate, type SeedPatient } from './patients.ts';
import { deriveRng, type Rng } from './random.ts';

export { REPORT_SECTIONS, SYNOPTIC_ITEMS } from './pathology-codes.ts';

/** Options for {@link pathologyMessages}. */
export interface PathologyOptions {
  /** Base seed (default: the patient's own seed). */
  seed?: number;
}

/** A working day `days` after `t`, at a random afternoon time. */
function reportTime(rng: Rng, t: WallTime, days: number): WallTime {
  let d = addDays(t, days);
  const dow = new Date(d).getUTCDay();
  if (dow === 6) d = addDays(d, 2);
  if (dow === 0) d = addDays(d, 1);
  return atTime(d, rng.int(13, 16), rng.int(0, 59), rng.int(0, 59));
}


function reportTimes(patient: SeedPatient, rng: Rng): ReportTimes {
  const yy = patient.pathway.biopsy.slice(2, 4);
  const filler = (n: number): string => `T${yy}-${pad(patient.index * 10 + n, 5)}`;
  const biopsy = atTime(fromIsoDate(patient.pathway.biopsy), rng.int(9, 12), rng.int(0, 59), rng.int(0, 59));
  const surgery = atTime(fromIsoDate(patient.pathway.surgery), rng.int(9, 13), rng.int(0, 59), rng.int(0, 59));
  return {
    biopsy,
    biopsyFiller: filler(1),
    biopsyReport: {
      filler: filler(1),
      placer: `HIXPA${pad(patient.index, 3)}1`,
      collectedAt: biopsy,
      receivedAt: addMinutes(biopsy, rng.int(60, 150)),
      reportedAt: reportTime(rng, biopsy, rng.int(2, 3)),
    },
    resectionReport: {
      filler: filler(2),
      placer: `HIXPA${pad(patient.index, 3)}2`,
      collectedAt: surgery,
      receivedAt: addMinutes(surgery, rng.int(40, 120)),
      reportedAt: reportTime(rng, surgery, rng.int(6, 8)),
    },
  };
}

function render(patient: SeedPatient, report: Report, sentAt: WallTime, controlId: string): string {
  const placer = [report.placer, 'HIX'];
  const filler = [report.filler, 'UMCX_PA'];
  const observedAt = hl7DateTime(report.collectedAt);
  const segments = [
    mshFor(PATHOLOGY_SENDER, sentAt, controlId),
    pidFor(patient),
    pv1For(report.inpatient ? 'I' : 'O', report.pointOfCare, report.inpatient ? patient.surgeon : patient.oncologist),
    segment('ORC', ['RE', placer, filler, '', 'CM', '', '', '', hl7DateTime(report.reportedAt), '', '', xcn(report.inpatient ? patient.surgeon : patient.oncologist)]),
    segment('OBR', [
      '1', placer, filler, PATHOLOGY_SERVICE, '', '', observedAt, // OBR-1..7
      '', '', '', '', '', '', // OBR-8..13
      hl7DateTime(report.receivedAt), '', // OBR-14..15
      xcn(report.inpatient ? patient.surgeon : patient.oncologist), // OBR-16
      '', '', '', '', '', // OBR-17..21
      hl7DateTime(report.reportedAt), '', 'SP', 'F', // OBR-22..25
    ]),
  ];
  let setId = 0;
  const obx = (valueType: string, id: Field, subId: string, value: Field, unit: Field = ''): void => {
    setId++;
    segments.push(segment('OBX', [String(setId), valueType, id, subId, value, unit, '', '', '', '', 'F', '', '', observedAt, '', [patient.pathologist.id, patient.pathologist.family, patient.pathologist.initials]]));
  };
  for (const key of Object.keys(REPORT_SECTIONS) as SectionKey[]) {
    report.sections[key].forEach((line, i) => obx('TX', REPORT_SECTIONS[key], String(i + 1), line));
  }
  for (const item of report.items) obx(item.valueType, item.id, '', item.value, item.unit);
  segments.push(
    segment('SPM', [
      '1', ['', [`${report.filler}-A`, 'UMCX_PA']], '', report.specimen.type, // SPM-1..4 (SPM-2.2: filler-assigned id with its namespace)
      '', '', '', report.specimen.site, // SPM-5..8
      '', '', '', '', '', report.specimen.description, // SPM-9..14
      '', '', hl7DateTime(report.collectedAt), hl7DateTime(report.receivedAt), // SPM-15..18
    ]),
  );
  return message(segments);
}

/** The report texts and coded items of a patient, before encoding (for tests and other seeds). */
export function pathologyReports(patient: SeedPatient, opts: PathologyOptions = {}): Report[] {
  const rng = deriveRng(opts.seed ?? patient.seed ?? DEFAULT_SEED, 'pathology', patient.index);
  const times = reportTimes(patient, rng);
  return patient.tumour.kind === 'breast' ? breastReports(patient, patient.tumour, rng, times) : colorectalReports(patient, patient.tumour, rng, times);
}

/**
 * ORU^R01 pathology messages of the patient: the diagnostic biopsy and the resection report, each
 * with narrative sections as TX lines, the diagnosis coded in ICD-O-3 and SNOMED CT, synoptic items
 * (receptors, grade, size, margins, nodes, TNM) and an SPM with the specimen.
 */
export function pathologyMessages(patient: SeedPatient, opts: PathologyOptions = {}): string[] {
  return pathologyReports(patient, opts).map((report, i) =>
    render(patient, report, addMinutes(report.reportedAt, 1), `PA${pad(patient.index, 3)}${pad(i + 1, 4)}`),
  );
}

export type { Report as PathologyReport };
