/**
 * URIs and fixed values the HL7 v2 adapter writes into FHIR resources. All identifier systems
 * IDR invents live here, so the writer, the tests and the documentation can refer to one list.
 */

/** Version of this adapter, recorded in Provenance by the pipeline. Bump on any mapping change. */
export const HL7V2_ADAPTER_VERSION = 'hl7v2-oru/2.1.0';

/** Identifier systems minted by IDR for things HL7 v2 identifies only within a sending system. */
export const IDR_SYSTEMS = {
  /** DiagnosticReport: filler order number, value `<filler namespace>/<OBR-3 or ORC-3 id>`. */
  fillerOrder: 'urn:idr:hl7v2:filler-order',
  /** DiagnosticReport: placer order number, value `<placer namespace>/<OBR-2 or ORC-2 id>`. */
  placerOrder: 'urn:idr:hl7v2:placer-order',
  /**
   * DiagnosticReport identity (the conditional update's key): value `<patient scope>/filler/<filler
   * order value>/<OBR-4 code>` (or `/placer/<placer order value>/...` without a filler number), plus
   * `/<n>` for the n-th order group of one message with the same order number and OBR-4.
   */
  report: 'urn:idr:hl7v2:report',
  /** Observation: value `<report value>/<OBX-3 code>/<OBX-4 sub-id>` (plus `/<n>` for the n-th repeat); an OBX outside any order group uses `<patient scope>/message/<MSH-3>/<MSH-10>` as its stem. */
  observation: 'urn:idr:hl7v2:observation',
  /** Specimen: value `<namespace>/<SPM-2 id>`, or `<report value>/specimen/<n>` without SPM-2. */
  specimen: 'urn:idr:hl7v2:specimen',
  /** Specimen identity (the conditional update's key): value `<patient scope>/<specimen value>`. */
  specimenKey: 'urn:idr:hl7v2:specimen-key',
  /** Specimen: placer-assigned specimen id (SPM-2.1) when the filler id (SPM-2.2) is the main one. */
  specimenPlacer: 'urn:idr:hl7v2:specimen-placer',
  /** Bundle.identifier: value `<MSH-3 sending application>/<MSH-10 control id>`. */
  messageControlId: 'urn:idr:hl7v2:message-control-id',
  /** Prefix of practitioner identifier systems: `<prefix><assigning authority>` (XCN-9 / CNN-9,10). */
  practitionerPrefix: 'urn:idr:hl7v2:practitioner:',
  /** Prefix of code systems for HL7 v2 coding-system names not in the known list (e.g. `L`, `99ZZZ`). */
  localCodeSystemPrefix: 'urn:idr:hl7v2:code-system:',
} as const;

/** Extension URLs. R5 elements missing in R4 use the official cross-version extensions. */
export const EXTENSIONS = {
  /** R5 Observation.value[x] (used for valueAttachment: OBX value type ED). */
  observationValueR5: 'http://hl7.org/fhir/5.0/StructureDefinition/extension-Observation.value',
  /** R5 DiagnosticReport.note (used for NTE segments following an OBR). */
  reportNoteR5: 'http://hl7.org/fhir/5.0/StructureDefinition/extension-DiagnosticReport.note',
  /** OBX value type RP: the reference pointer and its parts (sub-extensions pointer, application, type, subtype). */
  referencePointer: 'urn:idr:fhir:extension:hl7v2-reference-pointer',
} as const;

/** Terminology URIs. */
export const SYSTEMS = {
  loinc: 'http://loinc.org',
  snomed: 'http://snomed.info/sct',
  ucum: 'http://unitsofmeasure.org',
  icd10: 'http://hl7.org/fhir/sid/icd-10',
  icd10cm: 'http://hl7.org/fhir/sid/icd-10-cm',
  icd9cm: 'http://hl7.org/fhir/sid/icd-9-cm',
  icdo3: 'http://terminology.hl7.org/CodeSystem/icd-o-3',
  v2Table: (table: string): string => `http://terminology.hl7.org/CodeSystem/v2-${table}`,
  v3Interpretation: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation',
  observationCategory: 'http://terminology.hl7.org/CodeSystem/observation-category',
  dataAbsentReason: 'http://terminology.hl7.org/CodeSystem/data-absent-reason',
} as const;

/** HL7 v2 versions this adapter is written for; later 2.x versions are accepted with a warning. */
export const SUPPORTED_VERSIONS: readonly string[] = ['2.3', '2.3.1', '2.4', '2.5', '2.5.1'];
/** Later versions whose ORU^R01 is a superset of 2.5.1 for the segments mapped here. */
export const NEWER_VERSIONS: readonly string[] = ['2.6', '2.7', '2.7.1', '2.8', '2.8.1', '2.8.2', '2.9'];

/** Pathology section codes (LOINC) and the heading used in the report text. */
export const PATHOLOGY_SECTIONS: Readonly<Record<string, string>> = {
  '22636-5': 'Clinical information',
  '22633-2': 'Specimen',
  '22634-0': 'Macroscopy',
  '22635-7': 'Microscopy',
  '22637-3': 'Conclusion',
  '22638-1': 'Comments',
  '22639-9': 'Supplemental report',
};

/** LOINC code of the pathology final-diagnosis section: its text becomes DiagnosticReport.conclusion. */
export const FINAL_DIAGNOSIS_LOINC = '22637-3';
