import { describe, expect, it } from 'vitest';
import { AdapterError } from '../types.ts';
import { DateConverter, isValidTimezone } from './dates.ts';

describe('DateConverter', () => {
  const ams = new DateConverter('Europe/Amsterdam');
  it('keeps the offset given in the message', () => {
    expect(ams.dateTime('20240315083000+0100', 'X')).toBe('2024-03-15T08:30:00+01:00');
    expect(ams.dateTime('201203141259-0215', 'X')).toBe('2012-03-14T12:59:00-02:15');
    expect(ams.dateTime('20240315083000.1234+0000', 'X')).toBe('2024-03-15T08:30:00.1234+00:00');
  });
  it('keeps partial dates as dates, without a zone', () => {
    expect(ams.dateTime('2024', 'X')).toBe('2024');
    expect(ams.dateTime('202403', 'X')).toBe('2024-03');
    expect(ams.dateTime('20240315', 'X')).toBe('2024-03-15');
    expect(ams.date('19300122000000+0215', 'X')).toBe('1930-01-22');
  });
  it('adds the default zone offset, honouring daylight saving time', () => {
    expect(ams.dateTime('202401150930', 'X')).toBe('2024-01-15T09:30:00+01:00');
    expect(ams.dateTime('2024071509', 'X')).toBe('2024-07-15T09:00:00+02:00');
    expect(ams.dateTime('20241027013000', 'X')).toBe('2024-10-27T01:30:00+02:00');
    expect(ams.dateTime('20241027040000', 'X')).toBe('2024-10-27T04:00:00+01:00');
    expect(new DateConverter('+05:30').dateTime('202401150930', 'X')).toBe('2024-01-15T09:30:00+05:30');
  });
  it('makes instants complete', () => {
    expect(ams.instant('20240315', 'X')).toBe('2024-03-15T00:00:00+01:00');
  });
  it('refuses malformed values, naming the field', () => {
    for (const bad of ['2024-03-15', '20241315', '20240230', '202403152500', 'abc']) {
      expect(() => ams.dateTime(bad, 'OBR[1]-7')).toThrow(AdapterError);
    }
    expect(() => ams.dateTime('20240230', 'OBR[1]-7')).toThrow(/^OBR\[1\]-7: expected an HL7 date\/time/);
    expect(ams.dateTime('', 'X')).toBeUndefined();
  });
  it('validates time zones', () => {
    expect(isValidTimezone('Europe/Amsterdam')).toBe(true);
    expect(isValidTimezone('+01:00')).toBe(true);
    expect(isValidTimezone('Z')).toBe(true);
    expect(isValidTimezone('Mars/Olympus')).toBe(false);
  });
});
