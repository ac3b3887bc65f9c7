import { randomUUID } from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import { OperationOutcomeError } from '@medplum/core';
import type { Logger } from 'pino';
import type { Bundle, Composition, Resource } from '@medplum/fhirtypes';
import { openShare, type CaseShareDoc, type OpenedShare } from '../../fhir/case-share.ts';
import { identifyingPixels, metadataUrl, renderedUrl, sharedImages, type PacsIndex, type SharedImage, type UnviewableStudy } from '../../fhir/case-share-images.ts';
import { createDicomWebClient, type DicomJsonDataset } from '../../ingestion/listeners/dicomweb-client.ts';
import type { AccessRecord } from '../../store/audit-event.ts';
import type { Repository } from '../../store/repository.ts';
import { serverErrorWithId, unavailable } from '../../schema/outcomes.ts';
import { isStoreUnavailable } from '../../store/store-unavailable.ts';
import { ctxOf } from './context.ts';
import { sendOutcome } from './errors.ts';

/**
 * `GET /shared/{secret}`: a tumour board's case pack as an external recipient sees it — no bearer
 * token, the link is the capability (fhir/case-share.ts). 404 for an unknown link, 410 once it
 * expired or was revoked; otherwise the pack de-identified, as FHIR JSON or (Accept: text/html) a
 * plain page. Every view is recorded in the access audit with the recipient as the agent
 * (`share:<id>`), before anything is sent: if the record cannot be written, 503 and nothing shown.
 */
export function sharedCaseRouter(options: SharedCaseOptions): Router {
  const router = Router();
  router.get('/:secret', (req, res) => answer(req, res, options, async (opened) => {
    const html = req.accepts(['application/fhir+json', 'application/json', 'text/html']) === 'text/html';
    const listed = html ? await sharedImages(options.repo, opened.pack, opened.deidentifier, options.dicomwebRoots, pacsIndex(options.timeoutMs)) : undefined;
    await audited(req, res, options, opened.share, 200, opened.resources);
    if (listed) res.status(200).type('text/html; charset=utf-8').send(casePage(opened.bundle, opened.share, req.params.secret, listed));
    else res.status(200).type('application/fhir+json').send(JSON.stringify(opened.bundle));
  }));
  // The images of the case: what can be viewed, under the pack's remapped UIDs.
  router.get('/:secret/images', (req, res) => answer(req, res, options, async (opened) => {
    const { images, unviewable } = await sharedImages(options.repo, opened.pack, opened.deidentifier, options.dicomwebRoots, pacsIndex(options.timeoutMs));
    await audited(req, res, options, opened.share, 200, [opened.share.pack, ...new Set(images.map((i) => i.source.imagingStudy))], 'list of images');
    res.status(200).json({
      images: images.map((i) => ({ study: i.study, series: i.series, instance: i.instance, modality: i.modality, seriesNumber: i.seriesNumber, number: i.number, url: `${req.params.secret}/images/${i.study}/${i.series}/${i.instance}` })),
      unviewable,
    });
  }));
  // One image, rendered by the PACS as JPEG (no DICOM header, so no identity in it) and passed on.
  router.get('/:secret/images/:study/:series/:instance', (req, res) => answer(req, res, options, async (opened) => {
    const { images } = await sharedImages(options.repo, opened.pack, opened.deidentifier, options.dicomwebRoots, pacsIndex(options.timeoutMs));
    const image = images.find((i) => i.study === req.params.study && i.series === req.params.series && i.instance === req.params.instance);
    if (!image) return outcome(res, 404, 'not-found', 'This shared case has no such image');
    const what = `image ${image.source.studyUid} / ${image.source.seriesUid} / ${image.source.instanceUid}`;
    const fetched = await fetchImage(image, options.timeoutMs);
    if (!fetched.ok) {
      await audited(req, res, options, opened.share, fetched.status, [image.source.imagingStudy], `${what}: ${fetched.reason}`);
      return outcome(res, fetched.status, fetched.status === 403 ? 'forbidden' : 'transient', fetched.reason);
    }
    await audited(req, res, options, opened.share, 200, [image.source.imagingStudy], what);
    res.status(200).type(fetched.type).send(fetched.bytes);
  }));
  return router;
}

export interface SharedCaseOptions {
  repo: Repository;
  audit: { record(r: AccessRecord): Promise<void> };
  logger: Logger;
  pseudonymKey: () => Promise<Buffer>;
  /** The DICOMweb roots of the PACS IDR reads from (IDR_DICOMWEB_SOURCES, IDR_DICOMWEB_URL): only their studies' images are shown. */
  dicomwebRoots: readonly string[];
  /** Timeout of one request to a PACS (IDR_DICOMWEB_TIMEOUT_MS). */
  timeoutMs: number;
}

type Opened = Extract<OpenedShare, { status: 'open' }>;

/** Recorded in the audit before anything is sent; thrown when it cannot be (the caller answers 503). */
class NotAudited extends Error {}

/**
 * Opens the link and runs `show` for an open share; answers 404 for an unknown link and 410 (audited)
 * for an expired or revoked one. Errors are answered here, not by the app's error handler: that
 * one logs the path, which holds the secret.
 */
async function answer(req: Request<{ secret: string }>, res: Response, options: SharedCaseOptions, show: (opened: Opened) => Promise<void>): Promise<void> {
  try {
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Referrer-Policy', 'no-referrer');
    const opened = await openShare(options.repo, await options.pseudonymKey(), req.params.secret);
    if (opened.status === 'unknown') return outcome(res, 404, 'not-found', 'No shared case at this link');
    if (opened.status === 'gone') {
      await audited(req, res, options, opened.share, 410, [opened.share.pack]);
      return outcome(res, 410, 'deleted', opened.why === 'revoked' ? 'This shared case was withdrawn' : 'This link has expired');
    }
    await show(opened);
  } catch (err) {
    if (err instanceof NotAudited) {
      res.setHeader('Retry-After', '5');
      return outcome(res, 503, 'transient', 'The view could not be recorded in the audit trail, so nothing is shown: retry shortly');
    }
    if (err instanceof OperationOutcomeError) return sendOutcome(res, err.outcome);
    const errorId = randomUUID();
    options.logger.error({ err, errorId, requestId: ctxOf(res).requestId }, 'a shared case could not be opened');
    if (isStoreUnavailable(err)) {
      res.setHeader('Retry-After', '5');
      return sendOutcome(res, unavailable('The database is not available: retry shortly'), 503);
    }
    sendOutcome(res, serverErrorWithId(errorId));
  }
}

/** Records one view of the share in the access audit; throws NotAudited when the record cannot be written. */
async function audited(req: Request, res: Response, options: SharedCaseOptions, share: CaseShareDoc, status: number, resources: string[], detail?: string): Promise<void> {
  const record = viewRecord(req, res, share, status, resources, detail);
  try {
    await options.audit.record(record);
  } catch (err) {
    options.logger.error({ err, requestId: record.requestId }, 'a view of a shared case could not be recorded in the audit trail: nothing is shown');
    throw new NotAudited();
  }
}

/** QIDO-RS over the DICOMweb client the imports use (one retry: a recipient is waiting). */
function pacsIndex(timeoutMs: number): PacsIndex {
  const text = (ds: DicomJsonDataset, tag: string): string | undefined => {
    const v = ds[tag]?.Value?.[0];
    return typeof v === 'string' || typeof v === 'number' ? String(v) : undefined;
  };
  const num = (ds: DicomJsonDataset, tag: string): { number?: number } => {
    const n = Number(text(ds, tag));
    return Number.isInteger(n) ? { number: n } : {};
  };
  const client = (root: string) => createDicomWebClient({ baseUrl: root, timeoutMs, retries: 1 });
  return {
    series: async (root, studyUid) => (await client(root).searchSeries(studyUid)).flatMap((ds) => {
      const uid = text(ds, '0020000E');
      const modality = text(ds, '00080060');
      return uid ? [{ uid, ...num(ds, '00200011'), ...(modality ? { modality } : {}) }] : [];
    }),
    instances: async (root, studyUid, seriesUid) => (await client(root).searchInstances(studyUid, seriesUid, { includefield: ['00200013'] })).flatMap((ds) => {
      const uid = text(ds, '00080018');
      return uid ? [{ uid, ...num(ds, '00200013') }] : [];
    }).sort((a, b) => (a.number ?? 0) - (b.number ?? 0)),
  };
}

/** The rendered image from the PACS, or why there is none (403: identifying pixels; 502/504: the PACS). */
async function fetchImage(image: SharedImage, timeoutMs: number): Promise<{ ok: true; type: string; bytes: Buffer } | { ok: false; status: number; reason: string }> {
  try {
    const meta = await fetch(metadataUrl(image), { headers: { accept: 'application/dicom+json' }, signal: AbortSignal.timeout(timeoutMs) });
    if (!meta.ok) return { ok: false, status: 502, reason: `The PACS did not give this image's metadata (HTTP ${meta.status})` };
    const identifying = identifyingPixels(await meta.json());
    if (identifying) return { ok: false, status: 403, reason: `Not shown: ${identifying}` };
    const rendered = await fetch(renderedUrl(image), { headers: { accept: 'image/jpeg' }, signal: AbortSignal.timeout(timeoutMs) });
    const type = rendered.headers.get('content-type')?.split(';')[0]?.trim() ?? '';
    if (!rendered.ok || !/^image\/(jpeg|png)$/.test(type)) return { ok: false, status: 502, reason: `The PACS did not render this image (HTTP ${rendered.status}${type ? `, ${type}` : ''})` };
    return { ok: true, type, bytes: Buffer.from(await rendered.arrayBuffer()) };
  } catch (err) {
    const timeout = err instanceof Error && err.name === 'TimeoutError';
    return { ok: false, status: timeout ? 504 : 502, reason: timeout ? 'The PACS did not answer in time' : 'The PACS could not be reached' };
  }
}

function outcome(res: Response, status: number, code: string, text: string): void {
  res.status(status).type('application/fhir+json').send(JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, details: { text } }] }));
}

/** The audit record of one view: the recipient as agent, the patient and every resource shown. */
function viewRecord(req: Request, res: Response, share: CaseShareDoc, status: number, resources: string[], detail?: string): AccessRecord {
  const types = [...new Set(resources.map((r) => r.slice(0, r.indexOf('/'))))];
  return {
    time: new Date(),
    requestId: ctxOf(res).requestId,
    agent: { subject: `share:${share.id}`, issuer: '', role: 'external-recipient', name: `${share.recipient.name} <${share.recipient.email}>`, ...(req.ip ? { address: req.ip } : {}) },
    purpose: share.purpose,
    interaction: 'read',
    action: 'R',
    outcome: status === 200 ? 'success' : 'failed',
    status,
    ...(status === 410 ? { reason: `shared case ${share.id} ${share.revoked ? 'revoked' : 'expired'}` } : status !== 200 && detail ? { reason: detail } : {}),
    patients: [share.patient],
    resources,
    types,
    query: `GET /shared/{secret}${req.path.replace(/^\/[^/]+/, '')} (share ${share.id}, ${share.task}, ${share.pack}${detail ? `; ${detail}` : ''})`,
  };
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

/** The text lines of a narrative div (its list items or paragraphs), tags removed. */
function lines(div: string | undefined): string[] {
  if (!div) return [];
  const unescape = (s: string): string => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
  return div.split(/<\/(?:li|p)>/).map((s) => unescape(s.replace(/<[^>]*>/g, '')).trim()).filter(Boolean);
}

/** A one-line description of a resource: its type, what it is, its status and date. */
function summary(r: Resource): string {
  const x = r as Resource & { code?: { text?: string; coding?: { display?: string; code?: string }[] }; status?: string; description?: string; modality?: { code?: string }[]; effectiveDateTime?: string; started?: string; issued?: string; date?: string; gender?: string; birthDate?: string };
  const what = x.description ?? x.code?.text ?? x.code?.coding?.[0]?.display ?? x.code?.coding?.[0]?.code ?? x.modality?.map((m) => m.code).join(', ');
  const when = x.effectiveDateTime ?? x.started ?? x.issued ?? x.date ?? x.birthDate;
  return [r.resourceType, what, x.gender, x.status, when?.slice(0, 10)].filter(Boolean).join(' · ');
}

/** The images of the case as figures (rendered by the PACS, fetched through IDR), and plainly why a study has none. */
function imagesSection(secret: string, listed: { images: SharedImage[]; unviewable: UnviewableStudy[] }): string {
  if (!listed.images.length && !listed.unviewable.length) return '';
  const figures = listed.images.map((i) => {
    const caption = `${i.modality ?? 'Image'} · series ${i.seriesNumber} · image ${i.number}`;
    return `<figure><img src="${esc(`${secret}/images/${i.study}/${i.series}/${i.instance}`)}" alt="${esc(caption)}" loading="lazy" width="256"><figcaption>${esc(caption)}</figcaption></figure>`;
  }).join('');
  const none = listed.unviewable.map((u) => `<li>Study ${esc(u.study)}: no images shown — ${esc(u.reason)}.</li>`).join('');
  return `<section><h2>Images</h2>${figures ? `<div class="images">${figures}</div>` : ''}${none ? `<ul>${none}</ul>` : ''}</section>`;
}

/** The de-identified pack as a plain HTML page: sections, then the resources; every text escaped, no scripts. */
function casePage(bundle: Bundle, share: CaseShareDoc, secret: string, listed: { images: SharedImage[]; unviewable: UnviewableStudy[] }): string {
  const resources = (bundle.entry ?? []).flatMap((e) => (e.resource ? [e.resource] : []));
  const composition = resources.find((r) => r.resourceType === 'Composition') as Composition | undefined;
  const sections = (composition?.section ?? []).map((s) => `<section><h2>${esc(s.title ?? '')}</h2><ul>${lines(s.text?.div).map((l) => `<li>${esc(l)}</li>`).join('')}</ul></section>`).join('\n');
  const list = resources.filter((r) => r.resourceType !== 'Composition').map((r) => `<li>${esc(summary(r))} <small>(${esc(`${r.resourceType}/${r.id ?? ''}`)})</small></li>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex"><title>Shared tumour board case</title>
<style>body{font-family:system-ui,sans-serif;max-width:50rem;margin:2rem auto;padding:0 1rem;line-height:1.4}small{color:#666}.images{display:flex;flex-wrap:wrap;gap:1rem}figure{margin:0}img{background:#000;max-width:256px;height:auto}</style></head>
<body><h1>Shared tumour board case (pseudonymised)</h1>
<p>Shared for ${esc(share.purpose)} with ${esc(share.recipient.name)} until ${esc(share.expires.toISOString().slice(0, 16).replace('T', ' '))} UTC. Dates are shifted and identities removed; every view is recorded.</p>
${sections}
${imagesSection(secret, listed)}
<section><h2>Resources</h2><ul>${list}</ul></section>
</body></html>`;
}
