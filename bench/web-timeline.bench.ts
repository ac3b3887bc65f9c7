/**
 * The web page on a patient with 10,000 timeline events (run on demand:
 * `node bench/web-timeline.bench.ts [events=10000] [rounds=5]`; needs web/dist (`make web`) and
 * Chromium (scripts/install-chromium.sh)). In headless Chromium, signed in as the demo clinician:
 *  - opening the patient's timeline until its first rows are drawn, against the bare GraphQL
 *    request for the same first page (what the page cannot be faster than);
 *  - scrolling to event 1,000 until that row is drawn (the page loads the pages between through the
 *    cursor), against the bare requests for the same pages;
 *  - how many rows and DOM elements are drawn (the list is virtualised).
 * The record is written straight into the store, as bench/timeline.bench.ts does.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../api/config.ts';
import { startServer } from '../api/server.ts';
import { launchChromium } from '../test/support/chromium.ts';
import { BENCH_AUTH_ENV, benchEnv, benchFetch } from './bench-auth.ts';
import { writeBenchPatient } from './timeline-data.ts';

const EVENTS = Number(process.argv[2] ?? 10_000);
const ROUNDS = Number(process.argv[3] ?? 5);
const PATIENT = 'bench-web-timeline';
const ROW_HEIGHT = 56;

if (!existsSync(path.resolve(import.meta.dirname, '..', 'web', 'dist', 'index.html'))) throw new Error('web/dist is not built: run make web first');

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

const dataDir = await mkdtemp(path.join(tmpdir(), 'idr-bench-web-'));
const server = await startServer(loadConfig(benchEnv('web', dataDir, { ...BENCH_AUTH_ENV, NODE_ENV: 'production' })));
const browser = await launchChromium();
try {
  await writeBenchPatient(server.services.database, PATIENT, EVENTS);
  await server.services.timeline.rebuildPatient(PATIENT);
  const api = await benchFetch(server.url);
  // The fields the page asks for (web/src/views/timeline-data.ts); it asks for the count apart.
  const query = 'query ($id: ID!, $first: Int, $after: String) { patient(id: $id) { timeline(first: $first, after: $after) { pageInfo { endCursor hasNextPage } edges { node { id time lane title summary abnormal status reference } } } } }';
  const graphql = async (first: number, after?: string): Promise<{ endCursor: string }> => {
    const res = await api(`${server.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables: { id: PATIENT, first, after } }) });
    const body = (await res.json()) as { data: { patient: { timeline: { pageInfo: { endCursor: string } } } } };
    return body.data.patient.timeline.pageInfo;
  };

  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  await page.goto(`${server.url}/app/`);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByLabel('Username').fill('clinician');
  await page.getByLabel('Password').fill('idr-demo');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();

  const open: number[] = [];
  const openApi: number[] = [];
  const scroll: number[] = [];
  const scrollApi: number[] = [];
  let drawnRows = 0;
  let elements = 0;
  for (let round = 0; round < ROUNDS + 1; round++) {
    // The page: from navigation to the first rows drawn.
    await page.goto(`${server.url}/app/#/`);
    let t = performance.now();
    await page.goto(`${server.url}/app/#/patient/${PATIENT}/timeline`);
    await page.locator('li.event[data-index="0"]').waitFor();
    const opened = performance.now() - t;
    // Scrolling to event 1,000 (the pages between load through the cursor as the list moves).
    const list = page.locator('.events');
    t = performance.now();
    // As a reader drags the scroll bar down: the list grows as pages arrive, so keep asking for row 1,000.
    for (;;) {
      await list.evaluate((el, top) => { el.scrollTop = top; }, 1000 * ROW_HEIGHT);
      if (await page.locator('li.event[data-index="1000"]').count()) break;
      await page.waitForTimeout(20);
    }
    const scrolled = performance.now() - t;
    drawnRows = await page.locator('li.event').count();
    elements = await page.evaluate(() => document.querySelectorAll('*').length);
    // The bare API: the same first page, then the pages up to event 1,000 (50, then 200 each, as the page asks).
    t = performance.now();
    let cursor = (await graphql(50)).endCursor;
    const firstApi = performance.now() - t;
    t = performance.now();
    for (let loaded = 50; loaded <= 1000; loaded += 200) cursor = (await graphql(200, cursor)).endCursor;
    const pagesApi = performance.now() - t;
    if (round === 0) continue; // warm-up
    open.push(opened);
    openApi.push(firstApi);
    scroll.push(scrolled);
    scrollApi.push(pagesApi);
  }
  const lines = [
    `Web page, a patient with ${EVENTS} timeline events — headless Chromium ${browser.version()}, median of ${ROUNDS}, Node ${process.version}, ${server.services.embedded ? 'embedded FerretDB 1.24 on PostgreSQL' : 'MongoDB'}`,
    '| what | the page | bare GraphQL requests | page / bare |',
    '| --- | --- | --- | --- |',
    `| open the timeline until its first rows are drawn (first page of 50) | ${median(open).toFixed(0)} ms | ${median(openApi).toFixed(0)} ms | ${(median(open) / median(openApi)).toFixed(2)} |`,
    `| scroll to event 1,000 until it is drawn (5 pages of 200 loaded) | ${median(scroll).toFixed(0)} ms | ${median(scrollApi).toFixed(0)} ms | ${(median(scroll) / median(scrollApi)).toFixed(2)} |`,
    `Rows drawn at event 1,000: ${drawnRows}; DOM elements on the page: ${elements}.`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  await browser.close();
  await server.close();
  await rm(dataDir, { recursive: true, force: true });
}
