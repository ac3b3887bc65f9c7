/**
 * Synthetic letters for the seed patients: a referral letter and a pathology-driven MDT letter as
 * PDFs (pdf-lib), a discharge letter as plain text, and an HL7 v2 MDM^T02 radiology report on the
 * patient's first imaging study (accession number and StudyInstanceUID, so it links to the
 * ImagingStudy). Deterministic: the same seed gives the same bytes.
 */
import { BSN_SYSTEM } from '../../ingestion/identifier-systems.ts';
import { labMessages, type SeedPatient } from '../hl7v2/index.ts';
import { seedStudies } from '../imaging/index.ts';
import { letterPdf } from './pdf.ts';

/** One seed letter: bytes plus what POST /ingest/documents would receive. */
export interface SeedLetter {
  name: string;
  bytes: Uint8Array;
  /** 'document' (upload with metadata) or 'hl7v2' (an MDM message). */
  kind: 'document' | 'hl7v2';
  contentType: string;
  metadata?: { patientIdentifier: { system: string; value: string }; type: string; date: string; author: string; custodian: string; title: string };
}

const CUSTODIAN = 'UMC X, Oncologisch Centrum';

function isoPlus(iso: string, days: number): string {
  const d = new Date(`${iso.slice(0, 10)}T12:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

function dr(p: { family: string; initials: string }): string {
  return `dr. ${p.initials} ${p.family}`;
}

function findings(p: SeedPatient): string {
  const t = p.tumour;
  if (t.kind === 'breast') {
    return `Invasief carcinoom NST van de ${t.laterality === 'left' ? 'linker' : 'rechter'} mamma, ${t.sizeMm} mm, graad ${t.grade}. ER ${t.erPercent}%, PR ${t.prPercent}%, HER2 score ${t.her2Ihc}, Ki-67 ${t.ki67Percent}%. Schildwachtklier: ${t.sentinelNodesPositive} van ${t.sentinelNodesExamined} positief. Stadium ${t.pT} ${t.pN} cM0.`;
  }
  return `Adenocarcinoom van het colon (${t.resectionName}), ${t.sizeMm} mm, ${t.pT} ${t.pN} cM0; ${t.nodesPositive} van ${t.nodesExamined} lymfeklieren positief; ${t.microsatelliteStable ? 'microsatelliet-stabiel (MSS)' : 'microsatelliet-instabiel (MSI-high)'}.`;
}

/** The PID segment the seed's own ORU messages carry, so an MDM never changes the demographics. */
function pidOf(p: SeedPatient): string {
  const first = labMessages(p)[0] ?? '';
  return first.split('\r').find((s) => s.startsWith('PID|')) ?? `PID|1||${p.bsn}^^^NLMINBIZA&2.16.840.1.113883.2.4.6.3&ISO^NNNLD`;
}

function mdmRadiologyReport(p: SeedPatient): string | undefined {
  const study = seedStudies(p).find((s) => s.modality !== 'SM');
  if (!study) return undefined;
  const ts = `${study.date}160000+0100`;
  const lines = study.modality === 'MG'
    ? ['Mammografie beiderzijds, 2 richtingen.', `${p.tumour.kind === 'breast' && p.tumour.laterality === 'left' ? 'Links' : 'Rechts'}: onregelmatige massa met spiculae.`, 'Conclusie:', 'Verdacht voor maligniteit, BI-RADS 5. Histologische biopsie geadviseerd.']
    : ['CT thorax-abdomen met intraveneus contrast.', 'Wandverdikking van het colon met vergrote lokoregionale lymfeklieren. Geen levermetastasen.', 'Conclusie:', 'Beeld passend bij coloncarcinoom, geen aanwijzingen voor metastasen op afstand.'];
  const segments = [
    `MSH|^~\\&|RIS|UMCX|IDR|IDR|${ts}||MDM^T02^MDM_T02|RIS${study.accession}|P|2.5.1|||||NL|UNICODE UTF-8`,
    `EVN|T02|${ts}`,
    pidOf(p),
    'PV1|1|O',
    `OBR|1|PL-${study.accession}|${study.accession}^RIS|${study.modality}^${study.description}^L|||${study.date}101500+0100|||||||||||${study.accession}`,
    `TXA|1|DI|TX|${ts}|^Visser^M.^^^dr.^^^^^^^^^^^RADIOLOGIE||${ts}|||||DOC-${study.accession}^RIS||PL-${study.accession}|${study.accession}||LA`,
    `OBX|1|HD|113014^DICOM Study^DCM||${study.uid}||||||F`,
    ...lines.map((l, i) => `OBX|${i + 2}|TX|18748-4^Diagnostic imaging study^LN||${l}||||||F`),
  ];
  return segments.join('\r');
}

/** The letters of one patient. */
export async function patientLetters(p: SeedPatient): Promise<SeedLetter[]> {
  const { biopsy, surgery } = p.pathway;
  const pid = { system: BSN_SYSTEM, value: p.bsn };
  const name = `${p.sex === 'F' ? 'mevrouw' : 'de heer'} ${p.name.initials} ${p.name.family}`;
  const born = p.birthDate.split('-').reverse().join('-');
  const kind = p.tumour.kind === 'breast' ? 'mammacarcinoom' : 'coloncarcinoom';
  const out: SeedLetter[] = [];

  const referralDate = isoPlus(biopsy, -10);
  const referral = `Huisartsenpraktijk De Linde, ${p.address.city}\n${referralDate}\n\nAan: ${dr(p.surgeon)}, chirurg, ${CUSTODIAN}\nBetreft: ${name}, geboren ${born}, BSN ${p.bsn}\n\nGeachte collega,\n\nGraag verwijs ik ${name} naar uw polikliniek wegens verdenking op een ${kind}. ${p.tumour.kind === 'breast' ? 'Patiente voelde sinds enkele weken een knobbel in de borst.' : 'Patient meldt sinds twee maanden wisselend ontlastingspatroon, bloedverlies per anum en gewichtsverlies.'} Voorgeschiedenis: blanco. Medicatie: geen.\n\nMet collegiale groet,\n\nA. de Linde, huisarts`;
  out.push({ name: `${p.key}-referral.pdf`, kind: 'document', contentType: 'application/pdf', bytes: await letterPdf({ title: `Verwijzing ${name}`, author: 'A. de Linde, huisarts', created: new Date(`${referralDate}T09:00:00Z`), body: referral }), metadata: { patientIdentifier: pid, type: 'referral', date: referralDate, author: 'A. de Linde, huisarts', custodian: 'Huisartsenpraktijk De Linde', title: 'Verwijsbrief' } });

  const mdtDate = isoPlus(biopsy, 7);
  const mdt = `${CUSTODIAN} - Multidisciplinair tumoroverleg (MDO)\nDatum MDO: ${mdtDate}\nPatient: ${name}, geboren ${born}\n\nPathologie (${dr(p.pathologist)}): ${findings(p)}\n\nBesluit MDO: ${p.tumour.kind === 'breast' ? 'neoadjuvante chemotherapie' : 'resectie gevolgd door adjuvante chemotherapie'} (${p.pathway.chemoRegimen}), daarna ${p.tumour.kind === 'breast' ? 'borstsparende operatie en radiotherapie' : 'follow-up volgens richtlijn'}. Behandelend oncoloog: ${dr(p.oncologist)}.`;
  out.push({ name: `${p.key}-mdt.pdf`, kind: 'document', contentType: 'application/pdf', bytes: await letterPdf({ title: `MDO-verslag ${name}`, author: dr(p.oncologist), created: new Date(`${mdtDate}T17:00:00Z`), body: mdt }), metadata: { patientIdentifier: pid, type: 'mdt', date: mdtDate, author: dr(p.oncologist), custodian: CUSTODIAN, title: 'MDO-verslag' } });

  const dischargeDate = isoPlus(surgery, 3);
  const discharge = `${CUSTODIAN} - Ontslagbrief\nDatum: ${dischargeDate}\nPatient: ${name}, geboren ${born}\n\nOpname: ${surgery} tot ${dischargeDate} voor ${p.tumour.kind === 'breast' ? 'lumpectomie met schildwachtklierprocedure' : p.tumour.resectionName}.\nBeloop: ongecompliceerd postoperatief herstel.\nPathologie: ${findings(p)}\nBeleid: controle op de polikliniek over 2 weken; start ${p.pathway.chemoRegimen} volgens MDO-besluit.\n\n${dr(p.surgeon)}, chirurg\n`;
  out.push({ name: `${p.key}-discharge.txt`, kind: 'document', contentType: 'text/plain; charset=utf-8', bytes: new TextEncoder().encode(discharge), metadata: { patientIdentifier: pid, type: 'discharge', date: dischargeDate, author: dr(p.surgeon), custodian: CUSTODIAN, title: 'Ontslagbrief' } });

  const mdm = mdmRadiologyReport(p);
  if (mdm) out.push({ name: `${p.key}-radiology-report.hl7`, kind: 'hl7v2', contentType: 'x-application/hl7-v2+er7', bytes: new TextEncoder().encode(mdm) });
  return out;
}

/** Every seed letter of the given patients. */
export async function seedLetters(patients: SeedPatient[]): Promise<SeedLetter[]> {
  return (await Promise.all(patients.map(patientLetters))).flat();
}
