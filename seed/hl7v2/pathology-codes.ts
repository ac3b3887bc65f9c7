import type { WallTime } from './clock.ts';
import type { Field } from './hl7-writer.ts';
import type { BreastTumour, ColorectalTumour, SeedPatient } from './patients.ts';

/** Report sections, each written as consecutive TX OBX lines (OBX-4 = line number in the section). */
export const REPORT_SECTIONS = {
  clinicalInformation: ['22636-5', 'Pathology report relevant history', 'LN'],
  macroscopy: ['22634-0', 'Pathology report gross observation', 'LN'],
  microscopy: ['22635-7', 'Pathology report microscopic observation', 'LN'],
  conclusion: ['22637-3', 'Pathology report final diagnosis', 'LN'],
} as const satisfies Record<string, Field>;

/** The universal service id (OBR-4) of a histology report. */
export const PATHOLOGY_SERVICE: Field = ['60567-5', 'Comprehensive pathology report panel', 'LN', 'HISTO', 'Histologisch onderzoek', 'L'];

/** OBX-3 of the coded (synoptic) items. */
export const SYNOPTIC_ITEMS = {
  histology: ['59847-4', 'Histology and Behavior ICD-O-3 Cancer', 'LN'],
  primarySite: ['21855-2', 'Primary site Cancer', 'LN'],
  nottinghamGrade: ['44648-4', 'Histologic grade [Score] in Breast cancer specimen Qualitative by Nottingham', 'LN'],
  estrogenReceptor: ['16112-5', 'Estrogen receptor [Interpretation] in Tissue', 'LN'],
  progesteroneReceptor: ['16113-3', 'Progesterone receptor [Interpretation] in Tissue', 'LN'],
  her2Ihc: ['18474-7', 'HER2 Ag [Presence] in Tissue by Immune stain', 'LN'],
  her2: ['48676-1', 'HER2 [Interpretation] in Tissue', 'LN'],
  ki67: ['29593-1', 'Cells.Ki-67 nuclear Ag/cells in Tissue by Immune stain', 'LN'],
  tumourSize: ['33728-7', 'Size.maximum dimension in Tumor', 'LN'],
  breastMargin: ['44669-0', 'Margin involvement in Breast tumor', 'LN'],
  resectionMargin: ['RESMARGE', 'Resectievlakken', 'L'],
  nodesExamined: ['21894-1', 'Regional lymph nodes examined [#] Specimen', 'LN'],
  nodesPositive: ['21893-3', 'Regional lymph nodes positive [#] Specimen', 'LN'],
  pT: ['21899-0', 'Primary tumor.pathology Cancer', 'LN'],
  pN: ['21900-6', 'Regional lymph nodes.pathology [Class] Cancer', 'LN'],
  cM: ['21907-1', 'Distant metastases.clinical [Class] Cancer', 'LN'],
  microsatellite: ['81695-9', 'Microsatellite instability [Interpretation] in Cancer specimen Qualitative', 'LN'],
} as const satisfies Record<string, Field>;

export const POSITIVE: Field = ['LA6576-8', 'Positive', 'LN'];
export const NEGATIVE: Field = ['LA6577-6', 'Negative', 'LN'];
export const NOTTINGHAM: Record<1 | 2 | 3, Field> = {
  1: ['LA27823-6', 'Nottingham grade 1', 'LN'],
  2: ['LA27824-4', 'Nottingham grade 2', 'LN'],
  3: ['LA27825-1', 'Nottingham grade 3', 'LN'],
};

export type SectionKey = keyof typeof REPORT_SECTIONS;

export interface CodedItem {
  id: Field;
  valueType: 'CWE' | 'NM';
  value: Field;
  unit?: Field;
}

export interface Report {
  kind: 'biopsy' | 'resection';
  filler: string;
  placer: string;
  collectedAt: WallTime;
  receivedAt: WallTime;
  reportedAt: WallTime;
  inpatient: boolean;
  pointOfCare: string;
  specimen: { type: Field; site: Field; description: string };
  sections: Record<SectionKey, string[]>;
  items: CodedItem[];
}

export const pad = (n: number, width: number): string => String(n).padStart(width, '0');
export const cwe = (id: Field, value: Field): CodedItem => ({ id, valueType: 'CWE', value });
export const nm = (id: Field, value: number, unit?: Field): CodedItem => ({ id, valueType: 'NM', value: String(value), ...(unit ? { unit } : {}) });
export const MM: Field = ['mm', 'mm', 'UCUM'];
export const PERCENT: Field = ['%', '%', 'UCUM'];

/** The diagnosis as ICD-O-3 morphology with the SNOMED CT morphology as alternate coding. */
export function morphology(patient: SeedPatient): Field {
  return patient.cancer === 'breast'
    ? ['8500/3', 'Invasief carcinoom NST (ductaal)', 'ICDO3', '82711006', 'Infiltrating duct carcinoma (morphologic abnormality)', 'SCT']
    : ['8140/3', 'Adenocarcinoom', 'ICDO3', '1187332001', 'Adenocarcinoma (morphologic abnormality)', 'SCT'];
}

/** The ICD-O-3 topography of the primary tumour. */
export function site(t: BreastTumour | ColorectalTumour): Field {
  return [t.topography.code, t.topography.display, t.topography.system];
}

export interface ReportTimes {
  biopsy: WallTime;
  biopsyFiller: string;
  biopsyReport: Pick<Report, 'filler' | 'placer' | 'collectedAt' | 'receivedAt' | 'reportedAt'>;
  resectionReport: Pick<Report, 'filler' | 'placer' | 'collectedAt' | 'receivedAt' | 'reportedAt'>;
}
