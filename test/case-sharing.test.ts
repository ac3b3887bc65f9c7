/* eslint-disable @typescript-eslint/no-explicit-any -- assertions read FHIR JSON bodies */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Patient, Resource } from '@medplum/fhirtypes';
import { fhirFetch, startTestServer, type TestServer } from './support/server.ts';
import { userToken } from './support/auth.ts';
import { create, ICD10, patient } from './support/factory.ts';
import { findDirectIdentifiers, patientFacts } from '../fhir/deidentify.ts';
import express from 'express';
import type { AddressInfo } from 'node:net';
import { sharedCaseRouter } from '../api/http/shared-case.ts';
import { requestContext } from '../api/http/context.ts';
import { accessLog, createLogger } from '../api/logger.ts';
import { pseudonymKey } from '../store/pseudonym-key.ts';

/**
 * Sharing a tumour board's case outside the hospital over real HTTP: $share answers a link once;
 * the link opens without a token and shows the case pack with no direct identifier of the patient
 * (JSON and HTML alike), images only under remapped UIDs; every view is an AuditEvent naming the
 * recipient and the ImagingStudy; an expired or revoked link answers 410; a read-only clinician
 * cannot share.
 */

let server: TestServer;
let subject: Patient;
const ids: Record<string, string> = {};
const STUDY_UID = '1.2.826.0.1.3680043.8.498.77';

beforeAll(async () => {
  server = await startTestServer();
  subject = await create(server.fhir, patient('999966747', { name: [{ use: 'official', family: 'Visser', given: ['Greetje'] }] }));
  const pid = subject.id as string;
  ids.study = (await create(server.fhir, {
    resourceType: 'ImagingStudy', status: 'available', subject: { reference: `Patient/${pid}` },
    identifier: [{ system: 'urn:dicom:uid', value: `urn:oid:${STUDY_UID}` }],
    started: '2026-10-01T09:00:00Z', modality: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: 'MR' }],
    description: 'MRI breast', numberOfSeries: 1, numberOfInstances: 1,
    series: [{ uid: `${STUDY_UID}.1`, modality: { system: 'http://dicom.nema.org/resources/ontology/DCM', code: 'MR' }, instance: [{ uid: `${STUDY_UID}.1.1`, sopClass: { system: 'urn:ietf:rfc:3986', code: 'urn:oid:1.2.840.10008.5.1.4.1.1.4' } }] }],
  } as Resource)).id;
  ids.report = (await create(server.fhir, {
    resourceType: 'DiagnosticReport', status: 'final', subject: { reference: `Patient/${pid}` },
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'RAD' }] }],
    code: { coding: [{ system: 'http://loinc.org', code: '24627-2', display: 'MR Breast' }] },
    effectiveDateTime: '2026-10-01T09:00:00Z', issued: '2026-10-01T15:00:00Z',
    imagingStudy: [{ reference: `ImagingStudy/${ids.study}` }],
    conclusion: 'Mevrouw Greetje Visser (BSN 999966747): mass of 23 mm in the left breast, BI-RADS 5',
  } as Resource)).id;
  ids.condition = (await create(server.fhir, {
    resourceType: 'Condition', subject: { reference: `Patient/${pid}` }, onsetDateTime: '2026-10-04',
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
    verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'confirmed' }] },
    code: { coding: [{ system: ICD10, code: 'C50.4', display: 'Malignant neoplasm of upper-outer quadrant of breast' }] },
  } as Resource)).id;
  ids.meeting = (await create(server.fhir, {
    resourceType: 'Appointment', status: 'booked', description: 'Breast tumour board', start: '2026-11-30T16:00:00Z', end: '2026-11-30T17:00:00Z',
    participant: [{ type: [{ text: 'Tumour board' }], status: 'accepted' }],
  } as Resource)).id;
  ids.task = (await create(server.fhir, {
    resourceType: 'Task', status: 'requested', intent: 'order', code: { text: 'Tumour board review' },
    for: { reference: `Patient/${pid}` }, basedOn: [{ reference: `Appointment/${ids.meeting}` }],
    input: [{ type: { text: 'Question for the board' }, valueString: 'Second opinion on the MRI of Greetje Visser' }],
  } as Resource)).id;
  const prepared = await fhirFetch(`${server.fhir}/Task/${ids.task}/$prepare`, { method: 'POST', json: { resourceType: 'Parameters' } });
  expect(prepared.status, JSON.stringify(prepared.body)).toBe(200);
}, 120_000);
afterAll(async () => {
  await server?.close();
});

const RECIPIENT = 'Dr. E. Xpert <e.xpert@umc.example>';

async function share(extra: any[] = [], headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  return fhirFetch(`${server.fhir}/Task/${ids.task}/$share`, {
    method: 'POST', headers,
    json: { resourceType: 'Parameters', parameter: [{ name: 'recipient', valueString: RECIPIENT }, { name: 'purpose', valueCode: 'second-opinion' }, ...extra] },
  });
}
const value = (body: any, name: string) => body.parameter.find((p: any) => p.name === name);

describe('sharing a case outside the hospital', () => {
  let link: string;
  let shareId: string;

  it('$share answers a link under /shared and a share id', async () => {
    const r = await share();
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    link = value(r.body, 'link').valueUrl;
    shareId = value(r.body, 'share').valueString;
    expect(link).toMatch(new RegExp(`^${server.url}/shared/[A-Za-z0-9_-]{43}$`));
    const expires = Date.parse(value(r.body, 'expires').valueDateTime);
    expect(expires - Date.now()).toBeGreaterThan(13 * 86_400_000);
    // Only the hash of the secret is stored.
    const secret = link.slice(link.lastIndexOf('/') + 1);
    const stored = await server.services.database.db.collection('case_shares').findOne({ id: shareId });
    expect(stored).not.toBeNull();
    expect(JSON.stringify(stored)).not.toContain(secret);
  });

  it('the link opens without a token and shows no direct identifier; images only by remapped UIDs', async () => {
    const res = await fetch(link, { headers: { accept: 'application/fhir+json' } });
    expect(res.status).toBe(200);
    const text = await res.text();
    const body = JSON.parse(text);
    expect(body.type).toBe('document');
    expect(findDirectIdentifiers(text, [patientFacts(subject)])).toEqual([]);
    const types = body.entry.map((e: any) => e.resource.resourceType);
    expect(types).toEqual(expect.arrayContaining(['Composition', 'Patient', 'ImagingStudy', 'DiagnosticReport', 'Condition']));
    const pat = body.entry.find((e: any) => e.resource.resourceType === 'Patient').resource;
    expect(pat.name).toBeUndefined();
    expect(pat.address).toBeUndefined();
    expect(pat.telecom).toBeUndefined();
    expect(JSON.stringify(pat.identifier ?? [])).not.toContain('999966747');
    const study = body.entry.find((e: any) => e.resource.resourceType === 'ImagingStudy').resource;
    expect(study.identifier[0].value).toMatch(/^urn:oid:2\.25\.\d+$/);
    expect(study.series[0].uid).toMatch(/^2\.25\.\d+$/);
    expect(text).not.toContain(STUDY_UID);
    // No way to the images but the remapped UIDs: no WADO or DICOMweb address, no endpoint.
    expect(text).not.toMatch(/\/wado|wado-(rs|uri)|dicom-?web|"endpoint"/i);
    expect(text).not.toContain(server.url);
    for (const id of Object.values(ids)) expect(text).not.toContain(id);
    // The Composition's references point at the entries' fullUrls.
    const urls = new Set(body.entry.map((e: any) => e.fullUrl));
    const refs = body.entry[0].resource.section.flatMap((s: any) => (s.entry ?? []).map((e: any) => e.reference));
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) expect(urls.has(ref), ref).toBe(true);
    const report = body.entry.find((e: any) => e.resource.resourceType === 'DiagnosticReport').resource;
    expect(report.conclusion).toContain('mass of 23 mm');
  });

  it('the HTML page of the link shows the case and no direct identifier', async () => {
    const res = await fetch(link, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toContain('Latest imaging');
    expect(html).toContain('mass of 23 mm');
    expect(html).not.toMatch(/<script/i);
    expect(findDirectIdentifiers(html, [patientFacts(subject)])).toEqual([]);
  });

  it('every view is in the access audit, naming the recipient, the patient and the ImagingStudy', async () => {
    await server.services.audit.flush();
    const r = await fhirFetch(`${server.fhir}/AuditEvent?_count=1000`);
    expect(r.status).toBe(200);
    const views = (r.body.entry ?? []).map((e: any) => e.resource).filter((a: any) => a.agent?.some((g: any) => g.altId === `share:${shareId}`));
    expect(views.length).toBe(2);
    for (const v of views) {
      expect(v.subtype[0].code).toBe('read');
      expect(v.outcome).toBe('0');
      expect(v.agent[0].name).toBe(RECIPIENT);
      expect(JSON.stringify(v.purposeOfEvent)).toContain('second-opinion');
      const what = v.entity.map((e: any) => e.what?.reference);
      expect(what).toContain(`Patient/${subject.id}`);
      expect(what).toContain(`ImagingStudy/${ids.study}`);
      expect(what).toContain(`DiagnosticReport/${ids.report}`);
    }
    // The patient sees the views in their access log.
    const log = await fhirFetch(`${server.fhir}/Patient/${subject.id}/$access-log?_count=1000`);
    expect(log.status).toBe(200);
    expect(log.body.entry.filter((e: any) => e.resource.agent?.some((g: any) => g.name === RECIPIENT)).length).toBe(2);
  });

  it('fails closed: a view that cannot be recorded in the audit shows nothing (503); the log never holds the secret', async () => {
    const logged: string[] = [];
    const app = express();
    app.use(requestContext);
    app.use(accessLog(createLogger('info', { write: (line: string) => void logged.push(line) })));
    app.use('/shared', sharedCaseRouter({ repo: server.services.repo, audit: { record: () => Promise.reject(new Error('the audit buffer is unavailable')) }, logger: server.services.logger, pseudonymKey: () => pseudonymKey(server.services.database), dicomwebRoots: [], timeoutMs: 1000 }));
    const listener = app.listen(0, '127.0.0.1');
    await new Promise((done) => listener.once('listening', done));
    try {
      const res = await fetch(`http://127.0.0.1:${(listener.address() as AddressInfo).port}/shared/${link.slice(link.lastIndexOf('/') + 1)}`);
      expect(res.status).toBe(503);
      expect(await res.text()).not.toContain('mass of 23 mm');
      const secret = link.slice(link.lastIndexOf('/') + 1);
      await new Promise((done) => setImmediate(done));
      expect(logged.some((l) => l.includes('/shared/{secret}'))).toBe(true);
      expect(logged.join('\n')).not.toContain(secret);
    } finally {
      await new Promise((done) => listener.close(done));
    }
  });

  it('an unknown link is 404; a revoked one is 410', async () => {
    expect((await fetch(`${server.url}/shared/${'A'.repeat(43)}`)).status).toBe(404);
    const second = await share();
    const other = value(second.body, 'link').valueUrl;
    expect((await fetch(other)).status).toBe(200);
    const revoke = await fhirFetch(`${server.fhir}/Task/${ids.task}/$unshare`, { method: 'POST', json: { resourceType: 'Parameters', parameter: [{ name: 'share', valueString: value(second.body, 'share').valueString }] } });
    expect(revoke.status, JSON.stringify(revoke.body)).toBe(200);
    expect((await fetch(other)).status).toBe(410);
    // The first share is untouched.
    expect((await fetch(link)).status).toBe(200);
  });

  it('GET $share lists the shares with their state, never a link', async () => {
    const r = await fhirFetch(`${server.fhir}/Task/${ids.task}/$share`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const listed = r.body.parameter.map((p: any) => Object.fromEntries(p.part.map((x: any) => [x.name, x.valueString ?? x.valueCode ?? x.valueDateTime])));
    expect(listed.length).toBe(2);
    expect(listed.map((s: any) => s.state).sort()).toEqual(['active', 'revoked']);
    expect(listed.find((s: any) => s.id === shareId)).toMatchObject({ recipient: RECIPIENT, purpose: 'second-opinion', state: 'active' });
    expect(JSON.stringify(r.body)).not.toContain('/shared/');
  });

  it('an expired link is 410', async () => {
    const expires = new Date(Date.now() + 1500);
    const r = await share([{ name: 'expires', valueDateTime: expires.toISOString() }]);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const url = value(r.body, 'link').valueUrl;
    while (Date.now() <= expires.getTime() + 50) await new Promise((done) => setTimeout(done, 200));
    const res = await fetch(url);
    expect(res.status).toBe(410);
    expect(JSON.stringify(await res.json())).toContain('expired');
  });

  it('refuses a share without recipient, with a bad purpose or longer than 90 days', async () => {
    const none = await fhirFetch(`${server.fhir}/Task/${ids.task}/$share`, { method: 'POST', json: { resourceType: 'Parameters', parameter: [{ name: 'purpose', valueCode: 'consultation' }] } });
    expect(none.status).toBe(400);
    const bad = await fhirFetch(`${server.fhir}/Task/${ids.task}/$share`, { method: 'POST', json: { resourceType: 'Parameters', parameter: [{ name: 'recipient', valueString: RECIPIENT }, { name: 'purpose', valueCode: 'marketing' }] } });
    expect(bad.status).toBe(400);
    const long = await share([{ name: 'expires', valueDateTime: new Date(Date.now() + 91 * 86_400_000).toISOString() }]);
    expect(long.status).toBe(400);
  });

  it('a read-only clinician cannot share', async () => {
    const clinician = { authorization: `Bearer ${await userToken(server.url, 'clinician', 'openid user/*.rs')}` };
    const r = await share([], clinician);
    expect(r.status).toBe(403);
  });
});
