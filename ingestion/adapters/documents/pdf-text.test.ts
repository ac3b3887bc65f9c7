import { describe, expect, it } from 'vitest';
import { DEFAULT_PDF_LIMITS, pdfDate, pdfToText } from './pdf-text.ts';
import { fixtureBytes, refusal } from './testing/helpers.ts';
import { inflatingPdf, manyPagesPdf } from './testing/large-pdfs.ts';

describe('pdfToText', () => {
  it('extracts the text of every page, title, author and creation date', async () => {
    const bytes = fixtureBytes('referral-letter.pdf');
    const r = await pdfToText(bytes);
    expect(r.pages).toBe(2);
    expect(r.text).toContain('invasive carcinoma NST, grade 2, ER 90%');
    expect(r.text).toContain('Enclosures: pathology report T24-01234');
    expect(r).toMatchObject({ title: 'Referral letter - A.M. Jansen', author: 'Dr. P. de Vries', creationDate: '2024-03-04T10:15:00Z', warnings: [] });
    expect(bytes.byteLength).toBeGreaterThan(0); // the caller's buffer is not detached
  });

  it('keeps an image-only PDF with empty text and a warning', async () => {
    const r = await pdfToText(fixtureBytes('image-only.pdf'));
    expect(r.text).toBe('');
    expect(r.warnings).toEqual(['no extractable text (image-only PDF?)']);
  });

  it('refuses a truncated PDF', async () => {
    const err = await refusal(() => pdfToText(fixtureBytes('corrupt.pdf')));
    expect(err.location).toBe('pdf');
    expect(err.message).toMatch(/not a readable PDF/);
  });

  it('refuses a password-protected PDF', async () => {
    const err = await refusal(() => pdfToText(fixtureBytes('encrypted.pdf')));
    expect(err.location).toBe('pdf');
    expect(err.message).toMatch(/encrypted PDF/);
  });

  it('reads PDF dates with and without offsets', () => {
    expect(pdfDate("D:20240304101500+01'00'")).toBe('2024-03-04T10:15:00+01:00');
    expect(pdfDate('D:20240304')).toBe('2024-03-04');
    expect(pdfDate('yesterday')).toBeUndefined();
  });
});

describe('pdfToText limits (the PDF is kept; the warning names the limit)', () => {
  it('reads a PDF at the page limit and skips one page over it', async () => {
    const limits = { ...DEFAULT_PDF_LIMITS, maxPages: 20 };
    const at = await pdfToText(await manyPagesPdf(20), limits);
    expect(at.pages).toBe(20);
    expect(at.text).toContain('Page 20 of 20');
    const over = await pdfToText(await manyPagesPdf(21), limits);
    expect(over).toEqual({ text: '', pages: 21, warnings: ['text not extracted: it has 21 pages; text is extracted from PDFs of at most 20 pages (IDR_PDF_MAX_PAGES); the PDF is kept as it is'] });
  });

  it('skips a PDF whose streams inflate beyond the limit', async () => {
    const bytes = await inflatingPdf(2 * 1024 * 1024);
    expect(bytes.length).toBeLessThan(64 * 1024);
    const r = await pdfToText(bytes, { ...DEFAULT_PDF_LIMITS, maxInflatedBytes: 1024 * 1024 });
    expect(r.text).toBe('');
    expect(r.warnings).toEqual([`text not extracted: its streams inflate to more than ${1024 * 1024} bytes (IDR_PDF_MAX_INFLATED_BYTES); the PDF is kept as it is`]);
    expect((await pdfToText(bytes, { ...DEFAULT_PDF_LIMITS, maxInflatedBytes: 4 * 1024 * 1024 })).warnings).toEqual(['no extractable text (image-only PDF?)']);
  });

  it('stops an extraction that takes longer than the time limit', async () => {
    const r = await pdfToText(fixtureBytes('referral-letter.pdf'), { ...DEFAULT_PDF_LIMITS, timeoutMs: 1 });
    expect(r).toEqual({ text: '', pages: 0, warnings: ['text not extracted: extraction took longer than 1 ms (IDR_PDF_EXTRACT_TIMEOUT_MS); the PDF is kept as it is'] });
  });
});

describe('pdfToText memory limit', () => {
  it('stops an extraction that needs more than the worker heap', async () => {
    // 600 pages fit in 32 MB, 1,000 do not: 2,000 leave a wide margin.
    const r = await pdfToText(await manyPagesPdf(2000), { ...DEFAULT_PDF_LIMITS, memoryMb: 32 });
    expect(r).toEqual({ text: '', pages: 0, warnings: ['text not extracted: extraction needed more than 32 MB (IDR_PDF_EXTRACT_MEMORY_MB); the PDF is kept as it is'] });
  }, 60_000);
});

describe('pdfToText concurrency', () => {
  it('extracts many PDFs asked for at once, each with its own text', async () => {
    const letters = await Promise.all([3, 4, 5, 6, 7].map((n) => manyPagesPdf(n)));
    const texts = await Promise.all(letters.map((b) => pdfToText(b)));
    expect(texts.map((t) => t.pages)).toEqual([3, 4, 5, 6, 7]);
    expect(texts.map((t) => t.text.split('\n\n').at(-1))).toEqual(['Page 3 of 3', 'Page 4 of 4', 'Page 5 of 5', 'Page 6 of 6', 'Page 7 of 7']);
  });
});
