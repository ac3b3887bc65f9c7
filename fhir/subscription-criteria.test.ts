import { describe, expect, it } from 'vitest';
import type { Resource } from '@medplum/fhirtypes';
import { OperationOutcomeError } from '@medplum/core';
import { matchesCriteria, parseSubscriptionCriteria } from './subscription-criteria.ts';
import { endpointAllowed } from './subscriptions.ts';

const PAT = 'http://terminology.hl7.org/CodeSystem/v2-0074|PAT';
const report = {
  resourceType: 'DiagnosticReport', id: 'r1', status: 'final', subject: { reference: 'Patient/p1' },
  category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'PAT' }] }], code: { text: 'Pathology report' },
} as Resource;
const board = async (g: string): Promise<ReadonlySet<string>> => new Set(g === 'tumour-board-breast' ? ['p1', 'p2'] : []);

function refusal(criteria: string): string {
  try {
    parseSubscriptionCriteria(criteria);
  } catch (err) {
    if (err instanceof OperationOutcomeError) return err.outcome.issue?.[0]?.details?.text ?? '';
    throw err;
  }
  throw new Error(`"${criteria}" was accepted`);
}

describe('Subscription.criteria', () => {
  it('matches category and subject lists with the search parser and matcher the REST API uses', async () => {
    expect(await matchesCriteria(report, parseSubscriptionCriteria(`DiagnosticReport?category=${PAT}&subject=Patient/p1,Patient/p9`), board)).toBe(true);
    expect(await matchesCriteria(report, parseSubscriptionCriteria('DiagnosticReport?category=RAD'), board)).toBe(false);
    expect(await matchesCriteria(report, parseSubscriptionCriteria('DiagnosticReport?subject=Patient/p9'), board)).toBe(false);
    expect(await matchesCriteria(report, parseSubscriptionCriteria('DiagnosticReport'), board)).toBe(true);
    expect(await matchesCriteria(report, parseSubscriptionCriteria('ImagingStudy'), board)).toBe(false);
  });

  it('matches patient._in and subject._in against the Group members', async () => {
    expect(await matchesCriteria(report, parseSubscriptionCriteria(`DiagnosticReport?patient._in=Group/tumour-board-breast&category=${PAT}`), board)).toBe(true);
    expect(await matchesCriteria(report, parseSubscriptionCriteria('DiagnosticReport?subject._in=Group/tumour-board-breast'), board)).toBe(true);
    expect(await matchesCriteria(report, parseSubscriptionCriteria('DiagnosticReport?patient._in=Group/other'), board)).toBe(false);
    expect(await matchesCriteria(report, parseSubscriptionCriteria('DiagnosticReport?patient._in=Group/other,Group/tumour-board-breast'), board)).toBe(true);
  });

  it('refuses what it cannot match, naming the element and the parameter', () => {
    expect(refusal('DiagnosticReport?foo=bar')).toBe('Subscription.criteria: unknown search parameter "foo" for DiagnosticReport');
    expect(refusal('Nonsense?x=1')).toContain('"Nonsense" is not a FHIR R4 resource type');
    expect(refusal('')).toContain('Subscription.criteria: missing');
    expect(refusal('DiagnosticReport?_count=10')).toContain('"_count" is not allowed');
    expect(refusal('DiagnosticReport?subject:Patient.birthdate=lt1960')).toContain('chained parameters are not supported');
    expect(refusal('DiagnosticReport?status._in=Group/x')).toContain('"status" is not one');
    expect(refusal('DiagnosticReport?patient._in=Patient/x')).toContain('expected Group/{id}');
  });
});

describe('rest-hook endpoint allow-list', () => {
  it('allows the same origin under the prefix path only', () => {
    const prefixes = ['https://hooks.example/idr/'];
    expect(endpointAllowed('https://hooks.example/idr/board', prefixes)).toBe(true);
    expect(endpointAllowed('https://hooks.example/other', prefixes)).toBe(false);
    expect(endpointAllowed('https://hooks.example.evil.test/idr/board', prefixes)).toBe(false);
    expect(endpointAllowed('http://hooks.example/idr/board', prefixes)).toBe(false);
    expect(endpointAllowed('https://user:pw@hooks.example/idr/board', prefixes)).toBe(false);
    expect(endpointAllowed('not a url', prefixes)).toBe(false);
  });
});
