/**
 * The QIDO-RS client against a real Orthanc (with its DICOMweb plugin) started on loopback and
 * loaded with real DICOM files (pydicom's test files, tags set by dcmtk), and its failure
 * handling against real local sockets: nothing listening, a server that never answers, 5xx,
 * 4xx, malformed JSON, a connection cut mid-answer.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  findPydicomTestFile,
  freePort,
  makeDicomVariant,
  orthancMissing,
  startOrthanc,
  type OrthancInstance,
} from '../../test/support/orthanc.ts';
import {
  createDicomWebClient,
  DicomWebError,
  dicomDateRange,
  dicomNumber,
  dicomPersonName,
  dicomString,
  dicomStrings,
  Tag,
  type RetryInfo,
} from './dicomweb-client.ts';

/** A DICOM UID from a random UUID (the 2.25 root, PS3.5 B.2). */
const newUid = () => `2.25.${BigInt(`0x${randomUUID().replace(/-/g, '')}`).toString()}`;

async function expectDicomWebError(p: Promise<unknown>): Promise<DicomWebError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(DicomWebError);
    return err as DicomWebError;
  }
  throw new Error('expected a DicomWebError, but the call succeeded');
}

describe('DICOMweb client against a real Orthanc', () => {
  let orthanc: OrthancInstance | undefined;
  let dir: string;
  const studyA = newUid(); // PAT-A, 2024-01-15: CT series (2 instances) + MR series (1 instance)
  const seriesA1 = newUid();
  const seriesA2 = newUid();
  let studyB = ''; // PAT-B, 2024-03-01: MG, 1 instance
  let studyC = ''; // PAT-A, 2023-06-10: CT, 1 instance

  beforeAll(async () => {
    const missing = orthancMissing();
    if (missing) throw new Error(missing);
    orthanc = await startOrthanc();
    dir = await mkdtemp(join(tmpdir(), 'idr-dicomweb-test-'));
    const ct = findPydicomTestFile('CT_small.dcm');
    const mr = findPydicomTestFile('MR_small.dcm');
    const patA = { PatientID: 'PAT-A', IssuerOfPatientID: 'UMCX', PatientName: 'JANSEN^ANNA', PatientBirthDate: '19610203', PatientSex: 'F' };
    const studyAtags = {
      ...patA,
      StudyInstanceUID: studyA,
      StudyDate: '20240115',
      StudyTime: '093000',
      AccessionNumber: 'ACC-A1',
      StudyDescription: 'CT thorax abdomen',
      ReferringPhysicianName: 'HUISARTS^JAN',
    };
    const files = [
      await makeDicomVariant(ct, join(dir, 'a1-1.dcm'), { ...studyAtags, SeriesInstanceUID: seriesA1, Modality: 'CT', BodyPartExamined: 'CHEST', SeriesDescription: 'Thorax 1mm' }),
      await makeDicomVariant(ct, join(dir, 'a1-2.dcm'), { ...studyAtags, SeriesInstanceUID: seriesA1, Modality: 'CT', BodyPartExamined: 'CHEST', SeriesDescription: 'Thorax 1mm', InstanceNumber: '2' }),
      await makeDicomVariant(mr, join(dir, 'a2-1.dcm'), { ...studyAtags, SeriesInstanceUID: seriesA2, Modality: 'MR', BodyPartExamined: 'ABDOMEN' }),
      await makeDicomVariant(mr, join(dir, 'b.dcm'), {
        PatientID: 'PAT-B',
        IssuerOfPatientID: 'UMCX',
        PatientName: 'DEVRIES^BEA',
        Modality: 'MG',
        Laterality: 'L',
        StudyDate: '20240301',
        AccessionNumber: 'ACC-B1',
        StudyDescription: 'Mammografie links',
      }),
      await makeDicomVariant(ct, join(dir, 'c.dcm'), { ...patA, Modality: 'CT', StudyDate: '20230610', AccessionNumber: 'ACC-A0' }),
    ];
    const uploaded = [];
    for (const f of files) uploaded.push(await orthanc.upload(await readFile(f)));
    expect(uploaded.every((u) => u.Status === 'Success')).toBe(true);
    // Orthanc's own ids: 3 distinct studies.
    expect(new Set(uploaded.map((u) => u.ParentStudy)).size).toBe(3);
    const client = createDicomWebClient({ baseUrl: orthanc.dicomWebUrl });
    studyB = dicomString((await client.searchStudies({ PatientID: 'PAT-B' }))[0], Tag.StudyInstanceUID) ?? '';
    studyC = dicomString((await client.searchStudies({ AccessionNumber: 'ACC-A0' }))[0], Tag.StudyInstanceUID) ?? '';
    expect(studyB).toMatch(/^[0-9.]+$/);
    expect(studyC).toMatch(/^[0-9.]+$/);
  });

  afterAll(async () => {
    await orthanc?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const client = () => createDicomWebClient({ baseUrl: `${orthanc!.dicomWebUrl}/`, timeoutMs: 5_000, retries: 1, backoffMs: 20 });

  it('finds studies by PatientID with the attributes an ImagingStudy needs', async () => {
    const studies = await client().searchStudies({ PatientID: 'PAT-A' });
    expect(studies.map((s) => dicomString(s, Tag.StudyInstanceUID)).sort()).toEqual([studyA, studyC].sort());
    const a = studies.find((s) => dicomString(s, Tag.StudyInstanceUID) === studyA)!;
    expect(dicomString(a, Tag.PatientID)).toBe('PAT-A');
    expect(dicomString(a, Tag.IssuerOfPatientID)).toBe('UMCX');
    expect(dicomString(a, Tag.AccessionNumber)).toBe('ACC-A1');
    expect(dicomString(a, Tag.StudyDate)).toBe('20240115');
    expect(dicomString(a, Tag.StudyTime)).toBe('093000');
    expect(dicomString(a, Tag.StudyDescription)).toBe('CT thorax abdomen');
    expect(dicomPersonName(a, Tag.ReferringPhysicianName)).toBe('HUISARTS^JAN');
    expect(dicomPersonName(a, Tag.PatientName)).toBe('JANSEN^ANNA');
    expect(dicomStrings(a, Tag.ModalitiesInStudy).sort()).toEqual(['CT', 'MR']);
    expect(dicomNumber(a, Tag.NumberOfStudyRelatedSeries)).toBe(2);
    expect(dicomNumber(a, Tag.NumberOfStudyRelatedInstances)).toBe(3);
    expect(await client().searchStudies({ PatientID: 'NOBODY' })).toEqual([]);
    expect(await client().searchStudies({ PatientID: 'PAT-A', IssuerOfPatientID: 'UMCX', ModalitiesInStudy: 'MR' })).toHaveLength(1);
  });

  it('finds studies by StudyDate range (closed, open-ended, single day)', async () => {
    const uids = async (StudyDate: string) =>
      (await client().searchStudies({ StudyDate })).map((s) => dicomString(s, Tag.StudyInstanceUID)).sort();
    expect(await uids('20240101-20241231')).toEqual([studyA, studyB].sort());
    expect(await uids('-20231231')).toEqual([studyC]);
    expect(await uids('20240201-')).toEqual([studyB]);
    expect(await uids('20240115')).toEqual([studyA]);
    expect(await uids('20250101-')).toEqual([]);
    expect(await uids(dicomDateRange(new Date('2023-01-01T00:00:00Z'), '2023-12-31'))).toEqual([studyC]);
  });

  it('finds a study by StudyInstanceUID, and several by UID list', async () => {
    const one = await client().searchStudies({ StudyInstanceUID: studyB });
    expect(one).toHaveLength(1);
    expect(dicomString(one[0], Tag.PatientID)).toBe('PAT-B');
    expect(dicomStrings(one[0], Tag.ModalitiesInStudy)).toEqual(['MG']);
    const two = await client().searchStudies({ StudyInstanceUID: [studyB, studyC] });
    expect(two.map((s) => dicomString(s, Tag.StudyInstanceUID)).sort()).toEqual([studyB, studyC].sort());
    expect(await client().searchStudies({ StudyInstanceUID: newUid() })).toEqual([]);
  });

  it('lists the series of a study with their instance counts, body part and laterality', async () => {
    const series = await client().searchSeries(studyA);
    expect(series).toHaveLength(2);
    const byUid = new Map(series.map((s) => [dicomString(s, Tag.SeriesInstanceUID), s]));
    const ctSeries = byUid.get(seriesA1)!;
    expect(dicomString(ctSeries, Tag.Modality)).toBe('CT');
    expect(dicomNumber(ctSeries, Tag.NumberOfSeriesRelatedInstances)).toBe(2);
    expect(dicomString(ctSeries, Tag.BodyPartExamined)).toBe('CHEST');
    expect(dicomString(ctSeries, Tag.SeriesDescription)).toBe('Thorax 1mm');
    const mrSeries = byUid.get(seriesA2)!;
    expect(dicomString(mrSeries, Tag.Modality)).toBe('MR');
    expect(dicomNumber(mrSeries, Tag.NumberOfSeriesRelatedInstances)).toBe(1);
    expect(dicomString(mrSeries, Tag.BodyPartExamined)).toBe('ABDOMEN');

    const mg = await client().searchSeries(studyB);
    expect(mg).toHaveLength(1);
    expect(dicomString(mg[0], Tag.Laterality)).toBe('L');
    expect(await client().searchSeries(studyA, { Modality: 'MR' })).toHaveLength(1);

    const instances = await client().searchInstances(studyA, seriesA1);
    expect(instances).toHaveLength(2);
    expect(instances.every((i) => /^[0-9.]+$/.test(dicomString(i, Tag.SOPInstanceUID) ?? ''))).toBe(true);
    expect(await client().searchInstances(studyA)).toHaveLength(3);
  });

  it('pages with limit/offset and iterates over all studies', async () => {
    const page1 = await client().searchStudies({ limit: 2, offset: 0 });
    const page2 = await client().searchStudies({ limit: 2, offset: 2 });
    expect(page1).toHaveLength(2);
    expect(page2).toHaveLength(1);
    const all: string[] = [];
    for await (const s of client().iterateStudies({}, { pageSize: 1 })) all.push(dicomString(s, Tag.StudyInstanceUID)!);
    expect(all.sort()).toEqual([studyA, studyB, studyC].sort());
  });

  it('exposes a WADO-RS base that serves the study', async () => {
    const c = client();
    expect(c.wadoRsBase).toBe(orthanc!.dicomWebUrl);
    const res = await fetch(`${c.wadoRsBase}/studies/${studyA}/metadata`, { headers: { Accept: 'application/dicom+json' } });
    expect(res.status).toBe(200);
    const metadata = (await res.json()) as unknown[];
    expect(metadata).toHaveLength(3);
  });

  it('refuses bad queries before sending anything', async () => {
    const c = client();
    for (const bad of [
      c.searchStudies({ StudyDate: 'yesterday' }),
      c.searchStudies({ StudyDate: '20240231' }),
      c.searchStudies({ StudyDate: '20241231-20240101' }),
      c.searchStudies({ StudyInstanceUID: '1.2.3/../../x' }),
      c.searchSeries('not-a-uid'),
      c.searchStudies({ limit: 0 }),
    ]) {
      const err = await expectDicomWebError(bad);
      expect(err.kind).toBe('invalid-request');
      expect(err.attempts).toBe(0);
    }
    expect(() => createDicomWebClient({ baseUrl: 'ftp://pacs/dicom-web' })).toThrow(RangeError);
    expect(() => createDicomWebClient({ baseUrl: 'http://user:pw@pacs/dicom-web' })).toThrow(/headers/);
  });
});

// ---- failure handling against real local sockets ----

interface TestServer {
  url: string;
  hits: number;
  requests: { url: string; accept: string | undefined }[];
  close(): Promise<void>;
}

async function startServer(handler: (req: IncomingMessage, res: ServerResponse, hit: number) => void): Promise<TestServer> {
  const state: TestServer = { url: '', hits: 0, requests: [], close: async () => {} };
  const server: Server = createServer((req, res) => {
    state.hits++;
    state.requests.push({ url: req.url ?? '', accept: req.headers.accept });
    handler(req, res, state.hits);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('no address');
  state.url = `http://127.0.0.1:${addr.port}/dicom-web`;
  state.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return state;
}

const STUDY_JSON = JSON.stringify([
  { '0020000D': { vr: 'UI', Value: ['1.2.3.4'] }, '00100020': { vr: 'LO', Value: ['PAT-X'] }, '00080090': { vr: 'PN' } },
]);

describe('DICOMweb client failure handling', () => {
  const servers: TestServer[] = [];
  const serve = async (handler: Parameters<typeof startServer>[0]) => {
    const s = await startServer(handler);
    servers.push(s);
    return s;
  };
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });

  it('retries when nothing listens on the port, then reports the refused connection', async () => {
    const port = await freePort();
    const retries: RetryInfo[] = [];
    const c = createDicomWebClient({ baseUrl: `http://127.0.0.1:${port}/dicom-web`, retries: 2, backoffMs: 10, onRetry: (r) => retries.push(r) });
    const err = await expectDicomWebError(c.searchStudies({ PatientID: 'P1' }));
    expect(err.kind).toBe('network');
    expect(err.attempts).toBe(3);
    expect(err.transient).toBe(true);
    expect(err.status).toBeUndefined();
    expect(err.message).toContain(`http://127.0.0.1:${port}/dicom-web/studies?PatientID=P1`);
    expect(err.message).toMatch(/failed after 3 attempts: .*ECONNREFUSED/);
    expect(retries.map((r) => r.delayMs)).toEqual([10, 20]);
  });

  it('times out on a server that never answers, retrying each attempt', async () => {
    const s = await serve(() => {
      /* never answer */
    });
    const c = createDicomWebClient({ baseUrl: s.url, timeoutMs: 200, retries: 2, backoffMs: 10 });
    const t0 = Date.now();
    const err = await expectDicomWebError(c.searchStudies());
    expect(Date.now() - t0).toBeGreaterThanOrEqual(3 * 200 - 20);
    expect(err.kind).toBe('timeout');
    expect(err.attempts).toBe(3);
    expect(err.message).toMatch(/failed after 3 attempts: timed out after 200 ms/);
    expect(s.hits).toBe(3);
  });

  it('times out when the answer stalls halfway through its body', async () => {
    const s = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/dicom+json' });
      res.write('[{"0020000D":');
    });
    const c = createDicomWebClient({ baseUrl: s.url, timeoutMs: 200, retries: 1, backoffMs: 10 });
    const err = await expectDicomWebError(c.searchStudies());
    expect(err.kind).toBe('timeout');
    expect(err.attempts).toBe(2);
    expect(s.hits).toBe(2);
  });

  it('retries when the connection is cut mid-answer', async () => {
    const s = await serve((_req, res, hit) => {
      if (hit === 1) {
        res.writeHead(200, { 'Content-Type': 'application/dicom+json', 'Content-Length': '1000' });
        res.write('[{"0020000D"');
        setTimeout(() => res.socket?.destroy(), 10);
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/dicom+json' }).end(STUDY_JSON);
    });
    const c = createDicomWebClient({ baseUrl: s.url, retries: 2, backoffMs: 10 });
    const studies = await c.searchStudies();
    expect(studies).toHaveLength(1);
    expect(s.hits).toBe(2);
  });

  it('succeeds after two 500s, asking for DICOM JSON with the ImagingStudy fields', async () => {
    const s = await serve((_req, res, hit) => {
      if (hit <= 2) res.writeHead(500, { 'Content-Type': 'text/plain' }).end('database is locked');
      else res.writeHead(200, { 'Content-Type': 'application/dicom+json' }).end(STUDY_JSON);
    });
    const retries: RetryInfo[] = [];
    const c = createDicomWebClient({ baseUrl: s.url, retries: 3, backoffMs: 10, onRetry: (r) => retries.push(r) });
    const studies = await c.searchStudies({ PatientID: 'PAT-X', StudyDate: '20240101-20240131' });
    expect(studies).toHaveLength(1);
    expect(dicomString(studies[0], Tag.PatientID)).toBe('PAT-X');
    expect(s.hits).toBe(3);
    expect(retries.map((r) => [r.attempt, r.delayMs])).toEqual([[1, 10], [2, 20]]);
    expect(retries[0]!.reason).toBe('HTTP 500 Internal Server Error: database is locked');
    const req = new URL(s.requests[2]!.url, 'http://x');
    expect(req.pathname).toBe('/dicom-web/studies');
    expect(req.searchParams.get('PatientID')).toBe('PAT-X');
    expect(req.searchParams.get('StudyDate')).toBe('20240101-20240131');
    expect(req.searchParams.getAll('includefield')).toEqual(expect.arrayContaining(['00081030', '00080061', '00201206', '00201208', '00100021', '00080090']));
    expect(s.requests[2]!.accept).toMatch(/^application\/dicom\+json/);
  });

  it('gives up after N attempts on a server that always answers 500', async () => {
    const s = await serve((_req, res) => {
      res.writeHead(503, { 'Content-Type': 'text/plain' }).end('overloaded');
    });
    const c = createDicomWebClient({ baseUrl: s.url, retries: 3, backoffMs: 5 });
    const err = await expectDicomWebError(c.searchSeries('1.2.3'));
    expect(err.kind).toBe('http');
    expect(err.status).toBe(503);
    expect(err.attempts).toBe(4);
    expect(err.transient).toBe(true);
    expect(err.message).toBe(`QIDO-RS GET ${s.url}/studies/1.2.3/series?${new URL(s.requests[0]!.url, 'http://x').searchParams} failed after 4 attempts: HTTP 503 Service Unavailable: overloaded`);
    expect(s.hits).toBe(4);
  });

  it('does not retry a 4xx', async () => {
    const s = await serve((_req, res) => {
      res.writeHead(400, { 'Content-Type': 'text/plain' }).end('bad includefield');
    });
    const c = createDicomWebClient({ baseUrl: s.url, retries: 3, backoffMs: 5 });
    const err = await expectDicomWebError(c.searchStudies());
    expect(err.kind).toBe('http');
    expect(err.status).toBe(400);
    expect(err.attempts).toBe(1);
    expect(err.transient).toBe(false);
    expect(s.hits).toBe(1);
  });

  it('honours Retry-After on 429 (capped by maxBackoffMs)', async () => {
    const s = await serve((_req, res, hit) => {
      if (hit === 1) res.writeHead(429, { 'Retry-After': '1' }).end();
      else res.writeHead(200, { 'Content-Type': 'application/dicom+json' }).end('[]');
    });
    const retries: RetryInfo[] = [];
    const c = createDicomWebClient({ baseUrl: s.url, backoffMs: 5, maxBackoffMs: 50, onRetry: (r) => retries.push(r) });
    expect(await c.searchStudies()).toEqual([]);
    expect(retries.map((r) => r.delayMs)).toEqual([50]);
  });

  it.each([
    ['not JSON', '{not json', /not JSON/],
    ['an object', '{"a":1}', /expected a JSON array of DICOM JSON datasets, got an object/],
    ['an array of numbers', '[1,2]', /item 0: expected an object, got a number/],
    ['objects that are not DICOM JSON', '[{"ID":"abc"}]', /item 0: key "ID" is not a DICOM tag/],
    ['attributes without vr', '[{"0020000D":{"Value":["1.2"]}}]', /item 0: attribute 0020000D has no string "vr"/],
    ['HTML', '<html><body>Login</body></html>', /not JSON/],
  ])('reports a malformed answer (%s) without retrying', async (_name, body, why) => {
    const s = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/dicom+json' }).end(body);
    });
    const c = createDicomWebClient({ baseUrl: s.url, retries: 3, backoffMs: 5 });
    const err = await expectDicomWebError(c.searchStudies({ PatientID: 'P1' }));
    expect(err.kind).toBe('malformed');
    expect(err.attempts).toBe(1);
    expect(err.message.startsWith(`malformed QIDO-RS response from ${s.url}/studies?PatientID=P1`)).toBe(true);
    expect(err.message).toMatch(why);
    expect(s.hits).toBe(1);
  });

  it('treats 204 and an empty body as no results', async () => {
    const s = await serve((_req, res, hit) => {
      if (hit === 1) res.writeHead(204).end();
      else res.writeHead(200, { 'Content-Type': 'application/dicom+json' }).end('');
    });
    const c = createDicomWebClient({ baseUrl: s.url });
    expect(await c.searchStudies()).toEqual([]);
    expect(await c.searchStudies()).toEqual([]);
    expect(s.hits).toBe(2);
  });

  it('stops retrying when the caller aborts', async () => {
    const s = await serve((_req, res) => {
      res.writeHead(500).end();
    });
    const c = createDicomWebClient({ baseUrl: s.url, retries: 10, backoffMs: 1_000 });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const err = await expectDicomWebError(c.searchStudies({}, { signal: ac.signal }));
    expect(err.kind).toBe('aborted');
    expect(err.attempts).toBe(1);
    expect(s.hits).toBe(1);
  });
});
