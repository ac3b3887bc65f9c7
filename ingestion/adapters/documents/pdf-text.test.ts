import { describe, expect, it } from 'vitest';
import { pdfDate, pdfToText } from './pdf-text.ts';
import { fixtureBytes, refusal } from './testing/helpers.ts';

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
