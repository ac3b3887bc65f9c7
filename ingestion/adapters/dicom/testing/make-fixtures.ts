/** Writes the DICOM fixtures in test/fixtures/dicom/ (run: node ingestion/adapters/dicom/testing/make-fixtures.ts). */
import { writeFileSync } from 'node:fs';
import { sampleInstance } from './sample-instances.ts';
import { writeDicomPart10 } from './write-dicom.ts';

const dir = new URL('../../../../test/fixtures/dicom/', import.meta.url);
const study = '1.2.826.0.1.3680043.10.1234.100';
const files: Record<string, Uint8Array> = {
  'ct-thorax-1.dcm': writeDicomPart10(sampleInstance({ studyUid: study, seriesUid: `${study}.1`, sopUid: `${study}.1.1`, modality: 'CT', seriesNumber: 1, instanceNumber: 1, issuer: '2.16.840.1.113883.2.4.6.3' })),
  'ct-thorax-2.dcm': writeDicomPart10(sampleInstance({ studyUid: study, seriesUid: `${study}.1`, sopUid: `${study}.1.2`, modality: 'CT', seriesNumber: 1, instanceNumber: 2, issuer: '2.16.840.1.113883.2.4.6.3' })),
  'ct-abdomen-1.dcm': writeDicomPart10(sampleInstance({ studyUid: study, seriesUid: `${study}.2`, sopUid: `${study}.2.1`, modality: 'CT', seriesNumber: 2, instanceNumber: 1, bodyPart: 'ABDOMEN', seriesDescription: 'Abdomen 3.0 mm', issuer: '2.16.840.1.113883.2.4.6.3' })),
  'mg-left-cc.dcm': writeDicomPart10(sampleInstance({ studyUid: '1.2.826.0.1.3680043.10.1234.200', seriesUid: '1.2.826.0.1.3680043.10.1234.200.1', sopUid: '1.2.826.0.1.3680043.10.1234.200.1.1', modality: 'MG', bodyPart: 'BREAST', laterality: 'L', accession: 'RAD24-000124', studyDescription: 'Mammografie bilateraal', seriesDescription: 'L CC', issuer: '2.16.840.1.113883.2.4.6.3' })),
  'sm-slide.dcm': writeDicomPart10(sampleInstance({ studyUid: '1.2.826.0.1.3680043.10.1234.300', seriesUid: '1.2.826.0.1.3680043.10.1234.300.1', sopUid: '1.2.826.0.1.3680043.10.1234.300.1.1', modality: 'SM', bodyPart: 'BREAST', accession: 'T24-01234', studyDescription: 'Whole-slide image H&E', seriesDescription: 'H&E 40x', specimenId: 'T24-01234-A1', specimenIssuer: 'PATHLAB', containerId: 'T24-01234-A1-1', issuer: '2.16.840.1.113883.2.4.6.3' })),
  'no-patient-id.dcm': writeDicomPart10(sampleInstance({ studyUid: '1.2.3', seriesUid: '1.2.3.1', sopUid: '1.2.3.1.1', modality: 'CT' }).filter((e) => e.tag !== '00100020')),
};
files['not-dicom.dcm'] = new TextEncoder().encode('This is a text file that someone named .dcm\n');
for (const [name, bytes] of Object.entries(files)) writeFileSync(new URL(name, dir), bytes);
console.log(`wrote ${Object.keys(files).length} files to ${dir.pathname}`);
