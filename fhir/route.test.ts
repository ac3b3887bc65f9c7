import { describe, expect, it } from 'vitest';
import { getStatus, OperationOutcomeError } from '@medplum/core';
import { matchRoute } from './route.ts';

const q = (s = ''): URLSearchParams => new URLSearchParams(s);

/** The HTTP status of the error a route match throws. */
function statusOf(fn: () => unknown): number {
  try {
    fn();
  } catch (err) {
    if (err instanceof OperationOutcomeError) return getStatus(err.outcome);
    throw err;
  }
  throw new Error('expected an OperationOutcomeError');
}

describe('matchRoute', () => {
  it('matches every interaction of the REST API, with or without a leading slash', () => {
    expect(matchRoute('POST', '/', q())).toEqual({ interaction: 'batch' });
    expect(matchRoute('POST', '', q())).toEqual({ interaction: 'batch' });
    expect(matchRoute('GET', 'metadata', q())).toEqual({ interaction: 'capabilities' });
    expect(matchRoute('GET', '/Patient', q('name=x'))).toEqual({ interaction: 'search-type', type: 'Patient' });
    expect(matchRoute('POST', 'Patient/_search', q())).toEqual({ interaction: 'search-type', type: 'Patient' });
    expect(matchRoute('POST', 'Patient', q())).toEqual({ interaction: 'create', type: 'Patient' });
    expect(matchRoute('PUT', 'Patient', q('identifier=a|b'))).toEqual({ interaction: 'conditional-update', type: 'Patient' });
    expect(matchRoute('DELETE', 'Patient', q('identifier=a|b'))).toEqual({ interaction: 'conditional-delete', type: 'Patient' });
    expect(matchRoute('GET', 'Patient/_history', q())).toEqual({ interaction: 'history-type', type: 'Patient' });
    expect(matchRoute('GET', 'Patient/1', q())).toEqual({ interaction: 'read', type: 'Patient', id: '1' });
    expect(matchRoute('HEAD', 'Patient/1', q())).toEqual({ interaction: 'read', type: 'Patient', id: '1' });
    expect(matchRoute('PUT', 'Patient/1', q())).toEqual({ interaction: 'update', type: 'Patient', id: '1' });
    expect(matchRoute('DELETE', 'Patient/1', q())).toEqual({ interaction: 'delete', type: 'Patient', id: '1' });
    expect(matchRoute('GET', 'Patient/1/_history', q())).toEqual({ interaction: 'history-instance', type: 'Patient', id: '1' });
    expect(matchRoute('GET', 'Patient/1/_history/2', q())).toEqual({ interaction: 'vread', type: 'Patient', id: '1', vid: '2' });
    expect(matchRoute('GET', 'Patient/1/$everything', q())).toEqual({ interaction: 'operation', type: 'Patient', id: '1', code: '$everything' });
    expect(matchRoute('GET', 'Patient/1/%24everything', q())).toEqual({ interaction: 'operation', type: 'Patient', id: '1', code: '$everything' });
  });

  it('answers 404 for what no interaction serves, 400 for a conditional write without criteria', () => {
    expect(statusOf(() => matchRoute('PATCH', 'Patient/1', q()))).toBe(404);
    expect(statusOf(() => matchRoute('GET', '', q()))).toBe(404);
    expect(statusOf(() => matchRoute('POST', 'metadata', q()))).toBe(404);
    expect(statusOf(() => matchRoute('GET', 'Patient/1/_history/2/x', q()))).toBe(404);
    expect(statusOf(() => matchRoute('GET', 'Patient/$everything', q()))).toBe(404);
    expect(statusOf(() => matchRoute('PUT', 'Patient', q()))).toBe(400);
    expect(statusOf(() => matchRoute('DELETE', 'Patient', q()))).toBe(400);
    expect(statusOf(() => matchRoute('GET', 'Patient/%E0%A4%A', q()))).toBe(400);
  });
});
