import type { Condition, DiagnosticReport, DocumentReference, Endpoint, Group, ImagingStudy, Resource } from '@medplum/fhirtypes';
import { cohortCriteria } from '../../fhir/cohort.ts';
import type { GraphqlContext } from './context.ts';
import type { TimelineDoc } from '../../schema/timeline-event.ts';
import { reportKind } from '../../timeline/events.ts';
import { conceptText, firstTime } from '../../timeline/format.ts';
import type { CaseSummaryParts, ProcedureSummary } from '../../timeline/case-summary.ts';

/** Field resolvers of the types backed by FHIR resources or timeline documents. */

const present = (r: Resource | Error | null): r is Resource => !!r && !(r instanceof Error);
const date = (...v: (string | undefined)[]): Date | null => firstTime(...v) ?? null;
const codes = (ccs: { coding?: { code?: string }[] }[] | undefined): string[] => (ccs ?? []).flatMap((c) => (c.coding ?? []).map((x) => x.code ?? '')).filter(Boolean);

export const typeResolvers = {
  TimelineEvent: {
    id: (e: TimelineDoc) => e.anchor,
    reference: (e: TimelineDoc) => e.anchor,
    references: (e: TimelineDoc) => e.refs,
    resource: (e: TimelineDoc, _: unknown, c: GraphqlContext) => c.loaders.resource.load(e.anchor),
    resources: async (e: TimelineDoc, _: unknown, c: GraphqlContext) => (await c.loaders.resource.loadMany(e.refs)).filter(present),
  },
  Report: {
    reference: (r: DiagnosticReport) => `DiagnosticReport/${r.id}`,
    kind: (r: DiagnosticReport) => reportKind(r),
    category: (r: DiagnosticReport) => codes(r.category),
    title: (r: DiagnosticReport) => conceptText(r.code) ?? null,
    effective: (r: DiagnosticReport) => date(r.effectiveDateTime, r.effectivePeriod?.start),
    issued: (r: DiagnosticReport) => date(r.issued),
    resource: (r: DiagnosticReport) => r,
    results: async (r: DiagnosticReport, _: unknown, c: GraphqlContext) => (await c.loaders.resource.loadMany((r.result ?? []).map((x) => x.reference ?? ''))).filter(present),
  },
  Cohort: {
    criteria: (g: Group) => cohortCriteria(g).map((c) => `${c.exclude ? 'NOT ' : ''}${c.query}`),
    memberCount: (g: Group) => g.quantity ?? (g.member ?? []).filter((m) => !m.inactive).length,
    evaluatedAt: (g: Group) => date(g.member?.[0]?.period?.start),
    members: async (g: Group, args: { first?: number }, c: GraphqlContext) => {
      const refs = (g.member ?? []).filter((m) => !m.inactive).map((m) => m.entity.reference ?? '').filter((r) => r.startsWith('Patient/')).slice(0, Math.min(Math.max(args.first ?? 50, 0), 500));
      return (await c.loaders.resource.loadMany(refs)).filter(present);
    },
    resource: (g: Group) => g,
  },
  ImagingStudy: {
    reference: (s: ImagingStudy) => `ImagingStudy/${s.id}`,
    started: (s: ImagingStudy) => date(s.started),
    modalities: (s: ImagingStudy) => [...new Set([...(s.modality ?? []), ...(s.series ?? []).map((x) => x.modality)].map((m) => m?.code).filter(Boolean))],
    report: async (s: ImagingStudy, _: unknown, c: GraphqlContext) => (await c.loaders.studyReports.load(`ImagingStudy/${s.id}`))[0] ?? null,
    studyInstanceUid: (s: ImagingStudy) => studyUid(s) ?? null,
    viewerUrl: (s: ImagingStudy, _: unknown, c: GraphqlContext) => {
      const uid = studyUid(s);
      return uid && c.viewerTemplate ? c.viewerTemplate.replaceAll('{studyUid}', encodeURIComponent(uid)) : null;
    },
    wadoRsUrl: async (s: ImagingStudy, _: unknown, c: GraphqlContext) => {
      const uid = studyUid(s);
      const ref = s.endpoint?.[0]?.reference;
      const endpoint = uid && ref ? ((await c.loaders.resource.load(ref)) as Endpoint | null) : null;
      return endpoint?.address ? `${endpoint.address.replace(/\/$/, '')}/studies/${uid}` : null;
    },
    resource: (s: ImagingStudy) => s,
  },
  Document: {
    reference: (d: DocumentReference) => `DocumentReference/${d.id}`,
    date: (d: DocumentReference) => date(d.date, d.context?.period?.start, d.content?.[0]?.attachment?.creation),
    type: (d: DocumentReference) => conceptText(d.type) ?? null,
    category: (d: DocumentReference) => (d.category ?? []).map((c) => conceptText(c)).filter(Boolean),
    title: (d: DocumentReference) => d.content?.[0]?.attachment?.title ?? d.description ?? conceptText(d.type) ?? null,
    contentType: (d: DocumentReference) => d.content?.[0]?.attachment?.contentType ?? null,
    url: (d: DocumentReference) => d.content?.[0]?.attachment?.url ?? null,
    resource: (d: DocumentReference) => d,
  },
  CaseSummary: {
    latestImaging: (s: CaseSummaryParts) => s.imaging(),
  },
  ProcedureSummary: {
    resource: (p: ProcedureSummary) => p.procedure,
  },
  Condition: {
    reference: (x: Condition) => `Condition/${x.id}`,
    code: (x: Condition) => x.code?.coding?.[0]?.code ?? null,
    display: (x: Condition) => conceptText(x.code) ?? null,
    onset: (x: Condition) => date(x.onsetDateTime, x.onsetPeriod?.start),
    recorded: (x: Condition) => date(x.recordedDate),
    clinicalStatus: (x: Condition) => x.clinicalStatus?.coding?.[0]?.code ?? null,
    verificationStatus: (x: Condition) => x.verificationStatus?.coding?.[0]?.code ?? null,
    stage: (x: Condition) => x.stage?.map((s) => conceptText(s.summary)).filter(Boolean).join(', ') || null,
    resource: (x: Condition) => x,
  },
};

/** The StudyInstanceUID of an ImagingStudy (its `urn:dicom:uid` identifier, value `urn:oid:<uid>`). */
function studyUid(s: ImagingStudy): string | undefined {
  const id = s.identifier?.find((i) => i.system === 'urn:dicom:uid')?.value;
  return id?.startsWith('urn:oid:') ? id.slice('urn:oid:'.length) : id;
}
