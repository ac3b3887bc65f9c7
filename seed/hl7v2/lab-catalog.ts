import type { Field } from './hl7-writer.ts';

/** Abnormal flags used in OBX-8 (HL7 table 0078). */
export const ABNORMAL_FLAGS = { criticalLow: 'LL', low: 'L', normal: 'N', high: 'H', criticalHigh: 'HH' } as const;
export type AbnormalFlag = (typeof ABNORMAL_FLAGS)[keyof typeof ABNORMAL_FLAGS];

/**
 * A reference range. Two-sided ranges are inclusive (`7.5-10.0`); an upper-only range `<35` means
 * 35 and above is high; a lower-only range `>60` means 60 and below is low. Critical limits are
 * exclusive (below `criticalLow` is LL, above `criticalHigh` is HH).
 */
export interface ReferenceRange {
  low?: number;
  high?: number;
  criticalLow?: number;
  criticalHigh?: number;
}

/** The OBX-7 text of a range, e.g. `7.5-10.0`, `<35`, `>60`. */
export function rangeText(range: ReferenceRange, decimals: number): string {
  const f = (n: number): string => n.toFixed(decimals);
  if (range.low !== undefined && range.high !== undefined) return `${f(range.low)}-${f(range.high)}`;
  if (range.high !== undefined) return `<${f(range.high)}`;
  if (range.low !== undefined) return `>${f(range.low)}`;
  return '';
}

/** The OBX-8 flag of a (rounded, as reported) value against its range. */
export function abnormalFlag(value: number, range: ReferenceRange): AbnormalFlag {
  if (range.criticalLow !== undefined && value < range.criticalLow) return ABNORMAL_FLAGS.criticalLow;
  if (range.criticalHigh !== undefined && value > range.criticalHigh) return ABNORMAL_FLAGS.criticalHigh;
  const twoSided = range.low !== undefined && range.high !== undefined;
  if (range.low !== undefined && (twoSided ? value < range.low : value <= range.low)) return ABNORMAL_FLAGS.low;
  if (range.high !== undefined && (twoSided ? value > range.high : value >= range.high)) return ABNORMAL_FLAGS.high;
  return ABNORMAL_FLAGS.normal;
}

/** A laboratory test: its LOINC and local code, UCUM unit, precision and reference ranges. */
export interface LabTest {
  loinc: string;
  loincName: string;
  localCode: string;
  localName: string;
  /** UCUM unit. */
  unit: string;
  decimals: number;
  range: (sex: 'F' | 'M') => ReferenceRange;
}

/**
 * The tests of the seed. Units are the ones Dutch laboratories report (SI: Hb in mmol/L,
 * creatinine and bilirubin in umol/L), so the LOINC codes are the matching molar ones
 * (59260-0, 14682-9, 14631-6), not the mass-concentration codes 718-7, 2160-0 and 1975-2.
 */
export const LAB_TESTS = {
  hemoglobin: {
    loinc: '59260-0',
    loincName: 'Hemoglobin [Moles/volume] in Blood',
    localCode: 'HB',
    localName: 'Hemoglobine',
    unit: 'mmol/L',
    decimals: 1,
    range: (sex) => (sex === 'F' ? { low: 7.5, high: 10.0, criticalLow: 4.5 } : { low: 8.5, high: 11.0, criticalLow: 4.5 }),
  },
  leukocytes: {
    loinc: '6690-2',
    loincName: 'Leukocytes [#/volume] in Blood by Automated count',
    localCode: 'LEUK',
    localName: 'Leukocyten',
    unit: '10*9/L',
    decimals: 1,
    range: () => ({ low: 4.0, high: 10.0, criticalLow: 1.0, criticalHigh: 50 }),
  },
  neutrophils: {
    loinc: '751-8',
    loincName: 'Neutrophils [#/volume] in Blood by Automated count',
    localCode: 'NEUTRO',
    localName: 'Neutrofiele granulocyten',
    unit: '10*9/L',
    decimals: 2,
    range: () => ({ low: 1.5, high: 7.5, criticalLow: 0.5 }),
  },
  platelets: {
    loinc: '777-3',
    loincName: 'Platelets [#/volume] in Blood by Automated count',
    localCode: 'TROM',
    localName: 'Trombocyten',
    unit: '10*9/L',
    decimals: 0,
    range: () => ({ low: 150, high: 400, criticalLow: 50, criticalHigh: 1000 }),
  },
  creatinine: {
    loinc: '14682-9',
    loincName: 'Creatinine [Moles/volume] in Serum or Plasma',
    localCode: 'KREA',
    localName: 'Kreatinine',
    unit: 'umol/L',
    decimals: 0,
    range: (sex) => (sex === 'F' ? { low: 45, high: 90 } : { low: 60, high: 110 }),
  },
  egfr: {
    loinc: '62238-1',
    loincName: 'Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, Plasma or Blood by Creatinine-based formula (CKD-EPI)',
    localCode: 'EGFR',
    localName: 'eGFR (CKD-EPI)',
    unit: 'mL/min/{1.73_m2}',
    decimals: 0,
    range: () => ({ low: 60 }),
  },
  alt: {
    loinc: '1742-6',
    loincName: 'Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma',
    localCode: 'ALAT',
    localName: 'ALAT',
    unit: 'U/L',
    decimals: 0,
    range: (sex) => ({ high: sex === 'F' ? 35 : 45 }),
  },
  ast: {
    loinc: '1920-8',
    loincName: 'Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma',
    localCode: 'ASAT',
    localName: 'ASAT',
    unit: 'U/L',
    decimals: 0,
    range: (sex) => ({ high: sex === 'F' ? 31 : 35 }),
  },
  alkalinePhosphatase: {
    loinc: '6768-6',
    loincName: 'Alkaline phosphatase [Enzymatic activity/volume] in Serum or Plasma',
    localCode: 'AF',
    localName: 'Alkalische fosfatase',
    unit: 'U/L',
    decimals: 0,
    range: () => ({ low: 40, high: 120 }),
  },
  bilirubin: {
    loinc: '14631-6',
    loincName: 'Bilirubin.total [Moles/volume] in Serum or Plasma',
    localCode: 'BILI',
    localName: 'Bilirubine totaal',
    unit: 'umol/L',
    decimals: 0,
    range: () => ({ high: 17 }),
  },
  cea: {
    loinc: '2039-6',
    loincName: 'Carcinoembryonic Ag [Mass/volume] in Serum or Plasma',
    localCode: 'CEA',
    localName: 'CEA',
    unit: 'ug/L',
    decimals: 1,
    range: () => ({ high: 5.0 }),
  },
  ca153: {
    loinc: '6875-9',
    loincName: 'Cancer Ag 15-3 [Units/volume] in Serum or Plasma',
    localCode: 'CA153',
    localName: 'CA 15-3',
    unit: 'kU/L',
    decimals: 0,
    range: () => ({ high: 30 }),
  },
} as const satisfies Record<string, LabTest>;

export type LabTestKey = keyof typeof LAB_TESTS;

/** OBX-3: the LOINC code plus the local laboratory code as the alternate coding. */
export function observationId(test: LabTest): Field {
  return [test.loinc, test.loincName, 'LN', test.localCode, test.localName, 'L'];
}

/** OBX-6: the UCUM unit. */
export function unitField(test: LabTest): Field {
  return [test.unit, test.unit, 'UCUM'];
}

/** The order panels (OBR-4, OBR-24) the laboratory reports. */
export const LAB_PANELS = {
  bloodCount: {
    code: 'BB',
    service: ['57021-8', 'CBC W Auto Differential panel - Blood', 'LN', 'BB', 'Bloedbeeld', 'L'],
    section: 'HM',
    tests: ['hemoglobin', 'leukocytes', 'neutrophils', 'platelets'],
  },
  chemistry: {
    code: 'CH',
    service: ['KCHEM', 'Nier- en leverfuncties', 'L'],
    section: 'CH',
    tests: ['creatinine', 'egfr', 'alt', 'ast', 'alkalinePhosphatase', 'bilirubin'],
  },
  tumourMarkers: {
    code: 'TM',
    service: ['TUMM', 'Tumormerkers', 'L'],
    section: 'CH',
    tests: [],
  },
} as const satisfies Record<string, { code: string; service: Field; section: string; tests: readonly LabTestKey[] }>;

export type LabPanelKey = keyof typeof LAB_PANELS;

/** SPM-4 specimen types (SNOMED CT) with the local tube code as alternate. */
export const BLOOD_SPECIMENS = {
  edta: ['119297000', 'Blood specimen', 'SCT', 'EDTA', 'EDTA-bloed', 'L'],
  serum: ['119364003', 'Serum specimen', 'SCT', 'SST', 'Serum', 'L'],
} as const satisfies Record<string, Field>;

/**
 * eGFR by the CKD-EPI 2009 creatinine equation (without the race coefficient), mL/min/1.73 m2.
 * See: Levey AS et al., Ann Intern Med 2009;150:604-612.
 */
export function ckdEpi2009(creatinineUmolPerL: number, ageYears: number, sex: 'F' | 'M'): number {
  const scr = creatinineUmolPerL / 88.4;
  const kappa = sex === 'F' ? 0.7 : 0.9;
  const alpha = sex === 'F' ? -0.329 : -0.411;
  const ratio = scr / kappa;
  return 141 * Math.min(ratio, 1) ** alpha * Math.max(ratio, 1) ** -1.209 * 0.993 ** ageYears * (sex === 'F' ? 1.018 : 1);
}
