/* eslint-disable @typescript-eslint/no-explicit-any -- assertions read GraphQL JSON bodies */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import express from 'express';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from './support/chromium.ts';
import { authFetch, fhirFetch, startTestServer, type TestServer } from './support/server.ts';
import { loadDemoData } from '../seed/load-demo.ts';
import { seedPatients, type SeedPatient } from '../seed/hl7v2/index.ts';
import { webAppRouter } from '../api/http/web-app.ts';
import { writeBenchPatient } from '../bench/timeline-data.ts';

/**
 * The clinician's web page (web/, served at /app/) in headless Chromium against the real server
 * with the first demo patient loaded through the ingestion pipeline: signing in through the
 * provider's login page (code flow + PKCE as the public client idr-web), then the case summary,
 * the timeline, a lab chart, the report reader and the tumour board, each checked against what the
 * seed wrote and what the API answers. Screenshots of the views go to docs/screenshots/.
 */

const ROOT = path.resolve(import.meta.dirname, '..');
/**
 * Where the screenshots go: a temporary folder, so a test run leaves the tree as it was;
 * IDR_UPDATE_SCREENSHOTS=1 writes them to docs/screenshots, which the README shows.
 */
const SCREENSHOTS = process.env['IDR_UPDATE_SCREENSHOTS'] === '1' ? path.join(ROOT, 'docs', 'screenshots') : path.join(tmpdir(), 'idr-web-screenshots');
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** AJCC 8th anatomic stage groups of the breast T/N combinations the seed generates (cM0). */
const BREAST_STAGE: Record<string, string> = {
  'pT1b pN0(sn)': 'IA', 'pT1c pN0(sn)': 'IA', 'pT1b pN1a(sn)': 'IIA', 'pT1c pN1a(sn)': 'IIA', 'pT2 pN0(sn)': 'IIA', 'pT2 pN1a(sn)': 'IIB',
};

let server: TestServer;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let pid: string;
const seed = seedPatients({ count: 1 })[0] as SeedPatient;
/** A synthetic patient with this many timeline events (the benchmark's record); IDR_WEB_TEST_EVENTS=10000 for the full-size check (about 30 s more). */
const MANY = Number(process.env.IDR_WEB_TEST_EVENTS ?? 2000);
const MANY_ID = 'web-many-events';

/** Waits (Playwright-style, no duration asserted) until the value matches: pages load at the machine's pace. */
function eventually<T>(fn: () => Promise<T> | T) {
  return expect.poll(fn, { timeout: 30_000, interval: 100 });
}

async function gql(query: string, variables: Record<string, unknown> = {}): Promise<any> {
  const res = await authFetch(`${server.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
  const body = (await res.json()) as { data: any; errors?: unknown[] };
  expect(body.errors).toBeUndefined();
  return body.data;
}

/** Signs in through the provider's login page as a demo user; ends back on /app/ signed in. */
async function signIn(p: Page, username: string): Promise<void> {
  await p.goto(`${server.url}/app/`);
  await p.getByRole('button', { name: 'Sign in' }).click();
  try {
    await p.getByLabel('Username').fill(username);
    await p.getByLabel('Password').fill('idr-demo');
    await p.getByRole('button', { name: 'Sign in' }).click();
    await p.getByRole('button', { name: 'Sign out' }).waitFor();
  } catch (err) {
    throw new Error(`sign-in of ${username} stopped at ${p.url()}: ${(await p.locator('body').innerText()).slice(0, 600)}`, { cause: err });
  }
}

/** A screenshot of the page, checked to be a real picture, written to docs/screenshots/<name>.png. */
/** axe-core, the accessibility checker, run in the page (through the DevTools protocol, so the page's script policy stays as it is). */
const AXE = readFileSync(path.join(ROOT, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');

/** Fails on any WCAG 2.1 A or AA rule the view breaks (contrast, names, labels, landmarks, ARIA…), naming the rule and where. */
async function accessible(p: Page, view: string): Promise<void> {
  if (!(await p.evaluate(() => 'axe' in window))) await p.evaluate(AXE);
  const result = (await p.evaluate(() => (window as unknown as { axe: { run: (context: Document, options: unknown) => Promise<unknown> } }).axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }))) as { violations: { id: string; impact: string; help: string; nodes: { target: string[] }[] }[]; passes: unknown[] };
  expect(result.passes.length, view).toBeGreaterThan(10);
  expect(result.violations.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`), view).toEqual([]);
}

async function screenshot(p: Page, name: string): Promise<void> {
  await accessible(p, name);
  const png = await p.screenshot({ fullPage: false });
  expect(png.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
  // A blank page compresses to a few kB; a view with text, tables and a chart does not.
  expect(png.length).toBeGreaterThan(30_000);
  mkdirSync(SCREENSHOTS, { recursive: true });
  writeFileSync(path.join(SCREENSHOTS, `${name}.png`), png);
}

beforeAll(async () => {
  if (!existsSync(path.join(ROOT, 'web', 'dist', 'index.html'))) {
    // `make test` builds it first (make web); a lone vitest run builds it here.
    const { build } = await import('vite');
    await build({ configFile: path.join(ROOT, 'web', 'vite.config.ts'), logLevel: 'warn' });
  }
  server = await startTestServer({ IDR_VIEWER_URL_TEMPLATE: 'https://pacs.example/viewer?StudyInstanceUIDs={studyUid}' });
  const summary = await loadDemoData(server.services, { patients: 1 });
  expect(summary.failures).toEqual([]);
  const found = await fhirFetch(`${server.fhir}/Patient?identifier=${encodeURIComponent(`http://fhir.nl/fhir/NamingSystem/bsn|${seed.bsn}`)}`);
  pid = found.body.entry[0].resource.id;
  await writeBenchPatient(server.services.database, MANY_ID, MANY);
  expect(await server.services.timeline.rebuildPatient(MANY_ID)).toBe(MANY);
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
  context.setDefaultTimeout(10_000);
  page = await context.newPage();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('the web page at /app/', () => {
  it('answers 503 with how to build it while web/dist is missing', async () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'idr-web-'));
    const app = express().use('/app', webAppRouter({ distDir: empty, baseUrl: 'http://127.0.0.1', clientId: 'idr-web', timeZone: 'Europe/Amsterdam' }));
    const listener = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => listener.once('listening', resolve));
    try {
      const res = await fetch(`http://127.0.0.1:${(listener.address() as AddressInfo).port}/app/`);
      expect(res.status).toBe(503);
      expect(await res.text()).toContain('npm run build:web');
    } finally {
      listener.close();
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('is served under a strict Content-Security-Policy, every asset from IDR itself', async () => {
    const res = await fetch(`${server.url}/app/`);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/script-src 'self'(;|$)/);
    expect(csp).not.toContain('unsafe-eval');
    const html = await res.text();
    expect(html).not.toMatch(/(src|href)="https?:/);
    expect(html).not.toMatch(/<script>(?!<\/script>)/);
    const config = (await (await fetch(`${server.url}/app/config.json`)).json()) as { clientId: string; redirectUri: string };
    expect(config).toMatchObject({ clientId: 'idr-web', redirectUri: `${server.url}/app/` });
    expect((await fetch(`${server.url}/app`, { redirect: 'manual' })).headers.get('location')).toBe('/app/');
  });

  it('signs a clinician in through the login page (code flow with PKCE), keeping the token out of localStorage', async () => {
    const blocked: string[] = [];
    page.on('console', (m) => { if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) blocked.push(m.text()); });
    await signIn(page, 'clinician');
    await eventually(() => page.getByTestId('signed-in-as').textContent()).toBe('Dr. A. Jansen (clinician)');
    const storage = await page.evaluate(() => ({ local: localStorage.length, session: sessionStorage.getItem('idr.session') }));
    expect(storage.local).toBe(0);
    expect(JSON.parse(storage.session as string).accessToken).toMatch(/^ey/);
    expect(blocked).toEqual([]);
  });

  it('sends a page opened at localhost to the base URL (127.0.0.1), where a board member signs in', async () => {
    const other = await browser.newContext();
    other.setDefaultTimeout(10_000);
    try {
      const p = await other.newPage();
      const local = server.url.replace('127.0.0.1', 'localhost');
      await p.goto(`${local}/app/`);
      await p.getByRole('button', { name: 'Sign in' }).click();
      await p.getByLabel('Username').fill('board');
      await p.getByLabel('Password').fill('idr-demo');
      await p.getByRole('button', { name: 'Sign in' }).click();
      await p.getByRole('button', { name: 'Sign out' }).waitFor().catch(async (err: unknown) => { throw new Error(`stopped at ${p.url()}: ${(await p.locator('body').innerText()).slice(0, 500)}`, { cause: err }); });
      expect(await p.getByTestId('signed-in-as').textContent()).toBe('Dr. B. Bakker (board-member)');
      expect(new URL(p.url()).origin).toBe(server.url);
      // The board member finds the board's patient.
      await p.getByRole('button', { name: 'Search' }).click();
      await eventually(() => p.locator('table.patients tbody tr').count()).toBe(1);
    } finally {
      await other.close();
    }
  });

  it('finds the patient by BSN from the keyboard and opens the case summary with the seed\'s pathology', async () => {
    const t = seed.tumour;
    if (t.kind !== 'breast') throw new Error('the first demo patient has breast cancer');
    await page.getByLabel('Name or identifier (BSN, MRN)').fill(seed.bsn);
    await page.keyboard.press('Enter');
    const link = page.getByRole('link', { name: new RegExp(seed.name.surname) });
    await link.waitFor();
    expect(await page.locator('table.patients tbody tr').count()).toBe(1);
    expect(await page.locator('table.patients tbody td').nth(3).textContent()).toContain(seed.bsn);
    await link.focus();
    await page.keyboard.press('Enter');
    await eventually(() => page.getByRole('heading', { level: 1 }).textContent()).toContain(seed.name.given);
    const biomarkers = page.getByTestId('biomarkers');
    const reading = (item: string) => biomarkers.locator(`tr[data-item="${item}"] td`).nth(1).textContent();
    const value = (item: string) => biomarkers.locator(`tr[data-item="${item}"] td`).first().textContent();
    await eventually(() => reading('ER')).toBe(t.erPercent > 0 ? 'positive' : 'negative');
    expect(await reading('PR')).toBe(t.prPercent > 0 ? 'positive' : 'negative');
    expect(await reading('HER2 IHC')).toBe(t.her2Ihc);
    expect(await reading('HER2')).toBe(t.her2Ihc === '3+' ? 'positive' : 'negative');
    expect(await value('Ki-67')).toContain(String(t.ki67Percent));
    expect(await reading('grade')).toBe(`grade ${t.grade}`);
    expect(await biomarkers.locator('tr[data-item] th').allTextContents()).toEqual(['ER', 'PR', 'HER2 IHC', 'HER2', 'Ki-67', 'grade', 'histology', 'topography', 'tumour size']);
    expect(await value('histology')).toContain('8500/3');
    const tnm = page.getByTestId('tnm');
    expect(await tnm.getByTestId('tnm-value').first().textContent()).toBe(`${t.pT} ${t.pN} cM0`);
    expect(await tnm.getByTestId('stage-group').first().textContent()).toMatch(new RegExp(`^${BREAST_STAGE[`${t.pT} ${t.pN}`]} derived`));
    // Dates as the API gives them, in the hospital's zone with the offset (never the browser's).
    expect(await biomarkers.locator('tr[data-item="ER"] time').textContent()).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2} \+0[12]:00$/);
    expect(await page.getByTestId('key-labs').locator('tbody tr').count()).toBeGreaterThan(2);
    // The latest study per modality, each with its link into the configured viewer.
    const studies = (await gql(`query ($id: ID!) { patient(id: $id) { caseSummary { latestImaging { modality study { viewerUrl } } } } }`, { id: pid })).patient.caseSummary.latestImaging;
    expect(studies.length).toBeGreaterThan(0);
    const viewerLinks = await page.getByRole('link', { name: /^Open in the image viewer/ }).evaluateAll((as) => as.map((a) => a.getAttribute('href')));
    expect(viewerLinks).toEqual(studies.map((x: any) => x.study.viewerUrl));
    expect(viewerLinks[0]).toMatch(/^https:\/\/pacs\.example\/viewer\?StudyInstanceUIDs=[\d.]+$/);
    await screenshot(page, 'case-summary');
  });

  it('shows the timeline in lanes, newest first, as the API pages it, drawing only the rows in view', async () => {
    await page.getByRole('link', { name: 'Timeline' }).click();
    const rows = page.locator('li.event');
    await rows.first().waitFor();
    const api = (await gql(`query ($id: ID!) { patient(id: $id) { timeline(first: 12) { totalCount edges { node { id time lane title abnormal } } } } }`, { id: pid })).patient.timeline;
    const expected = api.edges.map((e: any) => ({ time: e.node.time, lane: e.node.lane }));
    const shown = await rows.evaluateAll((els) => els.slice(0, 12).map((el) => ({ time: el.getAttribute('data-time'), lane: el.getAttribute('data-lane') })));
    expect(shown).toEqual(expected);
    const times = await rows.evaluateAll((els) => els.map((el) => Date.parse(el.getAttribute('data-time') as string)));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    // Each event's chip sits in its lane's column.
    const first = rows.first();
    const lane = (await first.getAttribute('data-lane')) as string;
    expect(await first.locator('.chip').evaluate((el) => el.parentElement?.className)).toContain(['lab', 'pathology', 'imaging', 'document', 'treatment', 'decision'].includes(lane) ? `lane-${lane}` : 'lane-rest');
    await eventually(() => page.getByTestId('timeline-status').textContent()).toContain(`of ${api.totalCount}`);
    expect(api.totalCount).toBeGreaterThan(30);
    expect(await rows.count()).toBeLessThan(api.totalCount);
    // The lanes the seed fills are all there once everything is loaded (scrolling to the end loads the rest).
    const list = page.locator('.events');
    for (let i = 0; i < 20 && !/events shown of \d+$/.test((await page.getByTestId('timeline-status').textContent()) ?? ''); i++) {
      await list.evaluate((el) => { el.scrollTop = el.scrollHeight; });
      await page.waitForFunction(() => !document.querySelector('[data-testid="timeline-status"]')?.textContent?.includes('loading'));
    }
    await list.evaluate((el) => { el.scrollTop = 0; });
    // The overview draws every loaded event in its lane; its text alternative counts them per lane.
    const overview = (await page.getByRole('img', { name: /^Overview of the/ }).getAttribute('aria-label')) as string;
    expect(overview).toContain(`Overview of the ${api.totalCount} events shown`);
    for (const l of ['lab', 'pathology', 'imaging', 'letters']) expect(overview).toMatch(new RegExp(`[1-9]\\d* ${l}`));
    // Keyboard: the first row takes focus, arrow down moves to the next.
    await rows.first().focus();
    await page.keyboard.press('ArrowDown');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-index'))).toBe('1');
    // Abnormal only: every row shown is flagged, and there are some.
    await page.getByLabel('Abnormal only').check();
    await eventually(() => rows.evaluateAll((els) => els.length > 0 && els.every((el) => el.classList.contains('abnormal')))).toBe(true);
    await page.getByLabel('Abnormal only').uncheck();
    // One lane: only its events.
    for (const l of ['Lab', 'Imaging', 'Letters', 'Treatment', 'Decisions', 'Diagnoses', 'Encounters', 'Models', 'Other']) await page.getByLabel(l, { exact: true }).uncheck();
    await eventually(() => rows.evaluateAll((els) => els.length > 0 && els.every((el) => el.getAttribute('data-lane') === 'pathology'))).toBe(true);
    for (const l of ['Lab', 'Imaging', 'Letters', 'Treatment', 'Decisions', 'Diagnoses', 'Encounters', 'Models', 'Other']) await page.getByLabel(l, { exact: true }).check();
    await eventually(() => page.getByTestId('timeline-status').textContent()).toBe(`${api.totalCount} events shown of ${api.totalCount}`);
    // A time range (zoom): only the events in it, as many as the API counts; zoom in narrows it around its middle.
    const all = (await gql(`query ($id: ID!) { patient(id: $id) { timeline(first: 200) { edges { node { time } } } } }`, { id: pid })).patient.timeline.edges.map((e: any) => e.node.time.slice(0, 10)).sort();
    const [from, to] = [all[Math.floor(all.length / 4)], all[Math.floor((all.length * 3) / 4)]] as [string, string];
    await page.getByLabel('From', { exact: true }).fill(from);
    await page.getByLabel('To', { exact: true }).fill(to);
    const inRange = all.filter((d: string) => d >= from && d <= to).length;
    await eventually(() => page.getByTestId('timeline-status').textContent()).toBe(`${inRange} events shown of ${inRange}`);
    const shownDays = async () => rows.evaluateAll((els) => els.map((el) => (el.getAttribute('data-time') as string).slice(0, 10)));
    for (const d of await shownDays()) expect(d >= from && d <= to, d).toBe(true);
    await page.getByRole('button', { name: 'Zoom in' }).click();
    const [zFrom, zTo] = [await page.getByLabel('From', { exact: true }).inputValue(), await page.getByLabel('To', { exact: true }).inputValue()];
    expect(zFrom > from && zTo < to).toBe(true);
    await eventually(async () => (await shownDays()).every((d) => d >= zFrom && d <= zTo)).toBe(true);
    await page.getByRole('button', { name: 'All time' }).click();
    await eventually(() => page.getByTestId('timeline-status').textContent()).toBe(`${api.totalCount} events shown of ${api.totalCount}`);
    await screenshot(page, 'timeline');
  });

  it('pages through thousands of events as the list scrolls, drawing only the rows in view', async () => {
    await page.goto(`${server.url}/app/#/patient/${MANY_ID}/timeline`);
    const rows = page.locator('li.event');
    const status = page.getByTestId('timeline-status');
    await eventually(() => status.textContent()).toBe(`50 events shown of ${MANY}, more as you scroll`);
    const drawn = await rows.count();
    expect(drawn).toBeGreaterThan(5);
    expect(drawn).toBeLessThan(40);
    // Scrolling on loads the next pages (50, then 200 each) through the cursor, newest first throughout.
    const list = page.locator('.events');
    await list.evaluate((el) => { el.scrollTop = 56 * 40; });
    await eventually(() => status.textContent()).toBe(`250 events shown of ${MANY}, more as you scroll`);
    await list.evaluate((el) => { el.scrollTop = 56 * 235; });
    await eventually(() => status.textContent()).toBe(`450 events shown of ${MANY}, more as you scroll`);
    await list.evaluate((el) => { el.scrollTop = 56 * 198; });
    await page.locator('li.event[data-index="205"]').waitFor();
    expect(await rows.count()).toBeLessThan(40);
    const api = (await gql(`query ($id: ID!) { patient(id: $id) { timeline(first: 200) { pageInfo { endCursor } } } }`, { id: MANY_ID })).patient.timeline;
    // Where the API's second page of 200 starts.
    const second = (await gql(`query ($id: ID!, $after: String) { patient(id: $id) { timeline(first: 6, after: $after) { edges { node { time } } } } }`, { id: MANY_ID, after: api.pageInfo.endCursor })).patient.timeline.edges;
    for (const [k, e] of second.entries()) expect(await page.locator(`li.event[data-index="${200 + k}"]`).getAttribute('data-time')).toBe(e.node.time);
    const times = await rows.evaluateAll((els) => els.map((el) => Date.parse(el.getAttribute('data-time') as string)));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect(await page.evaluate(() => document.querySelectorAll('*').length)).toBeLessThan(1500);
    // From the keyboard: Tab reaches a row in view, End goes to the last one loaded, which loads the next page.
    await page.getByRole('button', { name: 'Filter' }).focus();
    await page.keyboard.press('Tab');
    const focused = Number(await page.evaluate(() => document.activeElement?.getAttribute('data-index')));
    expect(focused).toBeGreaterThan(150);
    await page.keyboard.press('End');
    // The row is focused once it is drawn (an effect after the render), not within the key press.
    await eventually(() => page.evaluate(() => document.activeElement?.getAttribute('data-index'))).toBe('449');
    await eventually(() => status.textContent()).toBe(`650 events shown of ${MANY}, more as you scroll`);
    // Scrolled far from the focused row, the row leaves the DOM: the focus stays on a row drawn
    // (where the keys still work), and the list stays where it was scrolled to.
    await list.evaluate((el) => { el.scrollTop = 56 * 50; });
    await eventually(() => page.evaluate(() => Number(document.activeElement?.getAttribute('data-index') ?? -1))).toBeGreaterThanOrEqual(40);
    expect(await list.evaluate((el) => el.scrollTop)).toBe(56 * 50);
    // Five page loads and a dozen waits: more than the default 30 s on a loaded machine.
  }, 120_000);

  it('charts Hb with its reference range, in mmol/L and converted to g/dL', async () => {
    await page.goto(`${server.url}/app/#/patient/${pid}/labs`);
    const hb = page.locator('figure.trend[data-code="59260-0"]');
    await hb.waitFor();
    const trend = (await gql(`query ($id: ID!) { patient(id: $id) { labTrend(code: "59260-0") { unit points { time value referenceLow referenceHigh } } } }`, { id: pid })).patient.labTrend;
    const points = [...trend.points].sort((a: any, b: any) => a.time.localeCompare(b.time));
    expect(trend.unit).toBe('mmol/L');
    expect(points.length).toBeGreaterThan(3);
    expect(await hb.getByTestId('reference-range').textContent()).toBe(' · reference range 7.5–10 mmol/L');
    const cells = () => hb.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [tr.children[0]?.querySelector('time')?.getAttribute('datetime'), Number(tr.children[1]?.textContent)]));
    expect(await cells()).toEqual(points.map((p: any) => [p.time, Number(Number(p.value).toPrecision(4))]));
    const canvas = hb.locator('canvas').first();
    expect((await canvas.boundingBox())?.width).toBeGreaterThan(300);
    await screenshot(page, 'lab-trends');
    await page.getByLabel('Unit for Hb').selectOption('g/dL');
    await eventually(() => hb.getByTestId('reference-range').textContent()).toBe(' · reference range 12.09–16.11 g/dL');
    const converted = await cells();
    expect(converted.length).toBe(points.length);
    converted.forEach(([, v], i) => expect(v).toBeCloseTo(points[i].value * 1.61145, 1));
  });

  it('reads a pathology report and a letter', async () => {
    const reports = (await gql(`query ($id: ID!) { patient(id: $id) { reports(category: "SP") { reference title conclusion } documents { reference title } } }`, { id: pid })).patient;
    const report = reports.reports.find((r: any) => r.conclusion);
    expect(report).toBeDefined();
    await page.goto(`${server.url}/app/#/patient/${pid}/reports/${report.reference}`);
    const reader = page.locator(`article.reader[data-reference="${report.reference}"]`);
    await reader.waitFor();
    expect(await reader.locator('.prose').first().textContent()).toBe(report.conclusion);
    await screenshot(page, 'report-reader');
    const letter = reports.documents[0];
    await page.getByRole('link', { name: new RegExp(letter.title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) }).first().click();
    const reader2 = page.locator(`article.reader[data-reference="${letter.reference}"]`);
    await reader2.waitFor();
    // The original document as IDR received it, fetched with the token.
    const original = (await gql(`query ($id: ID!) { patient(id: $id) { documents { reference url } } }`, { id: pid })).patient.documents.find((d: any) => d.reference === letter.reference).url;
    expect(original).toMatch(/^\/ingest\/messages\/[\w-]+\/raw$/);
    const [file] = await Promise.all([page.waitForEvent('download'), reader2.getByRole('button', { name: 'Download the original' }).click()]);
    const bytes = readFileSync(await file.path());
    const direct = Buffer.from(await (await authFetch(`${server.url}${original}`)).arrayBuffer());
    expect(bytes.equals(direct)).toBe(true);
    expect(bytes.length).toBeGreaterThan(100);
  });

  it('shows both values where a later report disagrees on the ER status', async () => {
    const t = seed.tumour;
    if (t.kind !== 'breast') throw new Error('the first demo patient has breast cancer');
    const flipped = t.erPercent > 0 ? ['LA6577-6', 'Negative'] : ['LA6576-8', 'Positive'];
    const subject = { reference: `Patient/${pid}` };
    const obs = await fhirFetch(`${server.fhir}/Observation`, { method: 'POST', json: { resourceType: 'Observation', status: 'final', subject, code: { coding: [{ system: 'http://loinc.org', code: '16112-5' }] }, effectiveDateTime: '2025-12-01T10:00:00+01:00', valueCodeableConcept: { coding: [{ system: 'http://loinc.org', code: flipped[0], display: flipped[1] }] } } });
    const dr = await fhirFetch(`${server.fhir}/DiagnosticReport`, { method: 'POST', json: { resourceType: 'DiagnosticReport', status: 'final', subject, category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'SP' }] }], code: { coding: [{ system: 'http://loinc.org', code: '60567-5' }] }, effectiveDateTime: '2025-12-01T10:00:00+01:00', result: [{ reference: `Observation/${obs.body.id}` }] } });
    expect(dr.status).toBe(201);
    await page.goto(`${server.url}/app/#/patient/${pid}/summary`);
    const er = page.getByTestId('biomarkers').locator('tr[data-item="ER"]');
    await eventually(() => er.getAttribute('class')).toBe('conflict');
    expect(await er.locator('td').first().evaluate((td) => td.firstChild?.textContent)).toBe(flipped[1]);
    expect(await er.getByRole('list', { name: 'Other reports on ER' }).textContent()).toMatch(t.erPercent > 0 ? /^Positive/ : /^Negative/);
    expect(await er.locator('td').nth(1).textContent()).toBe(`${flipped[1]?.toLowerCase()} reports disagree`);
  });

  it('lets a clinician see the board\'s agenda but not prepare a case (that is the board\'s)', async () => {
    await page.getByRole('link', { name: 'Tumour board' }).click();
    await page.getByRole('link', { name: 'Breast tumour board' }).click();
    const item = page.locator('li.case').first();
    await eventually(() => item.locator('h3').textContent()).toContain(seed.name.surname);
    await item.getByRole('button', { name: 'Prepare the case' }).click();
    await eventually(() => item.getByRole('alert').textContent()).toMatch(/^403/);
  });

  it('signs out: the token is gone and the page asks to sign in', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem('idr.session'))).toBeNull();
  });

  it('lets a board member prepare a case, see what is new, share it and record the decision', async () => {
    const board = await context.browser()!.newContext({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
    const p = await board.newPage();
    try {
      await signIn(p, 'board');
      await p.goto(`${server.url}/app/#/board/demo-breast-mdt`);
      // The meeting's time (stored in UTC) is shown in the hospital's zone, with its offset.
      const meeting = (await fhirFetch(`${server.fhir}/Appointment/demo-breast-mdt`)).body as { start: string };
      const local = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Amsterdam', hourCycle: 'h23', hour: '2-digit', minute: '2-digit' }).format(new Date(meeting.start));
      await eventually(() => p.getByRole('heading', { level: 1 }).textContent()).toMatch(new RegExp(`${local} \\+0[12]:00$`));
      const item = p.locator('li.case').first();
      await item.getByRole('button', { name: 'Prepare the case' }).click();
      await eventually(() => item.getByRole('status').textContent()).toBe('Case pack prepared.');
      await item.getByRole('button', { name: 'What is new since preparation' }).click();
      await item.getByRole('region', { name: 'New since preparation' }).waitFor();
      await item.getByRole('button', { name: 'Share the case' }).click();
      await item.getByLabel('Recipient (Name <e-mail>)').fill('Dr. E. Xpert <e.xpert@umc.example>');
      await item.getByRole('button', { name: 'Share the case' }).last().click();
      const link = await item.getByLabel('Shared link').inputValue();
      expect(link).toMatch(new RegExp(`^${server.url}/shared/[\\w-]{20,}$`));
      expect((await fetch(link, { headers: { accept: 'application/fhir+json' } })).status).toBe(200);
      await screenshot(p, 'tumour-board');
      await item.getByRole('button', { name: 'Record a decision' }).click();
      await item.getByLabel('Decision', { exact: true }).fill('Neoadjuvant chemotherapy, then breast-conserving surgery');
      await item.getByLabel('Recommendation').fill('Start AC-T within 4 weeks');
      await item.getByRole('button', { name: 'Record the decision' }).click();
      await eventually(() => item.getByRole('status').first().textContent()).toBe('Decision recorded; the case is completed.');
      await eventually(() => item.textContent()).toContain('Status completed');
      // The link stays on screen until the page is left: it is shown this once.
      expect(await item.getByLabel('Shared link').inputValue()).toBe(link);
      const decisions = (await gql(`query ($id: ID!) { patient(id: $id) { timeline(lanes: [decision]) { edges { node { summary } } } } }`, { id: pid })).patient.timeline.edges;
      expect(decisions[0].node.summary).toContain('Neoadjuvant chemotherapy, then breast-conserving surgery');
    } finally {
      await board.close();
    }
  });
});
