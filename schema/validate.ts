import type { OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { OperationOutcomeError as MedplumOutcomeError, validateResource, type TypedValueWithPath } from '@medplum/core';
import { badRequest, notFound } from '@medplum/core';
import { fail, invalidResource, withText } from './outcomes.ts';
import { isResourceType, loadFhirDefinitions } from './fhir-definitions.ts';
import { requiredBindingIssues } from './binding-checks.ts';
import { resourceNarrativeIssues } from './narrative.ts';
import { valueIssues, withoutBase64WhitespaceIssues } from './value-checks.ts';

const ID_PATTERN = /^[A-Za-z0-9\-.]{1,64}$/;

/** True for a valid FHIR logical id. See: https://hl7.org/fhir/R4/datatypes.html#id */
export function isValidId(id: string): boolean {
  return ID_PATTERN.test(id);
}

/** Throws a 400/404 OperationOutcomeError unless `type` is a concrete R4 resource type. */
export function assertResourceType(type: string): void {
  if (!isResourceType(type)) fail(withText(notFound, `Unknown resource type "${type}"`));
}

/**
 * Validates a resource against the R4 base definitions with @medplum/core, plus what it leaves
 * out: required bindings, the narrative rules, UCUM codes and OIDs; throws a 400 with every issue
 * found (each with its FHIRPath expression).
 */
export function assertValidResource(resource: unknown): asserts resource is Resource {
  loadFhirDefinitions();
  if (!resource || typeof resource !== 'object' || Array.isArray(resource)) fail(badRequest('Expected a FHIR resource (a JSON object)'));
  const type = (resource as { resourceType?: unknown }).resourceType;
  if (typeof type !== 'string') fail(badRequest('Missing resourceType', 'resourceType'));
  assertResourceType(type);
  const id = (resource as { id?: unknown }).id;
  if (id !== undefined && (typeof id !== 'string' || !isValidId(id))) fail(badRequest(`Invalid id ${JSON.stringify(id)}`, `${type}.id`));
  let issues: OperationOutcomeIssue[];
  const tokens: Record<string, TypedValueWithPath[]> = {};
  try {
    issues = validateResource(resource as Resource, { collect: { tokens } });
  } catch (err) {
    if (err instanceof MedplumOutcomeError) {
      issues = err.outcome.issue ?? [];
    } else if (err instanceof Error) {
      // The validator also throws plain Errors on malformed input (e.g. "_birthDate": 5).
      issues = [{ severity: 'error', code: 'structure', details: { text: err.message } }];
    } else {
      throw err;
    }
  }
  issues = [...withoutBase64WhitespaceIssues(resource, issues), ...requiredBindingIssues(tokens), ...resourceNarrativeIssues(resource), ...valueIssues(resource)];
  const errors = issues.filter((i) => i.severity === 'error' || i.severity === 'fatal');
  if (errors.length) fail(invalidResource(errors));
}
