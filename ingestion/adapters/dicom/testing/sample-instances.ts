/** Realistic DICOM headers for tests and the seed: CT thorax, mammography, a whole-slide image. */
import type { DicomElement } from './write-dicom.ts';

/** Options for one synthetic instance. */
export interface SampleInstance {
  patientId?: string;
  issuer?: string;
  patientName?: string;
  studyUid: string;
  seriesUid: string;
  sopUid: string;
  modality: string;
  sopClass?: string;
  accession?: string;
  studyDate?: string;
  studyTime?: string;
  seriesNumber?: number;
  instanceNumber?: number;
  studyDescription?: string;
  seriesDescription?: string;
  bodyPart?: string;
  laterality?: string;
  specimenId?: string;
  specimenIssuer?: string;
  containerId?: string;
  /** Extra elements, e.g. to test odd values. */
  extra?: DicomElement[];
}

const SOP_CLASS: Readonly<Record<string, string>> = {
  CT: '1.2.840.10008.5.1.4.1.1.2',
  MR: '1.2.840.10008.5.1.4.1.1.4',
  MG: '1.2.840.10008.5.1.4.1.1.1.2',
  PT: '1.2.840.10008.5.1.4.1.1.128',
  SM: '1.2.840.10008.5.1.4.1.1.77.1.6',
};

/** The elements of one instance, including a small PixelData element so "stop at pixel data" is exercised. */
export function sampleInstance(o: SampleInstance): DicomElement[] {
  const el: DicomElement[] = [
    { tag: '00080005', vr: 'CS', value: 'ISO_IR 192' },
    { tag: '00080016', vr: 'UI', value: o.sopClass ?? SOP_CLASS[o.modality] ?? SOP_CLASS.CT ?? '' },
    { tag: '00080018', vr: 'UI', value: o.sopUid },
    { tag: '00080020', vr: 'DA', value: o.studyDate ?? '20240312' },
    { tag: '00080030', vr: 'TM', value: o.studyTime ?? '093015.123456' },
    { tag: '00080050', vr: 'SH', value: o.accession ?? 'RAD24-000123' },
    { tag: '00080060', vr: 'CS', value: o.modality },
    { tag: '00080080', vr: 'LO', value: 'Noordwest Ziekenhuis' },
    { tag: '00080090', vr: 'PN', value: 'de Vries^Pieter^^Dr.' },
    { tag: '00081030', vr: 'LO', value: o.studyDescription ?? 'CT thorax-abdomen met contrast' },
    { tag: '0008103E', vr: 'LO', value: o.seriesDescription ?? 'Thorax 1.0 mm' },
    { tag: '00100010', vr: 'PN', value: o.patientName ?? 'Jansen^Anna^Maria' },
    { tag: '00100020', vr: 'LO', value: o.patientId ?? '999911120' },
    { tag: '00100030', vr: 'DA', value: '19640523' },
    { tag: '00100040', vr: 'CS', value: 'F' },
    { tag: '00180015', vr: 'CS', value: o.bodyPart ?? 'CHEST' },
    { tag: '0020000D', vr: 'UI', value: o.studyUid },
    { tag: '0020000E', vr: 'UI', value: o.seriesUid },
    { tag: '00200011', vr: 'IS', value: String(o.seriesNumber ?? 1) },
    { tag: '00200013', vr: 'IS', value: String(o.instanceNumber ?? 1) },
    { tag: '00280010', vr: 'US', value: 2 },
    { tag: '00280011', vr: 'US', value: 2 },
    { tag: '7FE00010', vr: 'OW', value: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]) },
  ];
  if (o.issuer !== undefined) el.push({ tag: '00100021', vr: 'LO', value: o.issuer });
  if (o.laterality) el.push({ tag: '00200060', vr: 'CS', value: o.laterality });
  if (o.containerId) el.push({ tag: '00400512', vr: 'LO', value: o.containerId });
  if (o.specimenId) {
    const item: DicomElement[] = [{ tag: '00400551', vr: 'LO', value: o.specimenId }, { tag: '00400554', vr: 'UI', value: `${o.sopUid}.9` }];
    if (o.specimenIssuer) item.push({ tag: '00400562', vr: 'SQ', value: [[{ tag: '00400031', vr: 'UT', value: o.specimenIssuer }]] });
    el.push({ tag: '00400560', vr: 'SQ', value: [item] });
  }
  return [...el, ...(o.extra ?? [])];
}
