/** The Orthanc test helper itself: start/stop, upload, dcmtk variants, clear start failures. */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findPydicomTestFile, makeDicomVariant, orthancMissing, startOrthanc } from './orthanc.ts';

describe('test/support/orthanc', () => {
  it('starts a private Orthanc with DICOMweb, stores a dcmtk-modified file and cleans up', async () => {
    const missing = orthancMissing();
    if (missing) throw new Error(missing);
    const dir = await mkdtemp(join(tmpdir(), 'idr-orthanc-helper-'));
    const orthanc = await startOrthanc();
    try {
      expect(orthanc.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const system = (await (await fetch(`${orthanc.baseUrl}/system`)).json()) as { Version: string };
      expect(system.Version).toMatch(/^\d+\.\d+/);
      const plugins = (await (await fetch(`${orthanc.baseUrl}/plugins`)).json()) as string[];
      expect(plugins).toContain('dicom-web');

      const src = findPydicomTestFile('CT_small.dcm');
      const out = await makeDicomVariant(src, join(dir, 'v.dcm'), { '(0010,0020)': 'PAT123', '(0010,0021)': 'UMCX', '(0008,0060)': 'MG', StudyDate: '20240131' });
      expect(existsSync(`${out}.bak`)).toBe(false);
      const up = await orthanc.upload(await readFile(out));
      expect(up.Status).toBe('Success');
      const tags = (await (await fetch(`${orthanc.baseUrl}/instances/${up.ID}/simplified-tags`)).json()) as Record<string, string>;
      expect(tags['PatientID']).toBe('PAT123');
      expect(tags['IssuerOfPatientID']).toBe('UMCX');
      expect(tags['Modality']).toBe('MG');
      expect(tags['StudyDate']).toBe('20240131');
      // New UIDs were generated: the original file is a different study/instance.
      const orig = await orthanc.upload(await readFile(src));
      expect(orig.ParentStudy).not.toBe(up.ParentStudy);
      expect(orig.ID).not.toBe(up.ID);
      // Storing the same file again is harmless.
      expect((await orthanc.upload(await readFile(out))).Status).toBe('AlreadyStored');
      await expect(orthanc.upload(new TextEncoder().encode('not dicom'))).rejects.toThrow(/refused the upload: HTTP 400/);
    } finally {
      await orthanc.stop();
      await rm(dir, { recursive: true, force: true });
    }
    await expect(fetch(`${orthanc.baseUrl}/system`)).rejects.toThrow();
    await orthanc.stop(); // idempotent
  });

  it('fails clearly, with the log tail, when the port is taken', async () => {
    if (orthancMissing()) throw new Error(orthancMissing()!);
    // Takes the port and drops every connection (so close() below does not wait on them).
    const blocker = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => blocker.listen(0, '0.0.0.0', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      await expect(startOrthanc({ port })).rejects.toThrow(/already in use/);
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });

  it('reports dcmodify failures and unknown test files', async () => {
    expect(() => findPydicomTestFile('no-such-file.dcm')).toThrow(/install-orthanc\.sh/);
    const dir = await mkdtemp(join(tmpdir(), 'idr-orthanc-helper-'));
    try {
      await expect(makeDicomVariant(findPydicomTestFile('CT_small.dcm'), join(dir, 'x.dcm'), { NoSuchKeyword: 'x' })).rejects.toThrow(/dcmodify failed/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
