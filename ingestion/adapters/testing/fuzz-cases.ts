/**
 * The fuzz corpus: valid seed inputs (the project's fixtures, plus messages the caller hands in) and, per
 * (seed, case index), one mutated input with the adapter call that must either return a Bundle or
 * refuse it with a located AdapterError. Shared by the adapter-level fuzz test and the HTTP/MLLP one.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { decodeHl7Text, defaultAdapters } from '../../adapter-registry.ts';
import type { InboxEntry } from '../../inbox.ts';
import { buildAck } from '../../listeners/hl7-ack.ts';
import { peekMessageHeader, splitHl7Batch } from '../hl7v2/index.ts';
import { dicomInstancesToBundle, qidoStudiesToBundle, readDicomHeader, type QidoSeries, type QidoStudy } from '../dicom/index.ts';
import { ccdaToBundle, detectDocumentKind, documentToBundle, mdmToBundle } from '../documents/index.ts';
import { AdapterError, type AdapterContext, type AdapterOutput } from '../types.ts';
import { ccdaXml } from '../documents/testing/ccda-fixture.ts';
import { caseRng, mutateBytes, mutateDicom, mutateHl7, mutateJson, mutateXml, type Rng } from './mutator.ts';

const FIXTURES = new URL('../../../test/fixtures/', import.meta.url);

/** The input kinds the fuzzer mutates. */
export const FUZZ_KINDS = { hl7v2: 'hl7v2', mdm: 'mdm', dicom: 'dicom', qido: 'qido', ccda: 'ccda', pdf: 'pdf', text: 'text' } as const;
export type FuzzKind = (typeof FUZZ_KINDS)[keyof typeof FUZZ_KINDS];

/** One generated input: its bytes, how it is sent (content type, metadata) and how it was made. */
export interface FuzzCase {
  seed: number;
  index: number;
  kind: FuzzKind;
  base: string;
  ops: string[];
  bytes: Uint8Array;
  contentType: string;
  /** Document metadata (query parameters over HTTP). */
  metadata: Record<string, unknown>;
}

/** The seed inputs the mutants are made from, by kind. */
export interface FuzzCorpus {
  hl7v2: { name: string; text: string }[];
  mdm: { name: string; text: string }[];
  dicom: { name: string; bytes: Uint8Array }[];
  ccda: { name: string; text: string }[];
  pdf: { name: string; bytes: Uint8Array }[];
  text: { name: string; bytes: Uint8Array }[];
}

/** The project's fixtures (valid ones and some refused ones) plus `hl7Messages` (e.g. from the seed generator). */
export function loadFuzzCorpus(hl7Messages: { name: string; text: string }[] = []): FuzzCorpus {
  const dir = (sub: string): URL => new URL(`${sub}/`, FIXTURES);
  const files = (sub: string, ext: string): string[] => readdirSync(dir(sub)).filter((f) => f.endsWith(ext)).sort();
  const read = (sub: string, name: string): Uint8Array => new Uint8Array(readFileSync(new URL(name, dir(sub))));
  const utf8 = (b: Uint8Array): string => Buffer.from(b).toString('utf8');
  return {
    hl7v2: [
      ...files('hl7v2', '.hl7').filter((f) => f !== 'bad-binary.hl7').map((name) => ({ name, text: utf8(read('hl7v2', name)) })),
      ...hl7Messages,
    ],
    mdm: [{ name: 'radiology-report-mdm.hl7', text: utf8(read('documents', 'radiology-report-mdm.hl7')) }, { name: 'bad-mdm.hl7', text: utf8(read('hl7v2', 'bad-mdm.hl7')) }],
    dicom: files('dicom', '.dcm').filter((f) => f !== 'not-dicom.dcm').map((name) => ({ name, bytes: read('dicom', name) })),
    ccda: [
      { name: 'consult-note-ccda.xml', text: utf8(read('documents', 'consult-note-ccda.xml')) },
      {
        name: 'ccda-fixture',
        text: ccdaXml({
          patient: { root: '2.16.840.1.113883.2.4.6.3', extension: '999911120', family: 'Jansen', given: 'Anna' },
          documentId: 'DOC-1',
          ids: { concern: '3b7d0b6e-8f2a-4f59-9b1e-1d2c3a4b5c6d', allergy: '4c8e1c7f-9a3b-4a6a-8c2f-2e3d4b5c6d7e', organizer: '5d9f2d80-ab4c-4b7b-9d30-3f4e5c6d7e8f', result: '6ea03e91-bc5d-4c8c-8e41-4a5f6d7e8f90' },
          allergen: { code: '7980', name: 'Penicillin G' },
          hemoglobin: '13.2',
        }),
      },
    ],
    pdf: ['referral-letter.pdf', 'image-only.pdf', 'encrypted.pdf'].map((name) => ({ name, bytes: read('documents', name) })),
    text: ['mdt-letter.txt', 'pdf-named-text.txt'].map((name) => ({ name, bytes: read('documents', name) })),
  };
}

const PATIENT = { system: 'http://fhir.nl/fhir/NamingSystem/bsn', value: '999911120' };
const META_VALUES = ['', ' ', 'referral', 'consult', 'x', '11488-4', '1-1', '2024-02-30', '2024-13-01', '2024-01-01T10:00:00', '2024-01-01T25:00:00+01:00', '99999-12-31', '\u0000', 'a|b', 'a,b'];

/** Random metadata: mostly the valid patient, sometimes a broken or missing field. */
function metadataFor(kind: FuzzKind, r: Rng): Record<string, unknown> {
  const meta: Record<string, unknown> = {};
  if (kind === 'pdf' || kind === 'text' || r.chance(0.2)) meta.patientIdentifier = r.chance(0.9) ? PATIENT : { system: r.pick(META_VALUES), value: r.pick(META_VALUES) };
  if (r.chance(0.3)) meta.type = r.pick(META_VALUES);
  if (r.chance(0.3)) meta.date = r.pick(META_VALUES);
  if (r.chance(0.1)) meta.title = r.pick(META_VALUES);
  return meta;
}

const CASE_KINDS: FuzzKind[] = ['hl7v2', 'hl7v2', 'hl7v2', 'hl7v2', 'mdm', 'dicom', 'dicom', 'dicom', 'qido', 'ccda', 'ccda', 'text', 'pdf'];

const QIDO_STUDY_UID = '1.2.826.0.1.3680043.10.1234.500';
/** A QIDO-RS study with two series, as the DICOMweb import stores it (PS3.18 F.2 DICOM JSON). */
const QIDO_ENTRY = {
  baseUrl: 'http://pacs.example/dicom-web',
  wadoRsBase: 'http://pacs.example/dicom-web',
  study: {
    '0020000D': { vr: 'UI', Value: [QIDO_STUDY_UID] }, '00080050': { vr: 'SH', Value: ['RAD24-000500'] }, '00080020': { vr: 'DA', Value: ['20240701'] },
    '00080030': { vr: 'TM', Value: ['141500'] }, '00080061': { vr: 'CS', Value: ['MR', 'SR'] }, '00081030': { vr: 'LO', Value: ['MRI mammae'] },
    '00201206': { vr: 'IS', Value: [2] }, '00201208': { vr: 'IS', Value: ['120'] }, '00100020': { vr: 'LO', Value: ['999911120'] },
    '00100021': { vr: 'LO', Value: ['2.16.840.1.113883.2.4.6.3'] }, '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Jansen^Anna' }] },
    '00080090': { vr: 'PN', Value: [{ Alphabetic: 'Bakker^Eva^^Dr.' }] },
  },
  series: [
    { '0020000E': { vr: 'UI', Value: [`${QIDO_STUDY_UID}.2`] }, '00080060': { vr: 'CS', Value: ['MR'] }, '0008103E': { vr: 'LO', Value: ['T1 dyn'] }, '00180015': { vr: 'CS', Value: ['BREAST'] }, '00200060': { vr: 'CS', Value: ['R'] }, '00201209': { vr: 'IS', Value: [119] }, '00200011': { vr: 'IS', Value: [2] } },
    { '0020000E': { vr: 'UI', Value: [`${QIDO_STUDY_UID}.1`] }, '00080060': { vr: 'CS', Value: ['SR'] }, '00201209': { vr: 'IS', Value: [1] }, '00200011': { vr: 'IS', Value: [1] } },
  ],
};

/**
 * The case at `index` of `seed`, of the given kind or of a kind drawn from the mix above.
 * `maxRepeat` bounds repeated HL7 v2 segments and fields (each repeated OBX is a resource written
 * when the case goes through the service).
 */
export function fuzzCase(c: FuzzCorpus, seed: number, index: number, only?: FuzzKind, maxRepeat = 400): FuzzCase {
  const r = caseRng(seed, index);
  const kind = only ?? r.pick(CASE_KINDS);
  const common = { seed, index, kind };
  switch (kind) {
    case 'hl7v2':
    case 'mdm': {
      const base = r.pick(c[kind]);
      const m = mutateHl7(base.text, r, 3, maxRepeat);
      const latin = r.chance(0.05);
      return { ...common, base: base.name, ops: [...m.ops, ...(latin ? ['encoded as Latin-1'] : [])], bytes: Buffer.from(m.value, latin ? 'latin1' : 'utf8'), contentType: 'x-application/hl7-v2+er7', metadata: kind === 'mdm' ? metadataFor(kind, r) : {} };
    }
    case 'dicom': {
      const base = r.pick(c.dicom);
      const m = mutateDicom(base.bytes, r);
      return { ...common, base: base.name, ops: m.ops, bytes: m.value, contentType: 'application/dicom', metadata: {} };
    }
    case 'qido': {
      const m = mutateJson({ study: QIDO_ENTRY.study, series: QIDO_ENTRY.series }, r);
      return { ...common, base: 'QIDO-RS study', ops: m.ops, bytes: Buffer.from(JSON.stringify({ ...QIDO_ENTRY, ...(m.value as object) }) ?? '', 'utf8'), contentType: 'application/dicom+json', metadata: {} };
    }
    case 'ccda': {
      const base = r.pick(c.ccda);
      const m = r.chance(0.85) ? mutateXml(base.text, r) : (() => { const b = mutateBytes(Buffer.from(base.text, 'utf8'), r); return { value: Buffer.from(b.value).toString('utf8'), ops: b.ops }; })();
      return { ...common, base: base.name, ops: m.ops, bytes: Buffer.from(m.value, 'utf8'), contentType: r.pick(['application/xml', 'application/hl7-cda+xml', 'text/xml']), metadata: metadataFor(kind, r) };
    }
    case 'pdf': {
      const base = r.pick(c.pdf);
      const m = mutateBytes(base.bytes, r, 3);
      return { ...common, base: base.name, ops: m.ops, bytes: m.value, contentType: 'application/pdf', metadata: metadataFor(kind, r) };
    }
    default: {
      const base = r.pick(c.text);
      const m = mutateBytes(base.bytes, r, 3);
      return { ...common, base: base.name, ops: m.ops, bytes: m.value, contentType: 'text/plain', metadata: metadataFor(kind, r) };
    }
  }
}

/** A context with a fixed clock and counter ids. */
export function fuzzContext(): AdapterContext {
  let n = 0;
  return {
    now: () => new Date('2024-06-01T12:00:00Z'),
    newId: () => `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`,
    identifierSystem: (authority) => (authority === '2.16.840.1.113883.2.4.6.3' ? 'http://fhir.nl/fhir/NamingSystem/bsn' : `urn:idr:assigning-authority:${authority ?? 'unknown'}`),
  };
}

const hl7Adapter = defaultAdapters().hl7v2 as NonNullable<ReturnType<typeof defaultAdapters>['hl7v2']>;

/** Runs the pure adapters on a case as the pipeline would (HL7 v2 also through batch splitting and the ACK builder). */
export async function runAdapters(fc: FuzzCase): Promise<AdapterOutput> {
  const ctx = fuzzContext();
  const bytes = Buffer.from(fc.bytes);
  switch (fc.kind) {
    case 'hl7v2': {
      const text = decodeHl7Text(bytes);
      splitHl7Batch(text);
      const ack = buildAck(text, 'AE', { controlId: 'x', now: new Date(0), text: 'error', error: { location: 'OBX[1]-5', message: text.slice(0, 200), code: '102' } }).split('\r');
      // Values echoed from the message never add or shift fields of the ACK.
      if (ack.length !== 3 || ack[0]?.split('|').length !== 12 || (ack[1]?.split('|').length ?? 0) > 4) throw new Error(`malformed ACK: ${JSON.stringify(ack.slice(0, 2))}`);
      try {
        peekMessageHeader(text);
      } catch (err) {
        if (!(err instanceof AdapterError)) throw err;
      }
      return hl7Adapter.run(bytes, { _id: `fuzz-${fc.seed}-${fc.index}` } as InboxEntry, ctx);
    }
    case 'mdm': {
      if (detectDocumentKind(bytes, fc.contentType) !== 'hl7v2') return documentToBundle({ bytes, contentType: fc.contentType, metadata: fc.metadata }, ctx);
      return mdmToBundle(decodeHl7Text(bytes), ctx);
    }
    case 'dicom': {
      const warnings: string[] = [];
      const header = readDicomHeader(bytes, warnings);
      return dicomInstancesToBundle([header], ctx, { wadoRsBase: 'http://pacs.example/dicom-web' });
    }
    case 'qido': {
      // What the dicomweb adapter does with a stored study (imaging/dicom-adapters.ts), less the store.
      const entry = JSON.parse(bytes.toString('utf8')) as { study: unknown; series: unknown };
      const study = entry.study as QidoStudy;
      const uid = (entry.study as Record<string, { Value?: unknown[] } | undefined> | null)?.['0020000D']?.Value?.[0];
      return qidoStudiesToBundle([study], typeof uid === 'string' ? { [uid]: entry.series as QidoSeries[] } : {}, ctx, { wadoRsBase: QIDO_ENTRY.wadoRsBase });
    }
    case 'ccda':
      if (fc.index % 2 === 0) return ccdaToBundle(bytes.toString('utf8'), ctx);
      return documentToBundle({ bytes, contentType: fc.contentType, metadata: fc.metadata }, ctx);
    default:
      return documentToBundle({ bytes, contentType: fc.contentType, metadata: fc.metadata, pdfLimits: { maxPages: 50, maxInflatedBytes: 8 * 1024 * 1024, timeoutMs: 10_000, memoryMb: 128 } }, ctx);
  }
}

/** What a case came to: a Bundle, a located refusal, or a finding (anything else). */
export type FuzzOutcome = { result: 'bundle' } | { result: 'refused'; location: string } | { result: 'finding'; error: string };

/** Runs a case and classifies the outcome; a refusal without a location is a finding. */
export async function classify(fc: FuzzCase): Promise<FuzzOutcome> {
  try {
    const out = await runAdapters(fc);
    if (out?.bundle?.resourceType !== 'Bundle' || !Array.isArray(out.bundle.entry)) return { result: 'finding', error: 'adapter returned something other than a Bundle with entries' };
    // The store keeps no NUL in text (PostgreSQL): a Bundle or warning with one could not be written.
    if (JSON.stringify([out.bundle, out.warnings, out.kind]).includes('\\u0000')) return { result: 'finding', error: 'the output holds a NUL character, which the store cannot keep' };
    return { result: 'bundle' };
  } catch (err) {
    if (err instanceof AdapterError) {
      if (!err.location) return { result: 'finding', error: `AdapterError without a location: ${err.message}` };
      if (err.message.includes('\u0000')) return { result: 'finding', error: `the refusal's message holds a NUL character, which the store cannot keep: ${JSON.stringify(err.message.slice(0, 200))}` };
      return { result: 'refused', location: err.location };
    }
    const e = err as Error;
    return { result: 'finding', error: `${e?.name ?? typeof err}: ${e?.message ?? String(err)}\n${(e?.stack ?? '').split('\n').slice(1, 6).join('\n')}` };
  }
}

/** A short reproducible description of a case. */
export function describeCase(fc: FuzzCase): string {
  return `seed ${fc.seed} case ${fc.index} (${fc.kind} from ${fc.base}): ${fc.ops.join('; ')}`;
}
