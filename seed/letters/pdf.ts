import { PDFDocument, StandardFonts } from 'pdf-lib';

/** Text Helvetica (WinAnsi) can draw: diacritics and letters outside Latin-1 folded to ASCII. */
function winAnsi(s: string): string {
  return s.normalize('NFD').replace(/\p{Diacritic}/gu, '').replace(/ı/g, 'i').replace(/[^\x20-\x7E]/g, '?');
}

/** Wraps a paragraph to lines of at most `width` characters. */
function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  for (const para of text.split('\n')) {
    let line = '';
    for (const word of para.split(/\s+/)) {
      if (line && line.length + word.length + 1 > width) {
        out.push(line);
        line = word;
      } else line = line ? `${line} ${word}` : word;
    }
    out.push(line);
  }
  return out;
}

/**
 * A one- or two-page letter as a real PDF (pdf-lib, Helvetica), with title, author and a fixed
 * creation date so the same letter gives the same bytes on every run (the inbox deduplicates).
 */
export async function letterPdf(letter: { title: string; author: string; created: Date; body: string }): Promise<Uint8Array> {
  const doc = await PDFDocument.create({ updateMetadata: false });
  doc.setTitle(winAnsi(letter.title));
  doc.setAuthor(winAnsi(letter.author));
  doc.setCreator('IDR seed');
  doc.setProducer('pdf-lib');
  doc.setCreationDate(letter.created);
  doc.setModificationDate(letter.created);
  const font = await doc.embedFont(StandardFonts.Helvetica);
  const lines = wrap(winAnsi(letter.body), 90);
  const perPage = 48;
  for (let i = 0; i < lines.length; i += perPage) {
    const page = doc.addPage([595, 842]);
    lines.slice(i, i + perPage).forEach((line, n) => page.drawText(line, { x: 56, y: 780 - n * 15, size: 10, font }));
  }
  return doc.save({ useObjectStreams: false });
}
