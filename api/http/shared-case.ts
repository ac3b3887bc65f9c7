import { randomUUID } from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import { OperationOutcomeError } from '@medplum/core';
import type { Logger } from 'pino';
import type { Bundle, Composition, Resource } from '@medplum/fhirtypes';
import { openShare, type CaseShareDoc } from '../../fhir/case-share.ts';
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
export function sharedCaseRouter(options: { repo: Repository; audit: { record(r: AccessRecord): Promise<void> }; logger: Logger; pseudonymKey: () => Promise<Buffer> }): Router {
  const router = Router();
  router.get('/:secret', async (req, res) => {
    try {
      res.setHeader('Cache-Control', 'no-store');
      res.setHeader('Referrer-Policy', 'no-referrer');
      const opened = await openShare(options.repo, await options.pseudonymKey(), req.params.secret);
      if (opened.status === 'unknown') return outcome(res, 404, 'not-found', 'No shared case at this link');
      const html = req.accepts(['application/fhir+json', 'application/json', 'text/html']) === 'text/html';
      const status = opened.status === 'gone' ? 410 : 200;
      const record = viewRecord(req, res, opened.share, status, opened.status === 'open' ? opened.resources : [opened.share.pack]);
      try {
        await options.audit.record(record);
      } catch (err) {
        options.logger.error({ err, requestId: record.requestId }, 'a view of a shared case could not be recorded in the audit trail: nothing is shown');
        res.setHeader('Retry-After', '5');
        return outcome(res, 503, 'transient', 'The view could not be recorded in the audit trail, so nothing is shown: retry shortly');
      }
      if (opened.status === 'gone') return outcome(res, 410, 'deleted', opened.why === 'revoked' ? 'This shared case was withdrawn' : 'This link has expired');
      if (html) res.status(200).type('text/html; charset=utf-8').send(casePage(opened.bundle, opened.share));
      else res.status(200).type('application/fhir+json').send(JSON.stringify(opened.bundle));
    } catch (err) {
      // Answered here, not by the app's error handler: that one logs the path, which holds the secret.
      if (err instanceof OperationOutcomeError) return sendOutcome(res, err.outcome);
      const errorId = randomUUID();
      options.logger.error({ err, errorId, requestId: ctxOf(res).requestId }, 'a shared case could not be opened');
      if (isStoreUnavailable(err)) {
        res.setHeader('Retry-After', '5');
        return sendOutcome(res, unavailable('The database is not available: retry shortly'), 503);
      }
      sendOutcome(res, serverErrorWithId(errorId));
    }
  });
  return router;
}

function outcome(res: Response, status: number, code: string, text: string): void {
  res.status(status).type('application/fhir+json').send(JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, details: { text } }] }));
}

/** The audit record of one view: the recipient as agent, the patient and every resource shown. */
function viewRecord(req: Request, res: Response, share: CaseShareDoc, status: number, resources: string[]): AccessRecord {
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
    ...(status !== 200 ? { reason: `shared case ${share.id} ${share.revoked ? 'revoked' : 'expired'}` } : {}),
    patients: [share.patient],
    resources,
    types,
    query: `GET /shared/{secret} (share ${share.id}, ${share.task}, ${share.pack})`,
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

/** The de-identified pack as a plain HTML page: sections, then the resources; every text escaped, no scripts. */
function casePage(bundle: Bundle, share: CaseShareDoc): string {
  const resources = (bundle.entry ?? []).flatMap((e) => (e.resource ? [e.resource] : []));
  const composition = resources.find((r) => r.resourceType === 'Composition') as Composition | undefined;
  const sections = (composition?.section ?? []).map((s) => `<section><h2>${esc(s.title ?? '')}</h2><ul>${lines(s.text?.div).map((l) => `<li>${esc(l)}</li>`).join('')}</ul></section>`).join('\n');
  const list = resources.filter((r) => r.resourceType !== 'Composition').map((r) => `<li>${esc(summary(r))} <small>(${esc(`${r.resourceType}/${r.id ?? ''}`)})</small></li>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex"><title>Shared tumour board case</title>
<style>body{font-family:system-ui,sans-serif;max-width:50rem;margin:2rem auto;padding:0 1rem;line-height:1.4}small{color:#666}</style></head>
<body><h1>Shared tumour board case (pseudonymised)</h1>
<p>Shared for ${esc(share.purpose)} with ${esc(share.recipient.name)} until ${esc(share.expires.toISOString().slice(0, 16).replace('T', ' '))} UTC. Dates are shifted and identities removed; every view is recorded.</p>
${sections}
<section><h2>Resources</h2><ul>${list}</ul></section>
</body></html>`;
}
