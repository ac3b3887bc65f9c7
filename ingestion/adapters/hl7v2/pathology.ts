import type { Attachment, CodeableConcept, Observation } from '@medplum/fhirtypes';
import { findCoding } from './codes.ts';
import { FINAL_DIAGNOSIS_LOINC, PATHOLOGY_SECTIONS, SYSTEMS } from './constants.ts';
import type { ResultItem } from './groups.ts';
import type { Segment } from './segment.ts';

/** Parts of a pathology DiagnosticReport built from its narrative and coded OBX. */
export interface PathologyParts {
  presentedForm: Attachment[];
  conclusion?: string;
  conclusionCode?: CodeableConcept[];
}

const NARRATIVE_TYPES = new Set(['TX', 'FT']);
const DIAGNOSIS_SYSTEMS: readonly string[] = [SYSTEMS.icdo3, SYSTEMS.icd10, SYSTEMS.icd10cm];
const DIAGNOSIS_TEXT = /diagnos|conclusi|morpholog|histolog|topograph/i;
const CONCLUSION_TEXT = /conclusi|final diagnos|^diagnos/i;

function loincCode(obx: Segment): string {
  if (['LN', 'LOINC'].includes(obx.get(3, 3).toUpperCase())) return obx.get(3, 1);
  if (['LN', 'LOINC'].includes(obx.get(3, 6).toUpperCase())) return obx.get(3, 4);
  return '';
}

/** True for OBX lines that are report narrative (TX, FT, or ST under a pathology section code), not coded findings. */
export function isNarrative(item: ResultItem): boolean {
  const type = item.obx.get(2).toUpperCase();
  if (NARRATIVE_TYPES.has(type)) return true;
  return type === 'ST' && loincCode(item.obx) in PATHOLOGY_SECTIONS;
}

interface Section {
  heading: string;
  conclusion: boolean;
  lines: string[];
}

/** Groups consecutive narrative OBX with the same OBX-3 and sub-id into headed sections. */
function sections(narrative: ResultItem[]): Section[] {
  const subIds = new Set(narrative.map((i) => i.obx.get(4)));
  const out: Section[] = [];
  let lastKey = '';
  for (const item of narrative) {
    const obx = item.obx;
    const loinc = loincCode(obx);
    const subId = obx.get(4);
    const key = `${obx.get(3, 1)}\u0000${obx.get(3, 4)}\u0000${subId}`;
    let section = out[out.length - 1];
    if (!section || key !== lastKey) {
      const label = PATHOLOGY_SECTIONS[loinc] ?? (obx.get(3, 2) || obx.get(3, 5) || obx.get(3, 1) || obx.get(3, 4));
      const heading = subIds.size > 1 && subId ? `${label} (${subId})` : label;
      section = { heading, conclusion: loinc === FINAL_DIAGNOSIS_LOINC || (!loinc && CONCLUSION_TEXT.test(label)), lines: [] };
      out.push(section);
      lastKey = key;
    }
    section.lines.push(...obx.texts(5));
    for (const nte of item.notes) section.lines.push(...nte.texts(3));
  }
  return out;
}

/** A one-line rendering of an Observation's value, for the report text. */
function valueText(o: Observation): string {
  const q = o.valueQuantity;
  if (q) return `${q.comparator ?? ''}${q.value ?? ''}${q.unit ? ` ${q.unit}` : ''}`;
  if (o.valueCodeableConcept) return o.valueCodeableConcept.text ?? o.valueCodeableConcept.coding?.[0]?.display ?? o.valueCodeableConcept.coding?.[0]?.code ?? '';
  if (o.valueString !== undefined) return o.valueString;
  if (o.valueRange) return `${o.valueRange.low?.value ?? ''}-${o.valueRange.high?.value ?? ''}${o.valueRange.low?.unit ? ` ${o.valueRange.low.unit}` : ''}`;
  if (o.valueRatio) return `${o.valueRatio.numerator?.value ?? ''}:${o.valueRatio.denominator?.value ?? ''}`;
  if (o.valueDateTime) return o.valueDateTime;
  if (o.component) return o.component.map((c) => valueText(c as Observation)).join('; ');
  return '';
}

/**
 * Builds the pathology report's presentedForm (one text/plain document with section headings,
 * coded findings and comments, plus any ED attachments), conclusion (final diagnosis sections)
 * and conclusionCode (ICD-O-3 / ICD-10 values, and SNOMED CT values of diagnosis items).
 */
export function buildPathology(title: string, narrative: ResultItem[], reportNotes: Segment[], coded: Observation[], attachments: Attachment[], issued: string | undefined): PathologyParts {
  const parts: string[] = [title, '='.repeat(Math.min(title.length, 80))];
  const secs = sections(narrative);
  for (const s of secs) parts.push('', s.heading.toUpperCase(), ...s.lines);
  const findings = coded.map((o) => `- ${o.code.text ?? o.code.coding?.[0]?.display ?? o.code.coding?.[0]?.code}: ${valueText(o)}`);
  if (findings.length) parts.push('', 'CODED FINDINGS', ...findings);
  const comments = reportNotes.flatMap((n) => n.texts(3));
  if (comments.length) parts.push('', 'COMMENTS', ...comments);
  const text = parts.join('\n') + '\n';
  const form: Attachment = {
    contentType: 'text/plain; charset=utf-8',
    data: Buffer.from(text, 'utf8').toString('base64'),
    title,
    ...(issued ? { creation: issued } : {}),
  };
  const result: PathologyParts = { presentedForm: [form, ...attachments] };
  const conclusion = secs.filter((s) => s.conclusion).map((s) => s.lines.join('\n')).join('\n\n');
  if (conclusion) result.conclusion = conclusion;
  const codes: CodeableConcept[] = [];
  for (const o of coded) {
    const cc = o.valueCodeableConcept;
    if (!cc) continue;
    const codeText = `${o.code.text ?? ''} ${o.code.coding?.map((c) => c.display ?? '').join(' ') ?? ''}`;
    const isDiagnosisItem = findCoding(o.code, [SYSTEMS.loinc])?.code === FINAL_DIAGNOSIS_LOINC || DIAGNOSIS_TEXT.test(codeText);
    if (findCoding(cc, DIAGNOSIS_SYSTEMS) || (isDiagnosisItem && findCoding(cc, [SYSTEMS.snomed]))) codes.push(cc);
  }
  if (codes.length) result.conclusionCode = codes;
  return result;
}
