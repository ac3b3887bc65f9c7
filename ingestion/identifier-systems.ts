/**
 * Maps an assigning authority (HL7 v2 CX-4, DICOM IssuerOfPatientID, CDA id/@root) to the FHIR
 * identifier system used for patient matching. Defaults:
 *  - the Dutch BSN OID 2.16.840.1.113883.2.4.6.3 (or "NLMINBIZA") -> http://fhir.nl/fhir/NamingSystem/bsn
 *  - any other OID -> urn:oid:<oid>
 *  - a URI -> itself
 *  - a namespace name (e.g. "UMCX") -> urn:idr:assigning-authority:<name>
 *  - none -> urn:idr:assigning-authority:unknown
 * Site-specific names are added with IDR_IDENTIFIER_SYSTEMS, a JSON object {"UMCX": "https://…"}.
 */
export const BSN_SYSTEM = 'http://fhir.nl/fhir/NamingSystem/bsn';
const BUILT_IN: Record<string, string> = {
  '2.16.840.1.113883.2.4.6.3': BSN_SYSTEM,
  NLMINBIZA: BSN_SYSTEM,
};

/** Builds the mapping function with site-specific additions. */
export function identifierSystemResolver(custom: Record<string, string> = {}): (authority: string | undefined) => string {
  const table = { ...BUILT_IN, ...custom };
  return (authority) => {
    const a = authority?.trim();
    if (!a) return 'urn:idr:assigning-authority:unknown';
    const mapped = table[a] ?? table[a.replace(/^urn:oid:/, '')];
    if (mapped) return mapped;
    if (/^urn:oid:[0-2](\.\d+)+$/.test(a)) return a;
    if (/^[0-2](\.\d+)+$/.test(a)) return `urn:oid:${a}`;
    if (/^[a-z][a-z0-9+.-]*:/i.test(a)) return a;
    return `urn:idr:assigning-authority:${encodeURIComponent(a)}`;
  };
}
