import type { CodeableConcept, Coding, OperationOutcomeIssue } from '@medplum/fhirtypes';
import type { TypedValueWithPath } from '@medplum/core';
import { valueSetCodingsFor, type ValueSetCodings } from './fhir-definitions.ts';

/**
 * Required bindings: @medplum/core's validator collects every value bound to a required ValueSet
 * (it leaves checking them to a terminology service); this checks the code, Coding and
 * CodeableConcept values whose ValueSet the R4 definitions list in full. A Coding must carry one
 * of the ValueSet's systems and a code of that system; a CodeableConcept needs at least one such
 * Coding (other codings may sit beside it). Value sets that cannot be listed are not checked.
 * See: https://hl7.org/fhir/R4/terminologies.html#required
 */
export function requiredBindingIssues(tokens: Record<string, TypedValueWithPath[]>): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  for (const [url, values] of Object.entries(tokens)) {
    const codings = valueSetCodingsFor(url);
    if (!codings) continue;
    const name = url.split('|')[0] as string;
    for (const v of values) {
      const problem = bindingProblem(v, codings, name);
      if (problem) issues.push({ severity: 'error', code: 'code-invalid', details: { text: problem }, expression: [v.path] });
    }
  }
  return issues;
}

function bindingProblem(v: TypedValueWithPath, codings: ValueSetCodings, url: string): string | undefined {
  if (v.type === 'code') {
    if (typeof v.value !== 'string') return undefined;
    return [...codings.values()].some((codes) => codes.has(v.value as string)) ? undefined : `Value "${v.value}" is not in the required value set ${url}`;
  }
  if (v.type === 'Coding') return codingProblem(v.value as Coding, codings, url);
  if (v.type === 'CodeableConcept') {
    const cc = v.value as CodeableConcept;
    const list = cc.coding ?? [];
    if (list.some((c) => !codingProblem(c, codings, url))) return undefined;
    const first = list[0];
    return first ? codingProblem(first, codings, url) : `A code from the required value set ${url} is needed (text alone is not enough)`;
  }
  return undefined;
}

function codingProblem(c: Coding, codings: ValueSetCodings, url: string): string | undefined {
  if (!c.code) return `A code from the required value set ${url} is needed`;
  if (!c.system) return `Code "${c.code}" has no system; the required value set ${url} takes codes from ${[...codings.keys()].join(', ')}`;
  const codes = codings.get(c.system);
  if (!codes) return `System ${c.system} is not part of the required value set ${url} (expected ${[...codings.keys()].join(', ')})`;
  return codes.has(c.code) ? undefined : `Code "${c.code}" is not in the required value set ${url} (system ${c.system})`;
}
