import { createRequire } from 'node:module';
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';

/**
 * Value checks the R4 base definitions imply but @medplum/core's validator does not make: UCUM
 * codes in Quantities and Codings, `urn:oid:` values that are OIDs; and the reverse, base64Binary
 * with whitespace between its groups, which R4's pattern allows and the validator refuses.
 */

const UCUM = 'http://unitsofmeasure.org';
/** The R4 `oid` pattern. See: https://hl7.org/fhir/R4/datatypes.html#oid */
const OID = /^urn:oid:[0-2](\.(0|[1-9][0-9]*))+$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

interface UcumUtils {
  validateUnitString(unit: string, suggest?: boolean): { status: 'valid' | 'invalid' | 'error'; msg: string[] };
}
// @lhncbc/ucum-lhc is CommonJS without type declarations: load it with require and type what is used.
const ucum = (createRequire(import.meta.url)('@lhncbc/ucum-lhc') as { UcumLhcUtils: { getInstance(): UcumUtils } }).UcumLhcUtils.getInstance();
const ucumVerdicts = new Map<string, string | undefined>();

/** Why a UCUM code is not valid (e.g. "mmol/l/"), or undefined when it is. See: https://ucum.org/ucum */
export function ucumProblem(code: string): string | undefined {
  if (!ucumVerdicts.has(code)) {
    const r = ucum.validateUnitString(code, false);
    ucumVerdicts.set(code, r.status === 'valid' ? undefined : r.msg.join('; ') || `"${code}" is not a valid UCUM code`);
  }
  return ucumVerdicts.get(code);
}

/** UCUM codes and `urn:oid:` values anywhere in a resource (narrative excepted), each with its path. */
export function valueIssues(resource: unknown): OperationOutcomeIssue[] {
  const out: OperationOutcomeIssue[] = [];
  walk(resource, String((resource as { resourceType?: unknown })?.resourceType ?? 'Resource'), out);
  return out;
}

function walk(value: unknown, path: string, out: OperationOutcomeIssue[]): void {
  if (Array.isArray(value)) {
    value.forEach((v, i) => walk(v, `${path}[${i}]`, out));
    return;
  }
  if (typeof value === 'string') {
    if (value.startsWith('urn:oid:') && !OID.test(value)) out.push(issue(path, `"${value}" is not an OID (urn:oid: takes digits and dots, e.g. urn:oid:2.16.840.1.113883.2.4.6.3)`));
    return;
  }
  if (!value || typeof value !== 'object') return;
  const obj = value as Record<string, unknown>;
  if (obj.system === UCUM && typeof obj.code === 'string') {
    const problem = ucumProblem(obj.code);
    if (problem) out.push(issue(`${path}.code`, `Invalid UCUM code "${obj.code}": ${problem}`));
  }
  for (const [key, v] of Object.entries(obj)) {
    if (key === 'div') continue;
    walk(v, `${path}.${key}`, out);
  }
}

function issue(path: string, text: string): OperationOutcomeIssue {
  return { severity: 'error', code: 'value', details: { text }, expression: [path] };
}

/**
 * Drops the validator's "Invalid base64Binary format" issues whose value is valid base64 once
 * whitespace is removed. See: https://hl7.org/fhir/R4/datatypes.html#base64Binary
 */
export function withoutBase64WhitespaceIssues(resource: unknown, issues: OperationOutcomeIssue[]): OperationOutcomeIssue[] {
  return issues.filter((i) => {
    if (!i.details?.text?.includes('base64Binary')) return true;
    const found = valueAt(resource, i.expression?.[0] ?? '');
    return !(typeof found === 'string' && /\s/.test(found) && BASE64.test(found.replace(/\s+/g, '')));
  });
}

/** The value at a validator expression such as "Bundle.entry[0].resource.content[1].attachment.data". */
function valueAt(root: unknown, expression: string): unknown {
  let current: unknown = root;
  for (const step of expression.split('.').slice(1)) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+)\])?$/.exec(step);
    if (!m || !current || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[m[1] as string];
    if (m[2] !== undefined) current = Array.isArray(current) ? current[Number(m[2])] : undefined;
  }
  return current;
}
