import { createHmac } from 'node:crypto';
import type { Attachment, Identifier, Patient, Resource } from '@medplum/fhirtypes';

/**
 * De-identification of exported resources, after the PIE principle (data apart from identity) and
 * close to the HIPAA Safe Harbor method and GDPR pseudonymisation practice:
 *  - direct identifiers of the patient (name, telecom, address, contacts, photo) are removed;
 *  - ids, references and every identifier value become keyed pseudonyms (HMAC-SHA-256 with a
 *    secret key), stable across exports with the same key, so cohorts can be extended later;
 *  - every date and time shifts by a per-patient offset (intervals within one patient's record
 *    stay exact), ages over 89 are capped at 90;
 *  - free text (notes, conclusions, narrative, text attachments, titles) is redacted of the
 *    patient's own names, identifiers, address parts, phone numbers and dates — from the patient's
 *    known demographics, not only patterns — plus generic phone, e-mail, postcode and date shapes;
 *    non-text attachments (PDF, images) and narratives are dropped;
 *  - DICOM UIDs map to `2.25.<number>` UIDs derived from the key (one study keeps one UID).
 * See docs/deidentification.md.
 */

export interface DeidProfile {
  name: string;
  /** Dates shift by a per-patient number of days in [-maxShiftDays, +maxShiftDays] (never 0). */
  maxShiftDays: number;
  /** Ages above this are reported as ageCap + 1 (the birth date moves accordingly). */
  ageCap: number;
}

export const SAFE_HARBOR_LIKE: DeidProfile = { name: 'safe-harbor-like', maxShiftDays: 365, ageCap: 89 };

export const PSEUDONYM_SYSTEM = 'urn:idr:pseudonym';
const REDACTED = '[redacted]';
const DATE_VALUE = /^(\d{4})(-(\d{2})(-(\d{2})(T(\d{2}):(\d{2})(:(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

/** What is known of the patient whose data is de-identified: what the redaction looks for in text. */
export interface PatientFacts {
  id: string;
  /** Names, identifier values, address parts, phone numbers, e-mail addresses (at least 3 characters each). */
  terms: string[];
  /** The patient's own dates (birth date and the like), in any common writing. */
  dates: string[];
  birthDate?: string;
}

/** The facts of a Patient that must never leave in an export. */
export function patientFacts(p: Patient): PatientFacts {
  const terms = new Set<string>();
  const add = (v: string | undefined): void => {
    for (const part of (v ?? '').split(/[\s,]+/)) if (part.replace(/\W/g, '').length >= 3) terms.add(part.replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, ''));
    if (v && v.trim().length >= 3) terms.add(v.trim());
  };
  for (const n of p.name ?? []) {
    add(n.family);
    for (const g of n.given ?? []) add(g);
    add(n.text);
    for (const x of n.prefix ?? []) if (x.length >= 3 && !/^(dr|mr|mrs|ms|dhr|mw|mevr)\.?$/i.test(x)) add(x);
  }
  for (const i of p.identifier ?? []) add(i.value);
  for (const t of p.telecom ?? []) {
    add(t.value);
    if (t.value) terms.add(t.value.replace(/\D/g, ''));
  }
  for (const a of p.address ?? []) {
    for (const l of a.line ?? []) add(l);
    add(a.city);
    add(a.postalCode);
    if (a.postalCode) terms.add(a.postalCode.replace(/\s/g, ''));
    add(a.text);
  }
  const dates = p.birthDate ? dateWritings(p.birthDate) : [];
  return { id: p.id ?? '', terms: [...terms].filter((t) => t.replace(/\W/g, '').length >= 3), dates, ...(p.birthDate ? { birthDate: p.birthDate } : {}) };
}

/** The ways a date is commonly written in Dutch and English letters. */
function dateWritings(iso: string): string[] {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(iso);
  if (!m) return [iso];
  const [, y, mo, d] = m as unknown as [string, string, string, string];
  const nl = ['januari', 'februari', 'maart', 'april', 'mei', 'juni', 'juli', 'augustus', 'september', 'oktober', 'november', 'december'];
  const en = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
  const day = String(Number(d));
  const month = Number(mo) - 1;
  return [`${y}-${mo}-${d}`, `${d}-${mo}-${y}`, `${day}-${Number(mo)}-${y}`, `${d}/${mo}/${y}`, `${day}/${Number(mo)}/${y}`, `${d}.${mo}.${y}`, `${y}${mo}${d}`, `${day} ${nl[month]} ${y}`, `${day} ${en[month]} ${y}`];
}

export class Deidentifier {
  private readonly key: Buffer;
  readonly profile: DeidProfile;
  private readonly now: Date;

  constructor(key: Buffer, profile: DeidProfile = SAFE_HARBOR_LIKE, now: Date = new Date()) {
    if (key.length < 16) throw new Error('the pseudonym key must be at least 16 bytes');
    this.key = key;
    this.profile = profile;
    this.now = now;
  }

  /**
   * A keyed pseudonym: the same input and key give the same value in every export. 128 bits as 32
   * hexadecimal characters, one word without separators: a pseudonym can never hold, between two
   * dashes, a run of characters that spells a name, house number or postcode.
   */
  pseudonym(kind: string, value: string): string {
    return createHmac('sha256', this.key).update(`${kind}\u0000${value}`).digest('hex').slice(0, 32);
  }

  /** The days this patient's dates move by (never 0). */
  shiftDays(patientId: string): number {
    const h = createHmac('sha256', this.key).update(`shift\u0000${patientId}`).digest().readUInt32BE(0);
    const span = this.profile.maxShiftDays;
    const days = (h % (2 * span)) - span;
    return days >= 0 ? days + 1 : days;
  }

  /** A DICOM UID for a UID: `2.25.` and a decimal number derived from the key. */
  dicomUid(uid: string): string {
    const h = createHmac('sha256', this.key).update(`uid\u0000${uid}`).digest().subarray(0, 16);
    return `2.25.${BigInt(`0x${h.toString('hex')}`).toString()}`;
  }

  /** A de-identified copy of a resource about `patient` (undefined `patient`: a resource outside any patient compartment). */
  deidentify(resource: Resource, patient: PatientFacts | undefined): Resource {
    const shift = patient ? this.shiftDays(patient.id) : 0;
    const redact = (text: string): string => redactText(text, patient);
    const walk = (value: unknown, key: string, path: string): unknown => {
      if (Array.isArray(value)) return value.map((v) => walk(v, key, path)).filter((v) => v !== undefined);
      if (value && typeof value === 'object') return this.object(value as Record<string, unknown>, path, walk, redact);
      if (typeof value !== 'string') return value;
      if (key === 'reference') return this.reference(value);
      if (key === 'id' && path === 'id') return this.pseudonym(resource.resourceType, value);
      if (DATE_VALUE.test(value) && /(date|time|start|end|issued|recorded|created|period|effective|onset|abatement|authored|birth|occurrence|started|instant|lastUpdated|sent|received|asserted|when)/i.test(key)) return shiftDate(value, shift);
      if (key === 'uid' || (key === 'value' && value.startsWith('urn:oid:') && path.endsWith('identifier'))) return undefined;
      if (CODE_KEYS.has(key)) return value;
      return redact(value);
    };
    const out = walk(resource, '', '') as Record<string, unknown>;
    out.resourceType = resource.resourceType;
    if (resource.resourceType === 'Patient') this.patient(out);
    return out as unknown as Resource;
  }

  private object(o: Record<string, unknown>, path: string, walk: (v: unknown, k: string, p: string) => unknown, redact: (t: string) => string): Record<string, unknown> | undefined {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o)) {
      if (path === '' && (k === 'text' || k === 'contained')) continue;
      // Extensions may hold anything (birthplace, names): dropped, with the primitive elements' own (`_birthDate`).
      if (k === 'extension' || k === 'modifierExtension' || k.startsWith('_')) continue;
      if (k === 'meta') {
        const meta = v as { profile?: string[]; tag?: unknown[]; security?: unknown[] };
        out.meta = { ...(meta.profile ? { profile: meta.profile } : {}), ...(meta.security ? { security: meta.security } : {}) };
        continue;
      }
      if (k === 'identifier') {
        out.identifier = [v].flat().map((i) => this.identifier(i as Identifier));
        continue;
      }
      if (isAttachmentKey(k)) {
        const att = [v].flat().map((a) => this.attachment(a as Attachment, redact)).filter(Boolean);
        if (att.length) out[k] = Array.isArray(v) ? att : att[0];
        continue;
      }
      if (k === 'uid' && typeof v === 'string' && /^[0-9.]+$/.test(v)) {
        out.uid = this.dicomUid(v);
        continue;
      }
      const w = walk(v, k, path === '' ? k : `${path}.${k}`);
      if (w !== undefined) out[k] = w;
    }
    return out;
  }

  private identifier(i: Identifier): Identifier {
    const value = i.value ?? '';
    if (i.system === 'urn:dicom:uid') return { system: i.system, value: `urn:oid:${this.dicomUid(value.replace(/^urn:oid:/, ''))}` };
    return { ...(i.use ? { use: i.use } : {}), ...(i.type ? { type: i.type } : {}), system: PSEUDONYM_SYSTEM, value: this.pseudonym(i.system ?? '', value) };
  }

  private attachment(a: Attachment, redact: (t: string) => string): Attachment | undefined {
    const out: Attachment = { ...(a.contentType ? { contentType: a.contentType } : {}), ...(a.language ? { language: a.language } : {}), ...(a.title ? { title: redact(a.title) } : {}) };
    if (a.data && /^text\/plain/i.test(a.contentType ?? '')) out.data = Buffer.from(redact(Buffer.from(a.data, 'base64').toString('utf8')), 'utf8').toString('base64');
    return out;
  }

  private reference(ref: string): string {
    const m = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(\/_history\/\d+)?$/.exec(ref);
    return m?.[1] && m[2] ? `${m[1]}/${this.pseudonym(m[1], m[2])}` : REDACTED;
  }

  /** The Patient itself: no direct identifiers left, birth date capped past 89. */
  private patient(p: Record<string, unknown>): void {
    for (const k of ['name', 'telecom', 'address', 'photo', 'contact', 'communication', 'link', 'generalPractitioner', 'managingOrganization', 'maritalStatus', 'multipleBirthInteger', 'multipleBirthBoolean']) delete p[k];
    const birth = typeof p.birthDate === 'string' ? p.birthDate : undefined;
    if (birth) {
      const age = (this.now.getTime() - Date.parse(birth)) / (365.2425 * 86_400_000);
      if (age > this.profile.ageCap) p.birthDate = String(this.now.getUTCFullYear() - this.profile.ageCap - 1);
    }
  }
}

/** Keys whose values are codes or enumerations, never free text. */
const CODE_KEYS = new Set(['system', 'code', 'status', 'use', 'gender', 'resourceType', 'unit', 'language', 'contentType', 'version', 'url', 'mode', 'comparator', 'intent', 'priority', 'action', 'outcome', 'modality']);

function isAttachmentKey(k: string): boolean {
  return k === 'presentedForm' || k === 'attachment' || k === 'photo' || k === 'valueAttachment';
}

/** Moves a FHIR date, dateTime or instant by whole days, keeping its precision. */
export function shiftDate(value: string, days: number): string {
  const m = DATE_VALUE.exec(value);
  if (!m || !days) return value;
  if (!m[3]) return String(Number(m[1]) + Math.round(days / 365.2425));
  const d = new Date(value.length <= 10 ? `${m[1]}-${m[3]}-${m[5] ?? '01'}T00:00:00Z` : value);
  if (Number.isNaN(d.getTime())) return value;
  const moved = new Date(d.getTime() + days * 86_400_000);
  if (!m[5]) return moved.toISOString().slice(0, 7);
  if (!m[6]) return moved.toISOString().slice(0, 10);
  // Keep the original offset text: shift the wall-clock date by whole days.
  const iso = moved.toISOString();
  return `${iso.slice(0, 10)}${value.slice(10)}`;
}

const GENERIC_PATTERNS = [
  /\b(?:\+31|0031|0)[\s-]?(?:\d[\s-]?){9}\b/g, // Dutch phone numbers
  /\b[\w.+-]+@[\w-]+\.[\w.-]+\b/g, // e-mail
  /\b\d{4}\s?[A-Z]{2}\b/g, // Dutch postcodes
  /\b\d{9}\b/g, // BSN-shaped numbers
  /\b\d{1,2}[-/.]\d{1,2}[-/.](?:19|20)\d{2}\b/g, // dd-mm-yyyy
  /\b(?:19|20)\d{2}-\d{2}-\d{2}\b/g, // yyyy-mm-dd
  /\b\d{1,2}\s+(?:januari|februari|maart|april|mei|juni|juli|augustus|september|oktober|november|december|january|february|march|may|june|july|august|october)\s+(?:19|20)\d{2}\b/gi,
];

/** Redacts the patient's own terms and dates, then generic identifier shapes. */
export function redactText(text: string, patient: PatientFacts | undefined): string {
  let out = text;
  for (const t of [...(patient?.terms ?? []), ...(patient?.dates ?? [])].sort((a, b) => b.length - a.length)) {
    out = out.replace(new RegExp(`(?<![\\p{L}\\p{N}])${escapeRegex(t)}(?![\\p{L}\\p{N}])`, 'giu'), REDACTED);
  }
  for (const p of GENERIC_PATTERNS) out = out.replace(p, REDACTED);
  return out;
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The checker: every place in `text` (an export, NDJSON) where one of the patients' direct
 * identifiers appears — names, identifier values, address parts, phone numbers, birth dates.
 */
export function findDirectIdentifiers(text: string, patients: PatientFacts[]): { patient: string; term: string }[] {
  const hits: { patient: string; term: string }[] = [];
  for (const p of patients) {
    for (const t of [...p.terms, ...p.dates]) {
      if (new RegExp(`(?<![\\p{L}\\p{N}])${escapeRegex(t)}(?![\\p{L}\\p{N}])`, 'iu').test(text)) hits.push({ patient: p.id, term: t });
    }
  }
  return hits;
}
