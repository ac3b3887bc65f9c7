import { describe, expect, it } from 'vitest';
import { grantableScopes, isKnownScope, isRole, narrowScope, scopeWithin } from './roles.ts';

describe('roles and scope ceilings', () => {
  it('knows its roles', () => {
    expect(isRole('board-member')).toBe(true);
    expect(isRole('root')).toBe(false);
    expect(isRole(undefined)).toBe(false);
  });

  it('allows a SMART scope inside a ceiling scope, v1 and v2 alike', () => {
    expect(scopeWithin('user/Observation.rs', ['user/*.rs'])).toBe(true);
    expect(scopeWithin('user/*.read', ['user/*.rs'])).toBe(true);
    expect(scopeWithin('user/*.s', ['user/*.rs'])).toBe(true);
    expect(scopeWithin('user/*.c', ['user/*.rs'])).toBe(false);
    expect(scopeWithin('patient/*.rs', ['user/*.rs'])).toBe(false);
    expect(scopeWithin('user/Patient.r', ['user/Group.cruds'])).toBe(false);
    expect(scopeWithin('idr/audit', ['idr/ingest'])).toBe(false);
  });

  it('narrows a wider request to the ceiling instead of granting it', () => {
    expect(narrowScope('user/*.cruds', ['user/*.rs'])).toEqual(['user/*.rs']);
    expect(narrowScope('user/*.cruds', ['user/Group.cruds'])).toEqual(['user/Group.cruds']);
    expect(narrowScope('user/Observation.write', ['user/*.rs'])).toEqual([]);
    expect(narrowScope('system/*.cruds', ['user/*.rs'])).toEqual([]);
  });

  it('grants each role only its own kinds of scope', () => {
    const everything = ['openid', 'fhirUser', 'launch/patient', 'user/*.cruds', 'patient/*.rs', 'system/*.cruds', 'idr/ingest', 'idr/audit', 'unknown/thing'];
    expect(grantableScopes('clinician', everything)).toEqual(['openid', 'fhirUser', 'user/*.rs', 'user/Subscription.cruds', 'user/Task.c']);
    expect(grantableScopes('board-member', everything)).toEqual(['openid', 'fhirUser', 'user/*.rs', 'user/Subscription.cruds', 'user/Appointment.cu', 'user/Task.cu', 'user/Bundle.c', 'user/ClinicalImpression.c']);
    expect(grantableScopes('data-scientist', everything)).toEqual(['openid', 'fhirUser', 'user/Group.cruds']);
    expect(grantableScopes('patient', everything)).toEqual(['openid', 'fhirUser', 'launch/patient', 'patient/*.rs']);
    expect(grantableScopes('ingestion', everything)).toEqual(['idr/ingest']);
    expect(grantableScopes('admin', everything)).toEqual(['openid', 'fhirUser', 'user/*.cruds', 'system/*.cruds', 'idr/ingest', 'idr/audit']);
    expect(isKnownScope('unknown/thing')).toBe(false);
  });
});
