import type { Request, Response } from 'express';

/** What the landing page needs to know about the running server. */
export interface LandingInfo {
  /** Public base URL of the server root, without a trailing slash. */
  baseUrl: string;
  version: string;
  /** GraphiQL is served (development only). */
  graphiql: boolean;
  /** The MLLP port when it is fixed by configuration. */
  mllpPort?: number;
}

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The HTML of the landing page at `/`: a short index of what this server offers. No scripts, no external resources. */
export function landingPageHtml(info: LandingInfo): string {
  const base = escapeHtml(info.baseUrl);
  const link = (path: string, text = `${base}${path}`): string => `<a href="${base}${path}">${text}</a>`;
  const post = (path: string): string => `<code>POST ${base}${path}</code>`;
  const rows: [string, string, string][] = [
    ['Clinician web page', link('/app/'), 'patients, timeline, lab trends, reports and letters, case summary, tumour board (sign in)'],
    ['FHIR R4 REST API', `<code>${base}/fhir</code>`, 'the FHIR base URL for clients'],
    ['CapabilityStatement', link('/fhir/metadata'), 'what the FHIR API supports'],
    ['Patients', link('/fhir/Patient?_elements=name,identifier'), 'a FHIR search'],
    ['GraphQL', info.graphiql ? link('/graphql') : post('/graphql'), info.graphiql ? 'GraphiQL in the browser; POST queries as JSON' : 'POST queries as JSON'],
    ['HL7 v2 over HTTP', post('/ingest/hl7v2'), 'ER7 messages, one or more per request'],
    ...(info.mllpPort ? [['HL7 v2 over MLLP', `<code>port ${info.mllpPort}</code>`, 'original-mode acknowledgements'] as [string, string, string]] : []),
    ['DICOM', `${post('/ingest/dicom')} ${post('/ingest/dicomweb')}`, 'Part 10 files; import from a DICOMweb server'],
    ['Documents', post('/ingest/documents'), 'PDF, text, C-CDA and MDM letters and reports'],
    ['Inbox', link('/ingest/messages'), 'every raw input received, with its status'],
    ['Failed inputs', link('/ingest/messages?status=failed'), 'what failed, and why'],
    ['Health', `${link('/healthz')} ${link('/readyz')}`, 'process up; database reachable'],
  ];
  const body = rows.map(([what, where, note]) => `<tr><th>${what}</th><td>${where}</td><td>${note}</td></tr>`).join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>IDR ${escapeHtml(info.version)}</title>
<style>body{font-family:sans-serif;margin:2em;max-width:60em}th{text-align:left;padding-right:1em}td{padding:.2em 1em .2em 0}</style>
</head>
<body>
<h1>IDR — Integrated Diagnostics Record</h1>
<p>Version ${escapeHtml(info.version)}. A patient's diagnostics in one FHIR R4 record, served as FHIR REST and GraphQL.</p>
<table>
${body}
</table>
</body>
</html>
`;
}

/**
 * Whether a request for the FHIR base (`GET /fhir`) is a person rather than a FHIR client: no
 * query, and an Accept that asks for HTML or names no JSON at all (a browser, a bare curl).
 */
export function wantsLandingPage(req: Request): boolean {
  if (req.originalUrl.includes('?')) return false;
  const accept = req.header('accept') ?? '';
  return /text\/html/i.test(accept) || !/fhir|json/i.test(accept);
}

/** Sends the landing page with headers that forbid scripts and outside resources. */
export function sendLandingPage(res: Response, info: LandingInfo): void {
  res.setHeader('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'");
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.status(200).type('html').send(landingPageHtml(info));
}
