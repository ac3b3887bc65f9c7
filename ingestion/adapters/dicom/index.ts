/**
 * DICOM adapter: Part 10 file headers and DICOMweb QIDO-RS results in, FHIR R4 transaction Bundle
 * (Patient, ImagingStudy, Endpoint) out. Pure: no I/O; time and ids come from the context.
 */
export { DICOM_ADAPTER_VERSION, DICOM_SYSTEMS, DICOM_EXTENSIONS, BODY_PART_SNOMED, LATERALITY_SNOMED } from './constants.ts';
export { readDicomHeader, type DicomHeader } from './read-header.ts';
export { dicomInstancesToBundle } from './part10-to-bundle.ts';
export { qidoStudiesToBundle } from './qido-to-bundle.ts';
export { qidoStudySchema, qidoSeriesSchema, type QidoStudy, type QidoSeries } from './qido-json.ts';
export { dicomAdapterOptionsSchema, type DicomAdapterOptions } from './options.ts';
export { studyIdentifier } from './imaging-study.ts';
