/**
 * Molar masses (g/mol) of the analytes whose results hospitals report in either substance
 * (mmol/L, umol/L) or mass (g/dL, mg/dL) concentration, by LOINC code of either form, so a lab
 * trend can show a Dutch Hb in mmol/L next to a g/dL one. UCUM converts between the two only with
 * the molar mass. Haemoglobin in mmol/L is conventionally counted per haem-carrying monomer
 * (1/4 of the tetramer, 16,114.5 g/mol: 1 mmol/L = 1.611 g/dL).
 */
const MOLAR_MASS_BY_LOINC: Readonly<Record<string, number>> = {
  // haemoglobin (monomer)
  '718-7': 16_114.5, '59260-0': 16_114.5, '20509-6': 16_114.5, '30313-1': 16_114.5,
  // creatinine
  '2160-0': 113.12, '14682-9': 113.12, '38483-4': 113.12,
  // glucose
  '2345-7': 180.16, '15074-8': 180.16, '2339-0': 180.16, '14749-6': 180.16,
  // calcium
  '17861-6': 40.078, '2000-8': 40.078,
  // total bilirubin
  '1975-2': 584.66, '14631-6': 584.66,
  // total cholesterol
  '2093-3': 386.65, '14647-2': 386.65,
};

/** The molar mass of the analyte with one of these LOINC codes ("718-7" or "http://loinc.org|718-7"), if known. */
export function molarMassOf(codes: readonly string[]): number | undefined {
  for (const c of codes) {
    const code = c.startsWith('http://loinc.org|') ? c.slice('http://loinc.org|'.length) : c;
    const mass = MOLAR_MASS_BY_LOINC[code];
    if (mass) return mass;
  }
  return undefined;
}
