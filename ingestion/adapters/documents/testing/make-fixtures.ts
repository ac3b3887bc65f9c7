/** Writes the document fixtures in test/fixtures/documents/ (run: node ingestion/adapters/documents/testing/make-fixtures.ts). */
import { writeFileSync } from 'node:fs';
import { PDFDocument, StandardFonts, rgb } from 'pdf-lib';

const dir = new URL('../../../../test/fixtures/documents/', import.meta.url);
const write = (name: string, data: Uint8Array | string): void => writeFileSync(new URL(name, dir), data);

const REFERRAL = [
  'Noordwest Ziekenhuisgroep - Department of Surgery',
  'Wilhelminalaan 12, 1815 JD Alkmaar, The Netherlands',
  '',
  'Alkmaar, 4 March 2024',
  '',
  'To: Dr. E. Bakker, medical oncologist, Antoni van Leeuwenhoek, Amsterdam',
  'Re: Mrs A.M. Jansen, born 23-05-1964, BSN 999911120',
  '',
  'Dear colleague,',
  '',
  'Thank you for seeing Mrs Jansen, a 59-year-old woman referred by her general practitioner',
  'with a palpable mass in the upper outer quadrant of the left breast.',
  'Mammography and ultrasound (4 March 2024) showed a 23 mm irregular mass, BI-RADS 5,',
  'with one suspicious axillary lymph node.',
  'Core needle biopsy (T24-01234): invasive carcinoma NST, grade 2, ER 90%, PR 60%, HER2 negative (1+).',
  '',
  'We request your opinion on neoadjuvant systemic therapy before breast-conserving surgery.',
  'The case is scheduled for the multidisciplinary breast tumour board on 12 March 2024.',
  '',
  'Medication: levothyroxine 50 mcg once daily. Allergies: none known.',
  '',
  'Kind regards,',
  'Dr. P. de Vries, surgical oncologist',
];

async function referralPdf(): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  doc.setTitle('Referral letter - A.M. Jansen');
  doc.setAuthor('Dr. P. de Vries');
  doc.setCreationDate(new Date('2024-03-04T10:15:00Z'));
  doc.setModificationDate(new Date('2024-03-04T10:15:00Z'));
  const font = await doc.embedFont(StandardFonts.Helvetica);
  const page = doc.addPage([595, 842]);
  REFERRAL.forEach((line, i) => page.drawText(line, { x: 56, y: 780 - i * 16, size: 10, font }));
  const p2 = doc.addPage([595, 842]);
  p2.drawText('Enclosures: pathology report T24-01234, imaging report RAD24-000123.', { x: 56, y: 780, size: 10, font });
  return doc.save();
}

async function imageOnlyPdf(): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  doc.setCreationDate(new Date('2024-03-05T08:00:00Z'));
  doc.setModificationDate(new Date('2024-03-05T08:00:00Z'));
  doc.addPage([595, 842]).drawRectangle({ x: 50, y: 500, width: 300, height: 200, color: rgb(0.2, 0.2, 0.2) });
  return doc.save();
}

/** A minimal PDF with a Standard security handler whose /U does not match the empty password. */
function encryptedPdf(): string {
  const pad = (s: string): string => `<${s.repeat(64).slice(0, 64)}>`;
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>',
    `<< /Filter /Standard /V 1 /R 2 /O ${pad('a1')} /U ${pad('b2')} /P -44 >>`,
  ];
  let out = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((body, i) => {
    offsets.push(out.length);
    out += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = out.length;
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const o of offsets) out += `${String(o).padStart(10, '0')} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R /Encrypt 4 0 R /ID [<0123456789abcdef0123456789abcdef> <0123456789abcdef0123456789abcdef>] >>\nstartxref\n${xref}\n%%EOF\n`;
  return out;
}

const MDT_LETTER = `Antoni van Leeuwenhoek - Multidisciplinary breast tumour board
Date of meeting: 12 March 2024
Patient: A.M. Jansen, born 23-05-1964

Diagnosis: invasive carcinoma NST of the left breast, cT2N1M0, ER+/PR+/HER2-.
Recommendation: neoadjuvant chemotherapy (ddAC followed by paclitaxel), then breast-conserving
surgery with targeted axillary dissection. MRI of the breasts for response evaluation.
`;

const RADIOLOGY_MDM = [
  'MSH|^~\\&|RIS|NWZ|IDR|IDR|20240304121500+0100||MDM^T02^MDM_T02|RIS000987|P|2.5.1',
  'EVN|T02|20240304121500+0100',
  'PID|1||999911120^^^NLMINBIZA&2.16.840.1.113883.2.4.6.3&ISO^NNNLD||Jansen^Anna^Maria||19640523|F',
  'PV1|1|O',
  'OBR|1|PL-5566|RAD24-000123^RIS|MAMMO^Mammografie bilateraal^L|||20240304093015+0100|||||||||||RAD24-000123',
  'TXA|1|DI|TX|20240304120000+0100|^de Vries^Pieter^^^Dr.^^^^^^^^^^^RADIOLOGIE||20240304115500+0100|||||RAD-DOC-777^RIS||PL-5566|RAD24-000123||LA',
  'OBX|1|HD|113014^DICOM Study^DCM||1.2.826.0.1.3680043.10.1234.200||||||F',
  'OBX|2|TX|18748-4^Diagnostic imaging study^LN||Mammography bilateral, 2 views.||||||F',
  'OBX|3|TX|18748-4^Diagnostic imaging study^LN||Left breast upper outer quadrant: irregular mass of 23 mm with spiculated margins.||||||F',
  'OBX|4|TX|18748-4^Diagnostic imaging study^LN||Conclusion:||||||F',
  'OBX|5|TX|18748-4^Diagnostic imaging study^LN||Suspicious mass left breast, BI-RADS 5. Biopsy advised.||||||F',
  `OBX|6|ED|PDF^Report PDF^L||^application^pdf^Base64^${Buffer.from('%PDF-1.4 stub').toString('base64')}||||||F`,
].join('\r');

const [referral, imageOnly] = await Promise.all([referralPdf(), imageOnlyPdf()]);
write('referral-letter.pdf', referral);
write('image-only.pdf', imageOnly);
write('corrupt.pdf', referral.subarray(0, Math.floor(referral.length / 3)));
write('encrypted.pdf', encryptedPdf());
write('empty.txt', '');
write('mdt-letter.txt', MDT_LETTER);
write('not-ccda.xml', '<?xml version="1.0" encoding="UTF-8"?>\n<!-- a purchase order, not a clinical document -->\n<order id="42"><item sku="A-1" qty="2"/></order>\n');
write('radiology-report-mdm.hl7', `${RADIOLOGY_MDM}\r`);
write('pdf-named-text.txt', referral.subarray(0, 2048));
console.log(`wrote fixtures to ${dir.pathname}`);
