import type { Bundle } from '@medplum/fhirtypes';

/** Injected non-determinism, so adapters stay pure and their output is reproducible in tests. */
export interface AdapterContext {
  /** The current time (used only for Bundle.timestamp and similar bookkeeping, never for clinical times). */
  now: () => Date;
  /** A new unique id, used for urn:uuid fullUrls inside the produced Bundle. */
  newId: () => string;
  /** Maps an HL7 v2 assigning authority / DICOM IssuerOfPatientID to an identifier system URI. */
  identifierSystem: (assigningAuthority: string | undefined) => string;
}

/** What a successful adapter run returns. */
export interface AdapterOutput {
  /** A FHIR transaction Bundle: conditional PUTs keyed by identifiers, references via urn:uuid. */
  bundle: Bundle;
  /** A short label of what was recognised, e.g. "ORU^R01 lab" or "ORU^R01 pathology". */
  kind: string;
  /** Non-fatal findings worth showing to an operator (e.g. a unit that is not valid UCUM). */
  warnings: string[];
}

/**
 * An input the adapter refuses. `location` names where (e.g. "OBX[3]-5", "MSH-9", "(0010,0020)"),
 * `message` says what was expected and what was found.
 */
export class AdapterError extends Error {
  readonly location: string;
  constructor(location: string, message: string) {
    super(location ? `${location}: ${message}` : message);
    this.name = 'AdapterError';
    this.location = location;
  }
}
