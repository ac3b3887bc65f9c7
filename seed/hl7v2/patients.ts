import { syntheticBsn } from './bsn.ts';
import { addDays, type WallTime, wallTime } from './clock.ts';
import { deriveRng, type Rng } from './random.ts';

/** The cancer types the seed generates. */
export const CANCER_TYPES = { breast: 'breast', colorectal: 'colorectal' } as const;
export type CancerType = (typeof CANCER_TYPES)[keyof typeof CANCER_TYPES];

/** Assigning authorities written in PID-3. */
export const ASSIGNING_AUTHORITIES = {
  /** The Dutch BSN (OID of the NL national person identifier). */
  bsn: '2.16.840.1.113883.2.4.6.3',
  /** The local hospital MRN. */
  mrn: 'UMCX',
} as const;

/** The default base seed. */
export const DEFAULT_SEED = 20250101;

/** A coded concept as written in a CWE: code, display, HL7 coding-system name. */
export interface Coded {
  code: string;
  display: string;
  system: string;
}

export interface BreastTumour {
  kind: 'breast';
  laterality: 'left' | 'right';
  /** ICD-O-3 topography, e.g. C50.4. */
  topography: Coded;
  bodySite: Coded;
  clockPosition: number;
  sizeMm: number;
  /** Nottingham grade. */
  grade: 1 | 2 | 3;
  erPercent: number;
  prPercent: number;
  her2Ihc: '0' | '1+' | '3+';
  ki67Percent: number;
  sentinelNodesExamined: number;
  sentinelNodesPositive: number;
  pT: string;
  pN: string;
}

export interface ColorectalTumour {
  kind: 'colorectal';
  topography: Coded;
  bodySite: Coded;
  /** SNOMED CT specimen type of the resection. */
  resectionSpecimen: Coded;
  resectionName: string;
  distanceFromAnalVergeCm: number | undefined;
  sizeMm: number;
  pT: string;
  pN: string;
  nodesExamined: number;
  nodesPositive: number;
  microsatelliteStable: boolean;
}

export interface Physician {
  id: string;
  family: string;
  initials: string;
}

/** A synthetic patient: identity, demographics, tumour and the dates of the care pathway. */
export interface SeedPatient {
  /** 1-based position in the cohort. */
  index: number;
  /** Short stable key used in file names and order numbers, e.g. `p01`. */
  key: string;
  /** The base seed the patient was generated from. */
  seed: number;
  cancer: CancerType;
  bsn: string;
  mrn: string;
  name: {
    /** Full family name as spoken, e.g. `van der Meer`. */
    family: string;
    /** The voorvoegsel, e.g. `van der` (empty when there is none). */
    prefix: string;
    /** The family name without the prefix, e.g. `Meer`. */
    surname: string;
    given: string;
    initials: string;
  };
  /** ISO date. */
  birthDate: string;
  sex: 'F' | 'M';
  address: { street: string; houseNumber: string; postalCode: string; city: string; country: 'NL' };
  phone: string;
  oncologist: Physician;
  surgeon: Physician;
  pathologist: Physician;
  /** ISO dates of the pathway: diagnostic biopsy, resection, chemotherapy cycles, last follow-up. */
  pathway: { biopsy: string; surgery: string; chemoCycles: string[]; chemoRegimen: string; followUp: string };
  tumour: BreastTumour | ColorectalTumour;
}

const FEMALE_NAMES = ['Anna', 'Maria', 'Johanna', 'Elisabeth', 'Cornelia', 'Wilhelmina', 'Sanne', 'Marloes', 'Ingrid', 'Petra', 'Monique', 'Esther', 'Fatima', 'Annelies', 'Gerda', 'Yvonne', 'Hanneke', 'Linda', 'Saskia', 'Astrid'];
const MALE_NAMES = ['Johannes', 'Hendrik', 'Cornelis', 'Pieter', 'Jan', 'Willem', 'Gerrit', 'Dirk', 'Marco', 'Ruud', 'Mohamed', 'Erik', 'Bart', 'Kees', 'Theo', 'Arjen', 'Frank', 'Henk', 'Joost', 'Wouter'];
const FAMILY_NAMES = ['de Vries', 'Jansen', 'van den Berg', 'Bakker', 'Visser', 'Smit', 'Meijer', 'de Boer', 'Mulder', 'de Groot', 'Bos', 'Vos', 'Peters', 'Hendriks', 'van Leeuwen', 'Dekker', 'Brouwer', 'de Wit', 'Dijkstra', 'van der Meer', 'van der Linden', 'Kok', 'de Haan', 'Vermeulen', 'van den Heuvel', 'van der Veen', 'de Bruijn', 'Yılmaz', 'Öztürk', 'Kloosterboer'];
const PREFIXES = ['van der', 'van den', 'van de', 'van', 'de', 'ter', 'ten'];
const STREETS = ['Kerkstraat', 'Dorpsstraat', 'Molenweg', 'Stationsweg', 'Julianastraat', 'Beatrixlaan', 'Wilhelminastraat', 'Oranjelaan', 'Nieuwe Gracht', 'Lindelaan', 'Schoolstraat', 'Prinses Irenestraat', 'Eikenlaan', 'Burgemeester de Withstraat'];
/** City with its range of four-digit postcodes. */
const CITIES: readonly [string, number, number][] = [
  ['Utrecht', 3511, 3585],
  ['Amersfoort', 3811, 3829],
  ['Zeist', 3701, 3709],
  ['Nieuwegein', 3431, 3439],
  ['Houten', 3991, 3995],
  ['Hilversum', 1211, 1223],
  ['Woerden', 3441, 3449],
  ['Veenendaal', 3901, 3907],
];
const ONCOLOGISTS: readonly Physician[] = [
  { id: '19034521', family: 'Hoogeveen', initials: 'M.J.' },
  { id: '19051187', family: 'Schouten', initials: 'R.A.' },
  { id: '19087344', family: 'El Amrani', initials: 'S.' },
];
const BREAST_SURGEONS: readonly Physician[] = [{ id: '19022918', family: 'Veldkamp', initials: 'J.W.' }];
const GI_SURGEONS: readonly Physician[] = [{ id: '19045590', family: 'Terpstra', initials: 'H.' }];
const PATHOLOGISTS: readonly Physician[] = [
  { id: '19061203', family: 'Hoekstra', initials: 'M.' },
  { id: '19073318', family: 'van Dam', initials: 'E.C.' },
];

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

/** An ISO date (`YYYY-MM-DD`) of a wall time. */
export function isoDate(t: WallTime): string {
  return new Date(t).toISOString().slice(0, 10);
}

/** The wall time at midnight of an ISO date. */
export function fromIsoDate(date: string): WallTime {
  const [y, m, d] = date.split('-').map(Number);
  return wallTime(y ?? 1970, m ?? 1, d ?? 1);
}

/** Moves a date falling on a Saturday or Sunday to the next Monday. */
function weekday(t: WallTime): WallTime {
  const dow = new Date(t).getUTCDay();
  return dow === 6 ? addDays(t, 2) : dow === 0 ? addDays(t, 1) : t;
}

function splitFamily(family: string): { prefix: string; surname: string } {
  const prefix = PREFIXES.find((p) => family.startsWith(`${p} `)) ?? '';
  return { prefix, surname: prefix ? family.slice(prefix.length + 1) : family };
}

function postalCode(rng: Rng, from: number, to: number): string {
  const letters = 'ABCEGHJKLMNPRTVWXZ'; // no SA, SD, SS combinations possible without S/D
  return `${rng.int(from, to)} ${rng.pick([...letters])}${rng.pick([...letters])}`;
}

function tStage(sizeMm: number): string {
  if (sizeMm <= 10) return 'pT1b';
  if (sizeMm <= 20) return 'pT1c';
  return 'pT2';
}

function breastTumour(rng: Rng): BreastTumour {
  const laterality = rng.pick(['left', 'right'] as const);
  const quadrant = rng.pick([
    { code: 'C50.4', display: 'Bovenste buitenste kwadrant van mamma', clock: laterality === 'left' ? 2 : 10 },
    { code: 'C50.2', display: 'Bovenste binnenste kwadrant van mamma', clock: laterality === 'left' ? 11 : 1 },
    { code: 'C50.5', display: 'Onderste buitenste kwadrant van mamma', clock: laterality === 'left' ? 4 : 8 },
  ]);
  const profile = rng.pick(['luminal', 'luminal', 'her2', 'triple-negative'] as const);
  const sizeMm = rng.int(12, 34);
  const positive = rng.chance(0.35) ? 1 : 0;
  return {
    kind: 'breast',
    laterality,
    topography: { code: quadrant.code, display: quadrant.display, system: 'ICDO3' },
    bodySite:
      laterality === 'left'
        ? { code: '80248007', display: 'Left breast structure', system: 'SCT' }
        : { code: '73056007', display: 'Right breast structure', system: 'SCT' },
    clockPosition: quadrant.clock,
    sizeMm,
    grade: profile === 'luminal' ? rng.pick([1, 2, 2] as const) : rng.pick([2, 3, 3] as const),
    erPercent: profile === 'triple-negative' ? 0 : rng.pick([80, 90, 95, 100]),
    prPercent: profile === 'luminal' ? rng.pick([30, 50, 70, 90]) : 0,
    her2Ihc: profile === 'her2' ? '3+' : rng.pick(['0', '1+'] as const),
    ki67Percent: profile === 'luminal' ? rng.pick([8, 12, 15, 20]) : rng.pick([30, 45, 60]),
    sentinelNodesExamined: rng.int(1, 3),
    sentinelNodesPositive: positive,
    pT: tStage(sizeMm),
    pN: positive ? 'pN1a(sn)' : 'pN0(sn)',
  };
}

function colorectalTumour(rng: Rng): ColorectalTumour {
  const sigmoid = rng.chance(0.6);
  const nodesPositive = rng.int(1, 3); // stage III: adjuvant chemotherapy is indicated
  return {
    kind: 'colorectal',
    topography: sigmoid
      ? { code: 'C18.7', display: 'Colon sigmoideum', system: 'ICDO3' }
      : { code: 'C18.2', display: 'Colon ascendens', system: 'ICDO3' },
    bodySite: sigmoid
      ? { code: '60184004', display: 'Sigmoid colon structure', system: 'SCT' }
      : { code: '9040008', display: 'Ascending colon structure', system: 'SCT' },
    resectionSpecimen: sigmoid
      ? { code: '122651006', display: 'Specimen from colon obtained by sigmoidectomy', system: 'SCT' }
      : { code: '122648004', display: 'Specimen from colon obtained by right hemicolectomy', system: 'SCT' },
    resectionName: sigmoid ? 'sigmoïdresectie' : 'hemicolectomie rechts',
    distanceFromAnalVergeCm: sigmoid ? rng.int(22, 35) : undefined,
    sizeMm: rng.int(28, 62),
    pT: rng.pick(['pT3', 'pT3', 'pT4a']),
    pN: nodesPositive === 1 ? 'pN1a' : 'pN1b',
    nodesExamined: rng.int(14, 26),
    nodesPositive,
    microsatelliteStable: rng.chance(0.85),
  };
}

/** One synthetic patient; `index` is 1-based and decides the cancer type (odd: breast, even: colorectal). */
export function seedPatient(seed: number, index: number): SeedPatient {
  const rng = deriveRng(seed, 'patient', index);
  const cancer: CancerType = index % 2 === 1 ? CANCER_TYPES.breast : CANCER_TYPES.colorectal;
  const sex = cancer === CANCER_TYPES.breast ? 'F' : rng.pick(['F', 'M'] as const);
  const family = rng.pick(FAMILY_NAMES);
  const given = rng.pick(sex === 'F' ? FEMALE_NAMES : MALE_NAMES);
  const second = rng.chance(0.5) ? rng.pick(sex === 'F' ? FEMALE_NAMES : MALE_NAMES) : undefined;
  const [city, from, to] = rng.pick(CITIES);

  const ageAtDiagnosis = cancer === CANCER_TYPES.breast ? rng.int(41, 72) : rng.int(52, 78);
  const biopsy = weekday(addDays(wallTime(2025, 1, 13), (index - 1) * 19 + rng.int(0, 6)));
  const birth = addDays(biopsy, -(ageAtDiagnosis * 365.25 + rng.int(0, 360)));
  const surgery = weekday(addDays(biopsy, cancer === CANCER_TYPES.breast ? rng.int(18, 26) : rng.int(28, 38)));
  const chemoStart = weekday(addDays(surgery, rng.int(35, 42)));
  const cycles = cancer === CANCER_TYPES.breast ? 6 : 8;
  const chemoCycles = Array.from({ length: cycles }, (_v, i) => isoDate(addDays(chemoStart, i * 21)));

  return {
    index,
    key: `p${pad(index, 2)}`,
    seed,
    cancer,
    bsn: syntheticBsn(rng),
    mrn: String(rng.int(1_000_000, 9_899_999) + index),
    name: {
      family,
      ...splitFamily(family),
      given,
      initials: [given, second].filter((n): n is string => n !== undefined).map((n) => `${n[0]}.`).join(''),
    },
    birthDate: isoDate(birth),
    sex,
    address: {
      street: rng.pick(STREETS),
      houseNumber: String(rng.int(1, 180)) + (rng.chance(0.15) ? rng.pick(['a', 'b', '-2']) : ''),
      postalCode: postalCode(rng, from, to),
      city,
      country: 'NL',
    },
    phone: `06-${pad(rng.int(10_000_000, 99_999_999), 8)}`,
    oncologist: rng.pick(ONCOLOGISTS),
    surgeon: rng.pick(cancer === CANCER_TYPES.breast ? BREAST_SURGEONS : GI_SURGEONS),
    pathologist: rng.pick(PATHOLOGISTS),
    pathway: {
      biopsy: isoDate(biopsy),
      surgery: isoDate(surgery),
      chemoCycles,
      chemoRegimen: cancer === CANCER_TYPES.breast ? 'FEC-D (3x FEC, 3x docetaxel)' : 'CAPOX (capecitabine, oxaliplatine)',
      followUp: isoDate(weekday(addDays(biopsy, 270))),
    },
    tumour: cancer === CANCER_TYPES.breast ? breastTumour(rng) : colorectalTumour(rng),
  };
}

/** Options for {@link seedPatients}. */
export interface SeedOptions {
  /** Base seed; the same seed gives the same patients and byte-identical messages. */
  seed?: number;
  /** Number of patients (default 4), alternating breast and colorectal cancer. */
  count?: number;
}

/** Synthetic Dutch oncology patients: by default four, alternating breast and colorectal cancer. */
export function seedPatients(opts: SeedOptions = {}): SeedPatient[] {
  const seed = opts.seed ?? DEFAULT_SEED;
  const count = opts.count ?? 4;
  if (!Number.isInteger(count) || count < 1 || count > 999) throw new RangeError(`count must be an integer 1-999, got ${count}`);
  return Array.from({ length: count }, (_v, i) => seedPatient(seed, i + 1));
}
