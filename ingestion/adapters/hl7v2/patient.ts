import type { Address, CodeableConcept, ContactPoint, HumanName, Identifier, Patient } from '@medplum/fhirtypes';
import { AdapterError, type AdapterContext } from '../types.ts';
import { SYSTEMS } from './constants.ts';
import type { DateConverter } from './dates.ts';
import type { Segment } from './segment.ts';

const GENDER: Readonly<Record<string, Patient['gender']>> = { M: 'male', F: 'female', O: 'other', A: 'other', U: 'unknown', N: 'unknown' };
const NAME_USE: Readonly<Record<string, HumanName['use']>> = { L: 'official', D: 'usual', M: 'maiden', N: 'nickname', B: 'old', R: 'official', S: 'anonymous' };
const ADDRESS_USE: Readonly<Record<string, Address['use']>> = { H: 'home', B: 'work', O: 'work', C: 'temp', BA: 'billing' };
const TELECOM_USE: Readonly<Record<string, ContactPoint['use']>> = { PRN: 'home', ORN: 'home', VHN: 'home', WPN: 'work', PRS: 'mobile', EMR: 'home', NET: 'home' };
const TELECOM_SYSTEM: Readonly<Record<string, ContactPoint['system']>> = { PH: 'phone', CP: 'phone', FX: 'fax', Internet: 'email', X400: 'email', BP: 'pager', MD: 'other' };

/** A mapped Patient and the identifier used for its conditional update. */
export interface MappedPatient {
  patient: Patient;
  key: Identifier;
}

/**
 * PID -> Patient: every PID-3 identifier (system from the assigning authority through
 * ctx.identifierSystem, type from CX-5), names, birth date, gender, address, telecom, death.
 * The first PID-3 identifier with a value identifies the patient; names are never used to match.
 */
export function mapPatient(pid: Segment, ctx: AdapterContext, dates: DateConverter): MappedPatient {
  const identifiers: Identifier[] = [];
  for (let r = 0; r < pid.reps(3); r++) {
    const value = pid.get(3, 1, r);
    if (!value) continue;
    // CX-4 is an HD: prefer the universal id (an OID is unambiguous), else the namespace id.
    const authority = pid.sub(3, 4, 2, r) || pid.sub(3, 4, 1, r) || undefined;
    const id: Identifier = { system: ctx.identifierSystem(authority), value };
    const type = pid.get(3, 5, r);
    if (type) id.type = identifierType(type);
    identifiers.push(id);
  }
  const key = identifiers[0];
  if (!key) throw new AdapterError(pid.loc(3), 'no patient identifier (PID-3 is empty); patients are matched on identifiers only');
  if (/[|,]/.test(key.value as string)) {
    throw new AdapterError(pid.loc(3), `patient identifier ${JSON.stringify(key.value)} contains "|" or ",", which a conditional reference cannot carry`);
  }
  const patient: Patient = { resourceType: 'Patient', identifier: identifiers };
  const names = mapNames(pid);
  if (names.length) patient.name = names;
  const birthDate = dates.date(pid.get(7), pid.loc(7));
  if (birthDate) patient.birthDate = birthDate;
  const gender = GENDER[pid.get(8).toUpperCase()];
  if (gender) patient.gender = gender;
  const address = mapAddresses(pid);
  if (address.length) patient.address = address;
  const telecom = [...mapTelecom(pid, 13, 'home'), ...mapTelecom(pid, 14, 'work')];
  if (telecom.length) patient.telecom = telecom;
  const deathTime = dates.dateTime(pid.get(29), pid.loc(29));
  if (deathTime) patient.deceasedDateTime = deathTime;
  else if (pid.get(30).toUpperCase() === 'Y') patient.deceasedBoolean = true;
  return { patient, key };
}

function mapNames(pid: Segment): HumanName[] {
  const out: HumanName[] = [];
  for (let r = 0; r < pid.reps(5); r++) {
    const family = pid.sub(5, 1, 1, r);
    const given = [pid.get(5, 2, r), pid.get(5, 3, r)].filter(Boolean);
    const name: HumanName = {};
    const use = NAME_USE[pid.get(5, 7, r)];
    if (use) name.use = use;
    if (family) name.family = family;
    if (given.length) name.given = given;
    const prefix = pid.get(5, 5, r);
    if (prefix) name.prefix = [prefix];
    const suffix = [pid.get(5, 4, r), pid.get(5, 6, r)].filter(Boolean);
    if (suffix.length) name.suffix = suffix;
    if (family || given.length) out.push(name);
  }
  return out;
}

function mapAddresses(pid: Segment): Address[] {
  const out: Address[] = [];
  for (let r = 0; r < pid.reps(11); r++) {
    const line = [pid.sub(11, 1, 1, r), pid.get(11, 2, r)].filter(Boolean);
    const a: Address = {};
    if (line.length) a.line = line;
    const city = pid.get(11, 3, r);
    const state = pid.get(11, 4, r);
    const postalCode = pid.get(11, 5, r);
    const country = pid.get(11, 6, r);
    if (city) a.city = city;
    if (state) a.state = state;
    if (postalCode) a.postalCode = postalCode;
    if (country) a.country = country;
    const type = pid.get(11, 7, r);
    const use = ADDRESS_USE[type];
    if (use) a.use = use;
    if (type === 'M') a.type = 'postal';
    if (Object.keys(a).length) out.push(a);
  }
  return out;
}

function mapTelecom(pid: Segment, n: number, fallbackUse: ContactPoint['use']): ContactPoint[] {
  const out: ContactPoint[] = [];
  for (let r = 0; r < pid.reps(n); r++) {
    const equipment = pid.get(n, 3, r);
    const system = TELECOM_SYSTEM[equipment] ?? 'phone';
    const local = [pid.get(n, 6, r) && `(${pid.get(n, 6, r)})`, pid.get(n, 7, r)].filter(Boolean).join(' ');
    const value = (system === 'email' ? pid.get(n, 4, r) : '') || pid.get(n, 1, r) || local || pid.get(n, 12, r);
    if (!value) continue;
    const use = equipment === 'CP' ? 'mobile' : TELECOM_USE[pid.get(n, 2, r)] ?? fallbackUse;
    out.push({ system, value, ...(use ? { use } : {}) });
  }
  return out;
}

/**
 * CX-5 -> Identifier.type. v2-0203 lists the national person identifier as the pattern NNxxx
 * (xxx: ISO 3166 alpha-3, e.g. NNNLD for the Dutch BSN) but not each country's code: those become
 * `NI` (national unique individual identifier), with the code as sent kept as the text.
 */
function identifierType(code: string): CodeableConcept {
  if (/^NN[A-Z]{3}$/.test(code)) return { coding: [{ system: SYSTEMS.v2Table('0203'), code: 'NI', display: 'National unique individual identifier' }], text: code };
  return { coding: [{ system: SYSTEMS.v2Table('0203'), code }] };
}
