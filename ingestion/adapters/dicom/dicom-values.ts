import type { HumanName, Patient } from '@medplum/fhirtypes';
import { DateConverter } from '../hl7v2/dates.ts';

const converters = new Map<string, DateConverter>();

function converter(timezone: string): DateConverter {
  let c = converters.get(timezone);
  if (!c) converters.set(timezone, (c = new DateConverter(timezone)));
  return c;
}

/** DA `YYYYMMDD` (also the old `YYYY.MM.DD`) -> digits only. */
function digitsOfDate(da: string): string {
  return da.replace(/[.-]/g, '');
}

/** TM `HHMMSS.FFFFFF` (also the old `HH:MM:SS`) -> `HHMMSS[.FFF]` (fractions cut to milliseconds). */
function digitsOfTime(tm: string): string {
  const [whole = '', frac] = tm.replace(/:/g, '').split('.');
  return frac ? `${whole}.${frac.slice(0, 3)}` : whole;
}

/**
 * DICOM DA + TM (+ TimezoneOffsetFromUTC) -> FHIR dateTime, reusing the HL7 v2 adapter's
 * converter: a time without an offset is local time in `timezone`. Undefined without a date;
 * a malformed value adds a warning and gives undefined (it never refuses the study).
 * See: https://dicom.nema.org/medical/dicom/current/output/chtml/part05/sect_6.2.html
 */
export function dicomDateTime(date: string | undefined, time: string | undefined, offset: string | undefined, timezone: string, where: string, warnings: string[]): string | undefined {
  if (!date) return undefined;
  const zone = offset && /^[+-]\d{4}$/.test(offset) ? offset : '';
  const value = `${digitsOfDate(date)}${time ? digitsOfTime(time) : ''}${time ? zone : ''}`;
  try {
    return converter(timezone).dateTime(value, where);
  } catch {
    warnings.push(`${where}: not a DICOM date/time: ${JSON.stringify([date, time].filter(Boolean).join(' '))}; not mapped`);
    return undefined;
  }
}

/** DICOM DA birth date -> FHIR date; undefined (with a warning) when malformed. */
export function dicomDate(date: string | undefined, where: string, warnings: string[]): string | undefined {
  if (!date) return undefined;
  const d = digitsOfDate(date);
  if (!/^\d{8}$/.test(d)) {
    warnings.push(`${where}: not a DICOM date: ${JSON.stringify(date)}; not mapped`);
    return undefined;
  }
  try {
    return converter('Z').date(d, where);
  } catch {
    warnings.push(`${where}: not a DICOM date: ${JSON.stringify(date)}; not mapped`);
    return undefined;
  }
}

/** DICOM PN (alphabetic group `Family^Given^Middle^Prefix^Suffix`) -> HumanName; undefined when empty. */
export function personName(pn: string | undefined): HumanName | undefined {
  if (!pn) return undefined;
  const [family = '', given = '', middle = '', prefix = '', suffix = ''] = (pn.split('=')[0] ?? '').split('^').map((s) => s.trim());
  const name: HumanName = {};
  if (family) name.family = family;
  const givens = [given, middle].filter(Boolean);
  if (givens.length) name.given = givens;
  if (prefix) name.prefix = [prefix];
  if (suffix) name.suffix = [suffix];
  const text = [prefix, given, middle, family, suffix].filter(Boolean).join(' ');
  if (!text) return undefined;
  name.text = text;
  return name;
}

const SEX: Readonly<Record<string, Patient['gender']>> = { M: 'male', F: 'female', O: 'other' };

/** DICOM PatientSex (M, F, O) -> FHIR gender. */
export function patientGender(sex: string | undefined): Patient['gender'] | undefined {
  return sex ? SEX[sex.toUpperCase()] : undefined;
}
