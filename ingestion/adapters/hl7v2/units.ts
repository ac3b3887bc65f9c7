import { createRequire } from 'node:module';
import type { Quantity } from '@medplum/fhirtypes';
import { SYSTEMS } from './constants.ts';

interface UcumValidation {
  status: 'valid' | 'invalid' | 'error';
  ucumCode: string | null;
}
interface UcumUtils {
  validateUnitString(unit: string, suggest?: boolean): UcumValidation;
}
interface UcumModule {
  UcumLhcUtils: { getInstance(): UcumUtils };
}

// @lhncbc/ucum-lhc is CommonJS without type declarations: load it with require and type what is used.
const ucum = (createRequire(import.meta.url)('@lhncbc/ucum-lhc') as UcumModule).UcumLhcUtils.getInstance();
const cache = new Map<string, boolean>();

/** True when `unit` is a valid UCUM expression exactly as written (checked with @lhncbc/ucum-lhc). */
export function isUcum(unit: string): boolean {
  let ok = cache.get(unit);
  if (ok === undefined) {
    const r = ucum.validateUnitString(unit, false);
    ok = r.status === 'valid' && r.ucumCode === unit;
    if (cache.size > 5_000) cache.clear();
    cache.set(unit, ok);
  }
  return ok;
}

/** The unit part of a Quantity: the unit as sent (CE-1, else CE-2); system and code only when it is valid UCUM. */
export function unitOf(code: string, text: string): Pick<Quantity, 'unit' | 'system' | 'code'> {
  if (!code && !text) return {};
  const unit = code || text;
  if (code && isUcum(code)) return { unit, system: SYSTEMS.ucum, code };
  return { unit };
}
