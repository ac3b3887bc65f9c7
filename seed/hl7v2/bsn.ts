import type { Rng } from './random.ts';

/**
 * True when `value` is a valid Dutch BSN: 9 digits passing the "11-proef"
 * (9*d1 + 8*d2 + ... + 2*d8 - 1*d9 is a multiple of 11) and not all zeros.
 * See: https://www.rvig.nl/bsn (Burgerservicenummer), "elfproef"
 */
export function isValidBsn(value: string): boolean {
  if (!/^\d{9}$/.test(value) || /^0+$/.test(value)) return false;
  let sum = 0;
  for (let i = 0; i < 8; i++) sum += Number(value[i]) * (9 - i);
  sum -= Number(value[8]);
  return sum % 11 === 0;
}

/**
 * A synthetic BSN passing the 11-proof. It is drawn from the 9999xxxxx series that is used for
 * test persons, so a generated number does not point at a real citizen.
 */
export function syntheticBsn(rng: Rng): string {
  for (;;) {
    const digits = [9, 9, 9, 9, rng.int(0, 9), rng.int(0, 9), rng.int(0, 9), rng.int(0, 9)];
    const weighted = digits.reduce((acc, d, i) => acc + d * (9 - i), 0);
    const check = weighted % 11; // 9*d1 + ... + 2*d8 - d9 ≡ 0 (mod 11)
    if (check === 10) continue; // no single check digit fits: draw again
    return `${digits.join('')}${check}`;
  }
}
