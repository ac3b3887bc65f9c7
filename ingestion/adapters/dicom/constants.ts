/**
 * URIs and fixed values the DICOM adapter writes into FHIR resources. Identifier systems shared
 * with other adapters (accession number, specimen) live here so every producer agrees on them.
 */

/** Version of this adapter, recorded in Provenance by the pipeline. Bump on any mapping change. */
export const DICOM_ADAPTER_VERSION = 'dicom-imaging/1.0.0';

/** Identifier and code systems used on ImagingStudy, Endpoint and the references between them. */
export const DICOM_SYSTEMS = {
  /** ImagingStudy.identifier for the StudyInstanceUID, value `urn:oid:<uid>` (FHIR R4 ImagingStudy guidance). */
  dicomUid: 'urn:dicom:uid',
  /** Accession number (DICOM (0008,0050), HL7 v2 OBR-18 / OBR-3): one system for every adapter, so reports and studies meet. */
  accession: 'urn:idr:accession',
  /** DICOM controlled terminology (modalities). */
  dcm: 'http://dicom.nema.org/resources/ontology/DCM',
  /** SOP Class UIDs as codes `urn:oid:<uid>`. */
  sopClass: 'urn:ietf:rfc:3986',
  /** Endpoint identifier: value is the WADO-RS base URL. */
  endpoint: 'urn:idr:dicomweb:endpoint',
  /** Slide (container) identifier of whole-slide images, DICOM (0040,0512). */
  container: 'urn:idr:dicom:container',
  /** Same system as the HL7 v2 adapter's Specimen identifiers, so a WSI points at the pathology specimen. */
  specimen: 'urn:idr:hl7v2:specimen',
  snomed: 'http://snomed.info/sct',
  v2Table0203: 'http://terminology.hl7.org/CodeSystem/v2-0203',
  endpointConnectionType: 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type',
  endpointPayloadType: 'http://terminology.hl7.org/CodeSystem/endpoint-payload-type',
} as const;

/** Extension URLs. */
export const DICOM_EXTENSIONS = {
  /** R5 ImagingStudy.series.specimen (official cross-version extension); carries a logical reference by identifier. */
  seriesSpecimenR5: 'http://hl7.org/fhir/5.0/StructureDefinition/extension-ImagingStudy.series.specimen',
  /** The slide (container) identifier of a whole-slide imaging series (valueIdentifier). */
  containerIdentifier: 'urn:idr:fhir:extension:dicom-container-identifier',
} as const;

/**
 * BodyPartExamined (0018,0015) -> SNOMED CT, after DICOM PS3.16 Annex L (Correspondence of Anatomic
 * Region Codes and Body Part Examined Defined Terms). Unlisted terms are kept as display text.
 * See: https://dicom.nema.org/medical/dicom/current/output/chtml/part16/chapter_L.html
 */
export const BODY_PART_SNOMED: Readonly<Record<string, { code: string; display: string }>> = {
  ABDOMEN: { code: '818981001', display: 'Abdomen' },
  ABDOMENPELVIS: { code: '818982008', display: 'Abdomen and Pelvis' },
  BRAIN: { code: '12738006', display: 'Brain' },
  BREAST: { code: '76752008', display: 'Breast' },
  CHEST: { code: '43799004', display: 'Chest' },
  CHESTABDOMEN: { code: '416550000', display: 'Chest and Abdomen' },
  CHESTABDPELVIS: { code: '416775004', display: 'Chest, Abdomen and Pelvis' },
  COLON: { code: '71854001', display: 'Colon' },
  HEAD: { code: '69536005', display: 'Head' },
  HEADNECK: { code: '774007', display: 'Head and Neck' },
  KIDNEY: { code: '64033007', display: 'Kidney' },
  LIVER: { code: '10200004', display: 'Liver' },
  LUNG: { code: '39607008', display: 'Lung' },
  NECK: { code: '45048000', display: 'Neck' },
  PANCREAS: { code: '15776009', display: 'Pancreas' },
  PELVIS: { code: '816092008', display: 'Pelvis' },
  PROSTATE: { code: '41216001', display: 'Prostate' },
  RECTUM: { code: '34402009', display: 'Rectum' },
  STOMACH: { code: '69695003', display: 'Stomach' },
  THORAX: { code: '43799004', display: 'Thorax' },
};

/** Laterality / ImageLaterality code -> SNOMED CT (the R4 ImagingStudy.series.laterality example binding). */
export const LATERALITY_SNOMED: Readonly<Record<string, { code: string; display: string }>> = {
  L: { code: '7771000', display: 'Left' },
  R: { code: '24028007', display: 'Right' },
  B: { code: '51440002', display: 'Right and left' },
};

/** Modality of whole-slide microscopy images. */
export const WSI_MODALITY = 'SM';
