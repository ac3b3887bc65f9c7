import { randomUUID } from 'node:crypto';
import type { Bundle, Composition, CompositionSection, Reference, Resource } from '@medplum/fhirtypes';
import type { CaseSummary } from '../timeline/case-summary.ts';

/**
 * A tumour board's case pack (pure): what the case summary shows, as the sections of a
 * Composition whose entries are versioned references ("Observation/7/_history/3") to the exact
 * resource versions shown, packed with those versions into a `document` Bundle. The Bundle is
 * stored once and never rewritten; preparing again makes a new one (docs/tumour-board.md).
 * See: https://hl7.org/fhir/R4/documents.html
 */

/** LOINC's document type of a tumour board's note (also on the board's decision). */
export const TUMOR_BOARD_NOTE = { system: 'http://loinc.org', code: '85232-7', display: 'Tumor board Consult note' } as const;

/** One line of a section and the resources ("Type/id") it was read from. */
export interface PackLine {
  text: string;
  refs: string[];
}

/** A section of the pack before it is bound to resource versions. */
export interface PackSection {
  title: string;
  lines: PackLine[];
}

/** The sections a board reads, from the case summary (empty ones left out). */
export function packSections(s: CaseSummary): PackSection[] {
  const day = (d: Date | null): string => (d ? ` (${d.toISOString().slice(0, 10)})` : '');
  const diagnosis: PackLine[] = s.primaryDiagnosis
    ? [{ text: `${s.primaryDiagnosis.display}${s.primaryDiagnosis.code ? ` [${s.primaryDiagnosis.code}]` : ''}${day(s.primaryDiagnosis.date)}`, refs: [s.primaryDiagnosis.reference] }]
    : [];
  const pathology: PackLine[] = [];
  if (s.latestPathology) {
    const r = s.latestPathology.report;
    pathology.push({ text: `Latest pathology report${day(s.latestPathology.date)}${r.conclusion ? `: ${r.conclusion}` : ''}`, refs: [`DiagnosticReport/${r.id}`] });
  }
  for (const f of s.pathologyFindings) {
    const others = f.otherValues.map((o) => `${o.value}${day(o.date)}`).join(', ');
    pathology.push({ text: `${f.item}: ${f.value}${day(f.date)}${others ? `; earlier: ${others}` : ''}`, refs: [`DiagnosticReport/${f.report.id}`] });
  }
  for (const b of s.biomarkers) {
    if (s.pathologyFindings.some((f) => f.item.toLowerCase() === b.item.toLowerCase())) continue;
    pathology.push({ text: `${b.item}: ${b.latest.value}${day(b.latest.date)}${b.conflicting ? ' (reports disagree)' : ''}`, refs: [b.latest.source, ...b.latest.observations] });
  }
  for (const t of s.tnm.filter((x) => x.current)) {
    const tnm = [t.t, t.n, t.m].filter(Boolean).join(' ');
    const refs = t.source ? [t.source] : [];
    pathology.push({ text: `${t.prefix}TNM ${tnm}${t.stageGroup ? `, stage ${t.stageGroup} (${t.stageGroupBasis})` : ''}${t.edition ? `, edition ${t.edition}` : ''}`, refs });
  }
  const imaging: PackLine[] = s.imaging.map((i) => ({
    text: `${i.modality}${day(i.date)}${i.conclusion ? `: ${i.conclusion}` : ''}`,
    refs: [`ImagingStudy/${i.study.id}`, ...(i.report ? [`DiagnosticReport/${i.report.id}`] : [])],
  }));
  const labs: PackLine[] = s.keyLabs.filter((l) => l.latest).map((l) => ({
    text: `${l.name ?? l.code}: ${l.latest?.text ?? ''}${l.latest?.abnormal ? ' (abnormal)' : ''}${day(l.latest?.time ?? null)}`,
    refs: l.latest ? [l.latest.reference] : [],
  }));
  const procedures: PackLine[] = s.procedures.map((p) => ({ text: `${p.display}${day(p.date)}`, refs: [p.reference] }));
  const letters: PackLine[] = s.recentLetters.map((d) => ({
    text: `${d.description ?? d.type?.text ?? d.type?.coding?.[0]?.display ?? 'Letter'}${day(d.date ? new Date(d.date) : null)}`,
    refs: [`DocumentReference/${d.id}`],
  }));
  return [
    { title: 'Diagnosis', lines: diagnosis },
    { title: 'Pathology findings', lines: pathology },
    { title: 'Latest imaging', lines: imaging },
    { title: 'Key labs', lines: labs },
    { title: 'Procedures', lines: procedures },
    { title: 'Recent letters', lines: letters },
  ].filter((x) => x.lines.length > 0);
}

/** "Type/id/_history/n" of a stored resource. */
export function versionedReference(r: Resource): string {
  return `${r.resourceType}/${r.id}/_history/${r.meta?.versionId ?? '1'}`;
}

/** Options of a pack: the patient, the question, when, and the resource versions read for it by "Type/id". */
export interface CasePackInput {
  patient: Resource;
  question: string;
  meeting?: Reference;
  prepared: Date;
  sections: PackSection[];
  snapshots: Map<string, Resource>;
  /** fullUrl of a stored resource ("https://idr.example/fhir/Observation/7"). */
  fullUrl: (key: string) => string;
}

/** The document Bundle: the Composition first, then every resource version it references, the Patient included. */
export function casePackBundle(input: CasePackInput): Bundle {
  const { patient, snapshots } = input;
  const used = new Map<string, Resource>();
  const sections: CompositionSection[] = [{ title: 'Question for the board', text: narrative([input.question]) }];
  for (const s of input.sections) {
    // A line whose resources the caller may not read (or that vanished since the summary) is left out.
    const lines = s.lines.filter((l) => l.refs.length > 0 && l.refs.every((r) => snapshots.has(r)));
    if (!lines.length) continue;
    const keys = [...new Set(lines.flatMap((l) => l.refs))];
    for (const k of keys) used.set(k, snapshots.get(k) as Resource);
    sections.push({ title: s.title, text: narrative(lines.map((l) => l.text)), entry: keys.map((k) => ({ reference: versionedReference(snapshots.get(k) as Resource) })) });
  }
  const id = randomUUID();
  const title = `Tumour board case pack: ${patientName(patient)}`;
  const composition: Composition = {
    resourceType: 'Composition',
    id,
    text: narrative([title, `Prepared ${input.prepared.toISOString()}`]),
    identifier: { system: 'urn:ietf:rfc:3986', value: `urn:uuid:${id}` },
    status: 'final',
    type: { coding: [TUMOR_BOARD_NOTE], text: 'Tumour board case pack' },
    subject: { reference: `Patient/${patient.id}` },
    date: input.prepared.toISOString(),
    author: [{ display: 'IDR case preparation' }],
    title,
    ...(input.meeting ? { event: [{ detail: [input.meeting] }] } : {}),
    section: sections,
  };
  const entries = [...used.values()].filter((r) => r.resourceType !== 'Patient');
  return {
    resourceType: 'Bundle',
    identifier: { system: 'urn:ietf:rfc:3986', value: `urn:uuid:${randomUUID()}` },
    type: 'document',
    timestamp: input.prepared.toISOString(),
    entry: [
      { fullUrl: `urn:uuid:${id}`, resource: composition },
      { fullUrl: input.fullUrl(`Patient/${patient.id}`), resource: patient },
      ...entries.map((r) => ({ fullUrl: input.fullUrl(`${r.resourceType}/${r.id}`), resource: r })),
    ],
  };
}

function patientName(p: Resource): string {
  const name = p.resourceType === 'Patient' ? p.name?.[0] : undefined;
  return [name?.given?.join(' '), name?.family].filter(Boolean).join(' ') || `Patient/${p.id}`;
}

/** XHTML narrative (txt-1/txt-2): one paragraph, or a list for several lines; text escaped. */
function narrative(lines: string[]): { status: 'generated'; div: string } {
  const body = lines.length === 1 ? `<p>${escapeXml(lines[0] as string)}</p>` : `<ul>${lines.map((l) => `<li>${escapeXml(l)}</li>`).join('')}</ul>`;
  return { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${body}</div>` };
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
