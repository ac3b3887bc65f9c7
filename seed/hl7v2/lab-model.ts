import { addDays, ageInYears, type WallTime } from './clock.ts';
import { ckdEpi2009 } from './lab-catalog.ts';
import { fromIsoDate, type SeedPatient } from './patients.ts';
import type { Rng } from './random.ts';

const DAY = 86_400_000;

/** When a blood sample is taken and why; `panels` says what the oncologist ordered. */
export interface SamplePlan {
  /** 1-based, in chronological order. */
  no: number;
  /** Wall-clock collection time. */
  collectedAt: WallTime;
  purpose: 'baseline' | 'pre-operative' | 'post-operative' | 'pre-cycle' | 'nadir' | 'end-of-treatment' | 'follow-up';
  /** Chemotherapy cycle this sample belongs to (pre-cycle and nadir samples). */
  cycle?: number;
  bloodCount: boolean;
  chemistry: boolean;
  tumourMarker: boolean;
  inpatient: boolean;
}

/** The patient's own steady-state values, drawn once. */
interface Baseline {
  hemoglobin: number;
  leukocytes: number;
  neutrophilFraction: number;
  platelets: number;
  creatinine: number;
  alt: number;
  alkalinePhosphatase: number;
  bilirubin: number;
  /** Marker at the diagnostic biopsy, and the level it falls to after resection. */
  markerAtDiagnosis: number;
  markerFloor: number;
  /** Cycles in which the liver enzymes rise (chemotherapy-induced hepatotoxicity, grade 1). */
  liverCycles: ReadonlySet<number>;
}

/** Unrounded values of one sample, keyed like LAB_TESTS. */
export type SampleValues = Record<'hemoglobin' | 'leukocytes' | 'neutrophils' | 'platelets' | 'creatinine' | 'egfr' | 'alt' | 'ast' | 'alkalinePhosphatase' | 'bilirubin' | 'marker', number>;

const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));

function collectionTime(rng: Rng, day: WallTime, inpatient: boolean): WallTime {
  const minutes = inpatient ? rng.int(6 * 60 + 15, 7 * 60 + 30) : rng.int(8 * 60, 11 * 60 + 30);
  return day + minutes * 60_000 + rng.int(0, 59) * 1000;
}

/** Outpatient draws happen on working days: a weekend draw before a treatment moves to Friday, others to Monday. */
function outpatientDay(day: WallTime, purpose: SamplePlan['purpose']): WallTime {
  const dow = new Date(day).getUTCDay();
  const before = purpose === 'pre-cycle' || purpose === 'pre-operative';
  if (dow === 6) return addDays(day, before ? -1 : 2);
  if (dow === 0) return addDays(day, before ? -2 : 1);
  return day;
}

/** The sampling schedule over the ~9 months of the pathway. */
export function planSamples(patient: SeedPatient, rng: Rng): SamplePlan[] {
  const { pathway } = patient;
  const biopsy = fromIsoDate(pathway.biopsy);
  const surgery = fromIsoDate(pathway.surgery);
  const cycles = pathway.chemoCycles.map(fromIsoDate);
  const lastCycle = cycles[cycles.length - 1] ?? surgery;
  const breast = patient.cancer === 'breast';
  const markerCycles = breast ? [1, 4] : [1, 4, 8];
  const nadirCycles = breast ? [1, 4] : [2];

  const plans: Omit<SamplePlan, 'no'>[] = [];
  const add = (day: WallTime, plan: Omit<SamplePlan, 'no' | 'collectedAt'>): void => {
    plans.push({ ...plan, collectedAt: collectionTime(rng, plan.inpatient ? day : outpatientDay(day, plan.purpose), plan.inpatient) });
  };
  const all = { bloodCount: true, chemistry: true, inpatient: false };
  add(addDays(biopsy, 2), { purpose: 'baseline', ...all, tumourMarker: true });
  add(addDays(surgery, breast ? -3 : -4), { purpose: 'pre-operative', ...all, tumourMarker: true });
  add(addDays(surgery, breast ? 1 : 2), { purpose: 'post-operative', bloodCount: true, chemistry: !breast, tumourMarker: false, inpatient: true });
  cycles.forEach((start, i) => {
    const cycle = i + 1;
    add(addDays(start, -1), { purpose: 'pre-cycle', cycle, ...all, tumourMarker: markerCycles.includes(cycle) });
    if (nadirCycles.includes(cycle)) {
      add(addDays(start, 10), { purpose: 'nadir', cycle, bloodCount: true, chemistry: false, tumourMarker: false, inpatient: false });
    }
  });
  add(addDays(lastCycle, 21), { purpose: 'end-of-treatment', ...all, tumourMarker: true });
  add(fromIsoDate(pathway.followUp), { purpose: 'follow-up', ...all, tumourMarker: true });
  return plans.sort((a, b) => a.collectedAt - b.collectedAt).map((p, i) => ({ ...p, no: i + 1 }));
}

/** Draws the patient's own baseline values. */
export function drawBaseline(patient: SeedPatient, rng: Rng): Baseline {
  const female = patient.sex === 'F';
  const breast = patient.cancer === 'breast';
  const cycles = patient.pathway.chemoCycles.length;
  return {
    hemoglobin: clamp(rng.normal(female ? 8.4 : 9.3, 0.35), female ? 7.8 : 8.8, female ? 9.4 : 10.4),
    leukocytes: clamp(rng.normal(6.6, 1.0), 4.8, 9.2),
    neutrophilFraction: clamp(rng.normal(0.6, 0.05), 0.5, 0.7),
    platelets: clamp(rng.normal(265, 40), 185, 360),
    creatinine: clamp(rng.normal(female ? 66 : 84, 7), female ? 52 : 68, female ? 82 : 102),
    alt: clamp(rng.normal(female ? 18 : 24, 4), 9, female ? 28 : 36),
    alkalinePhosphatase: clamp(rng.normal(74, 12), 50, 105),
    bilirubin: clamp(rng.normal(8, 2.5), 4, 13),
    markerAtDiagnosis: breast ? clamp(rng.normal(40, 6), 32, 54) : clamp(rng.normal(14, 4), 8, 26),
    markerFloor: breast ? clamp(rng.normal(17, 3), 11, 24) : clamp(rng.normal(2.2, 0.5), 1.2, 3.4),
    liverCycles: new Set([rng.int(2, Math.max(2, cycles - 1))]),
  };
}

/** Expected (unrounded) values of a sample: the patient's baseline shaped by tumour, surgery and chemotherapy. */
export function sampleValues(patient: SeedPatient, base: Baseline, plan: SamplePlan, rng: Rng): SampleValues {
  const t = plan.collectedAt;
  const breast = patient.cancer === 'breast';
  const biopsy = fromIsoDate(patient.pathway.biopsy);
  const surgery = fromIsoDate(patient.pathway.surgery);
  const cycles = patient.pathway.chemoCycles.map(fromIsoDate);
  const daysSince = (from: WallTime): number => (t - from) / DAY;
  const dSurgery = daysSince(surgery);
  const given = cycles.filter((c) => c <= t).length;
  const lastGiven = given > 0 ? cycles[given - 1] : undefined;
  const dCycle = lastGiven === undefined ? undefined : daysSince(lastGiven);
  const lastCycle = cycles[cycles.length - 1] ?? surgery;
  const onChemo = given > 0 && t < addDays(lastCycle, 21);
  const dAfterChemo = Math.max(0, daysSince(addDays(lastCycle, 21)));
  const nadir = dCycle !== undefined && dCycle >= 6 && dCycle <= 14;
  const chemoWeight = given === 0 ? 0 : onChemo ? 1 : Math.exp(-dAfterChemo / 45);

  // Haemoglobin: tumour bleeding (colorectal), peri-operative loss, cumulative chemotherapy anaemia.
  let hb = base.hemoglobin;
  if (!breast) hb -= dSurgery < 0 ? 1.1 : 1.1 * Math.exp(-dSurgery / 30);
  if (dSurgery >= 0) hb -= (breast ? 0.4 : 0.9) * Math.exp(-dSurgery / 12);
  hb -= chemoWeight * Math.min(given, 6) * (breast ? 0.17 : 0.11);
  hb += rng.normal(0, 0.12);

  // White cells: post-operative leukocytosis, nadir around day 7-14 of a cycle, slow cumulative decline.
  let wbc = base.leukocytes * (dSurgery >= 0 && dSurgery <= 5 ? 1.4 : 1);
  let neutFraction = base.neutrophilFraction + (dSurgery >= 0 && dSurgery <= 5 ? 0.15 : 0);
  if (nadir) {
    wbc *= breast ? 0.3 : 0.62;
    neutFraction = breast ? 0.16 : 0.42;
  } else if (onChemo) {
    wbc *= 0.95 - 0.015 * given;
  }
  wbc *= rng.normal(1, 0.05);
  const neutrophils = wbc * clamp(neutFraction + rng.normal(0, 0.02), 0.1, 0.9);

  // Platelets: reactive after surgery; oxaliplatin causes a cumulative thrombocytopenia.
  let plt = base.platelets * (dSurgery >= 0 && dSurgery <= 10 ? 1.25 : 1);
  if (onChemo) plt *= breast ? (nadir ? 0.7 : 0.97) : Math.max(0.5, 1 - 0.07 * given) * (nadir ? 0.85 : 1);
  else if (given > 0 && !breast) plt *= 1 - 0.3 * Math.exp(-dAfterChemo / 30);
  plt *= rng.normal(1, 0.04);

  const creatinine = base.creatinine + (dSurgery >= 0 && dSurgery <= 3 ? 7 : 0) + rng.normal(0, 3);
  const egfr = ckdEpi2009(Math.round(creatinine), ageInYears(fromIsoDate(patient.birthDate), t), patient.sex);

  // Liver: a grade 1 transaminase rise in one cycle; capecitabine raises bilirubin a little.
  const liverHit = onChemo && plan.cycle !== undefined && base.liverCycles.has(plan.cycle - 1);
  const alt = base.alt * (liverHit ? 2.3 : 1) * rng.normal(1, 0.08);
  const ast = (base.alt * 0.85 + 3) * (liverHit ? 1.9 : 1) * rng.normal(1, 0.08);
  const alp = base.alkalinePhosphatase * (dSurgery >= 0 && dSurgery <= 10 ? 1.1 : 1) * rng.normal(1, 0.04);
  const bili = base.bilirubin + (onChemo && !breast ? 5 : 0) + rng.normal(0, 1.2);

  // Tumour marker: rises while the tumour is in place, falls with its half-life after resection.
  const halfLifeDays = breast ? 7 : 4;
  const preOperative = base.markerAtDiagnosis * (1 + 0.005 * Math.max(0, daysSince(biopsy)));
  const atSurgery = base.markerAtDiagnosis * (1 + 0.005 * ((surgery - biopsy) / DAY));
  const marker =
    dSurgery < 0
      ? preOperative
      : base.markerFloor + (atSurgery - base.markerFloor) * Math.exp((-Math.LN2 * dSurgery) / halfLifeDays);

  return {
    hemoglobin: hb,
    leukocytes: wbc,
    neutrophils,
    platelets: plt,
    creatinine,
    egfr,
    alt,
    ast,
    alkalinePhosphatase: alp,
    bilirubin: bili,
    marker: marker * rng.normal(1, 0.03),
  };
}
