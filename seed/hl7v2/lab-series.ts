import { addDays, addMinutes, atTime, hl7DateTime, type WallTime } from './clock.ts';
import { type Field, message, segment } from './hl7-writer.ts';
import { LAB_SENDER, mshFor, pidFor, pv1For, xcn } from './header-segments.ts';
import {
  abnormalFlag,
  type AbnormalFlag,
  BLOOD_SPECIMENS,
  LAB_PANELS,
  LAB_TESTS,
  type LabPanelKey,
  type LabTest,
  type LabTestKey,
  observationId,
  rangeText,
  unitField,
} from './lab-catalog.ts';
import { drawBaseline, planSamples, type SamplePlan, type SampleValues, sampleValues } from './lab-model.ts';
import { DEFAULT_SEED, type SeedPatient } from './patients.ts';
import { deriveRng, type Rng } from './random.ts';

/** Options for {@link labMessages}. */
export interface LabOptions {
  /** Base seed (default: the patient's own seed). */
  seed?: number;
}

/** One reported result (one OBX). */
interface ResultRow {
  key: LabTestKey | 'marker';
  test: LabTest;
  valueType: 'NM' | 'SN';
  value: Field;
  numeric: number;
  range: string;
  flag: AbnormalFlag;
  status: 'F' | 'C';
  note?: string;
}

/** One order group (ORC, OBR, OBX..., SPM). */
interface OrderGroup {
  panel: LabPanelKey;
  placer: string;
  filler: string;
  collectedAt: WallTime;
  receivedAt: WallTime;
  reportedAt: WallTime;
  status: 'F' | 'C';
  specimenId: string;
  specimen: Field;
  results: ResultRow[];
  groupNote?: string;
}

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

function yymmdd(t: WallTime): string {
  return hl7DateTime(t).slice(2, 8);
}

function round(value: number, decimals: number): number {
  const f = 10 ** decimals;
  return Math.round(value * f) / f;
}

/** Builds the OBX row of a numeric result, flagged against its range. */
function numericRow(key: LabTestKey | 'marker', test: LabTest, raw: number, sex: 'F' | 'M'): ResultRow {
  const range = test.range(sex);
  const value = round(raw, test.decimals);
  if (key === 'egfr' && value > 90) {
    // Dutch laboratories report eGFR above 90 as ">90" (structured numeric).
    return { key, test, valueType: 'SN', value: ['>', '90'], numeric: 90, range: rangeText(range, test.decimals), flag: 'N', status: 'F' };
  }
  return {
    key,
    test,
    valueType: 'NM',
    value: value.toFixed(test.decimals),
    numeric: value,
    range: rangeText(range, test.decimals),
    flag: abnormalFlag(value, range),
    status: 'F',
  };
}

function orderGroup(patient: SeedPatient, plan: SamplePlan, panel: LabPanelKey, reportedAt: WallTime, rows: ResultRow[]): OrderGroup {
  const sampleId = `${yymmdd(plan.collectedAt)}${pad(patient.index, 3)}${pad(plan.no, 2)}`;
  const tube = panel === 'bloodCount' ? 'E' : 'S';
  return {
    panel,
    placer: `HIX${sampleId}`,
    filler: `L${sampleId}${LAB_PANELS[panel].code}`,
    collectedAt: plan.collectedAt,
    receivedAt: addMinutes(plan.collectedAt, 25),
    reportedAt,
    status: 'F',
    specimenId: `${sampleId}${tube}`,
    specimen: panel === 'bloodCount' ? BLOOD_SPECIMENS.edta : BLOOD_SPECIMENS.serum,
    results: rows,
  };
}

function orderSegments(patient: SeedPatient, group: OrderGroup, setId: number): string[] {
  const panel = LAB_PANELS[group.panel];
  const placer = [group.placer, 'HIX'];
  const filler = [group.filler, 'UMCX_KCL'];
  const segments = [
    segment('ORC', ['RE', placer, filler, '', 'CM', '', '', '', hl7DateTime(group.reportedAt), '', '', xcn(patient.oncologist)]),
    segment('OBR', [
      String(setId), // OBR-1
      placer, // OBR-2
      filler, // OBR-3
      panel.service, // OBR-4
      '', // OBR-5
      '', // OBR-6
      hl7DateTime(group.collectedAt), // OBR-7
      '', '', '', '', '', '', // OBR-8..13
      hl7DateTime(group.receivedAt), // OBR-14
      '', // OBR-15
      xcn(patient.oncologist), // OBR-16
      '', '', '', '', '', // OBR-17..21
      hl7DateTime(group.reportedAt), // OBR-22
      '', // OBR-23
      panel.section, // OBR-24
      group.status, // OBR-25
    ]),
  ];
  if (group.groupNote) segments.push(segment('NTE', ['1', 'L', group.groupNote]));
  group.results.forEach((row, i) => {
    segments.push(
      segment('OBX', [
        String(i + 1), // OBX-1
        row.valueType, // OBX-2
        observationId(row.test), // OBX-3
        '', // OBX-4
        row.value, // OBX-5
        unitField(row.test), // OBX-6
        row.range, // OBX-7
        row.flag, // OBX-8
        '', '', // OBX-9..10
        row.status, // OBX-11
        '', '', // OBX-12..13
        hl7DateTime(group.collectedAt), // OBX-14
        '', '', '', '', // OBX-15..18
        hl7DateTime(addMinutes(group.reportedAt, -4)), // OBX-19 analysis time
      ]),
    );
    if (row.note) segments.push(segment('NTE', ['1', 'L', row.note]));
  });
  segments.push(
    segment('SPM', [
      '1', // SPM-1
      ['', [group.specimenId, 'UMCX_KCL']], // SPM-2: filler-assigned id (EIP.2) with its namespace
      '', // SPM-3
      group.specimen, // SPM-4
      '', '', '', '', '', '', '', '', '', '', '', '', // SPM-5..16
      hl7DateTime(group.collectedAt), // SPM-17
      hl7DateTime(group.receivedAt), // SPM-18
    ]),
  );
  return segments;
}

/** The tumour marker the patient's cancer is followed with. */
export function markerTest(patient: SeedPatient): LabTest {
  return patient.cancer === 'breast' ? LAB_TESTS.ca153 : LAB_TESTS.cea;
}

interface BuiltMessage {
  sentAt: WallTime;
  inpatient: boolean;
  groups: OrderGroup[];
}

function buildSample(patient: SeedPatient, plan: SamplePlan, values: SampleValues, rng: Rng): BuiltMessage[] {
  const sex = patient.sex;
  const rowsFor = (panel: LabPanelKey): ResultRow[] =>
    (LAB_PANELS[panel].tests as readonly LabTestKey[]).map((key) => numericRow(key, LAB_TESTS[key], values[key as keyof SampleValues], sex));
  const routine: OrderGroup[] = [];
  if (plan.bloodCount) routine.push(orderGroup(patient, plan, 'bloodCount', addMinutes(plan.collectedAt, rng.int(50, 95)), rowsFor('bloodCount')));
  if (plan.chemistry) routine.push(orderGroup(patient, plan, 'chemistry', addMinutes(plan.collectedAt, rng.int(100, 170)), rowsFor('chemistry')));
  const messages: BuiltMessage[] = [];
  if (routine.length > 0) {
    const sentAt = Math.max(...routine.map((g) => g.reportedAt)) + rng.int(5, 50) * 1000;
    messages.push({ sentAt, inpatient: plan.inpatient, groups: routine });
  }
  if (plan.tumourMarker) {
    // Tumour markers run in the next day's immunoassay series.
    const reportedAt = atTime(addDays(plan.collectedAt, 1), rng.int(13, 16), rng.int(0, 59), rng.int(0, 59));
    const row = numericRow('marker', markerTest(patient), values.marker, sex);
    messages.push({ sentAt: reportedAt + rng.int(5, 50) * 1000, inpatient: plan.inpatient, groups: [orderGroup(patient, plan, 'tumourMarkers', reportedAt, [row])] });
  }
  return messages;
}

function render(patient: SeedPatient, built: BuiltMessage, controlId: string): string {
  const segments = [
    mshFor(LAB_SENDER, built.sentAt, controlId),
    pidFor(patient),
    pv1For(built.inpatient ? 'I' : 'O', built.inpatient ? (patient.cancer === 'breast' ? 'CHIR-MAMMA' : 'CHIR-GE') : 'POLI-ONC', patient.oncologist),
  ];
  built.groups.forEach((g, i) => segments.push(...orderSegments(patient, g, i + 1)));
  return message(segments);
}

/**
 * ORU^R01 messages of the patient's laboratory series over ~9 months: blood counts, renal and liver
 * function before every chemotherapy cycle, nadir checks and tumour markers, with one critical
 * value commented in an NTE and one result corrected by a later message (OBX-11 = C, OBR-25 = C).
 * Messages are in the order they were sent.
 */
export function labMessages(patient: SeedPatient, opts: LabOptions = {}): string[] {
  const seed = opts.seed ?? patient.seed ?? DEFAULT_SEED;
  const rng = deriveRng(seed, 'lab', patient.index);
  const base = drawBaseline(patient, rng);
  const plans = planSamples(patient, rng);
  const built = plans.flatMap((plan) => buildSample(patient, plan, sampleValues(patient, base, plan, rng), rng));

  // One NTE: the blood count of the first nadir check, on the neutrophil result.
  const nadir = plans.find((p) => p.purpose === 'nadir');
  const nadirGroup = built.flatMap((b) => b.groups).find((g) => g.panel === 'bloodCount' && g.collectedAt === nadir?.collectedAt);
  const neutrophilRow = nadirGroup?.results.find((r) => r.key === 'neutrophils');
  if (nadirGroup && neutrophilRow) {
    const called = hl7DateTime(addMinutes(nadirGroup.reportedAt, 6)).slice(8, 12);
    neutrophilRow.note =
      neutrophilRow.flag === 'LL'
        ? `Kritieke waarde telefonisch doorgegeven aan dr. ${patient.oncologist.family} om ${called.slice(0, 2)}:${called.slice(2)} | teruggelezen & bevestigd.`
        : 'Uitstrijkje microscopisch beoordeeld: geen blasten, geen trombocytenaggregaten.';
  }

  // One correction: the ALT of the third pre-cycle sample was keyed in wrongly and is corrected next day.
  const corrected = plans.find((p) => p.purpose === 'pre-cycle' && p.cycle === 3) ?? plans.find((p) => p.chemistry);
  const chemistry = built.flatMap((b) => b.groups).find((g) => g.panel === 'chemistry' && g.collectedAt === corrected?.collectedAt);
  const altRow = chemistry?.results.find((r) => r.key === 'alt');
  if (chemistry && altRow) {
    const wrong = numericRow('alt', LAB_TESTS.alt, altRow.numeric + 100, patient.sex);
    const fixedRow: ResultRow = { ...altRow, status: 'C' };
    Object.assign(altRow, { value: wrong.value, numeric: wrong.numeric, flag: wrong.flag });
    const correctedAt = atTime(addDays(chemistry.reportedAt, 1), 9, rng.int(0, 59), rng.int(0, 59));
    built.push({
      sentAt: correctedAt + rng.int(5, 50) * 1000,
      inpatient: false,
      groups: [
        {
          ...chemistry,
          reportedAt: correctedAt,
          status: 'C',
          results: [fixedRow],
          groupNote: `Gecorrigeerde uitslag: de eerder gerapporteerde ALAT van ${altRow.value} U/L berustte op een invoerfout. Na heranalyse van hetzelfde monster is de juiste waarde ${fixedRow.value} U/L.`,
        },
      ],
    });
  }

  built.sort((a, b) => a.sentAt - b.sentAt);
  return built.map((b, i) => render(patient, b, `KCL${pad(patient.index, 3)}${pad(i + 1, 4)}`));
}
