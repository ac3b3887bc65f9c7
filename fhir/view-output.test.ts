import { describe, expect, it } from 'vitest';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { csvField, encodeRows, parquetKind, viewFormat } from './view-output.ts';
import type { OutputColumn, Row } from './view-definition.ts';

/** The $run output encoders: CSV fields, format names, and Parquet written in row groups and read back. */

const COLUMNS: OutputColumn[] = [
  { name: 'id', type: 'id', collection: false },
  { name: 'n', type: 'integer', collection: false },
  { name: 'x', type: 'decimal', collection: false },
  { name: 'ok', type: 'boolean', collection: false },
  { name: 'tags', collection: true },
  { name: 'q', type: 'Quantity', collection: false },
  { name: 'when', type: 'date', collection: false },
];

async function* rowsOf(rows: Row[]): AsyncGenerator<Row> {
  yield* rows;
}

async function bytesOf(chunks: AsyncIterable<string | Uint8Array>): Promise<{ bytes: Uint8Array; count: number }> {
  const parts: Uint8Array[] = [];
  for await (const c of chunks) parts.push(typeof c === 'string' ? new TextEncoder().encode(c) : c);
  return { bytes: new Uint8Array(Buffer.concat(parts)), count: parts.length };
}

describe('view output', () => {
  it('CSV fields: empty for null, quoted with doubled quotes when needed, JSON for arrays and objects', () => {
    expect(csvField(null)).toBe('');
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a, "b"')).toBe('"a, ""b"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField(['a', 'b'])).toBe('"[""a"",""b""]"');
    expect(csvField(4.5)).toBe('4.5');
    expect(csvField(false)).toBe('false');
  });

  it('names formats by keyword or media type', () => {
    expect(viewFormat('CSV')).toBe('csv');
    expect(viewFormat('application/x-ndjson')).toBe('ndjson');
    expect(viewFormat('text/csv; charset=utf-8')).toBe('csv');
    expect(viewFormat('application/vnd.apache.parquet')).toBe('parquet');
    expect(viewFormat('xlsx')).toBeUndefined();
  });

  it('Parquet types follow the column types', () => {
    expect(COLUMNS.map(parquetKind)).toEqual(['STRING', 'INT32', 'DOUBLE', 'BOOLEAN', 'JSON', 'JSON', 'STRING']);
  });

  it('Parquet: row groups leave as they are written, and the file reads back row for row', async () => {
    const rows: Row[] = Array.from({ length: 7 }, (_, i) => ({
      id: `r${i}`,
      n: i,
      x: i + 0.25,
      ok: i % 2 === 0,
      tags: i ? ['a', `t${i}`] : [],
      q: i === 3 ? null : { value: i, unit: 'mg' },
      when: i === 5 ? null : `2025-0${i + 1}`,
    }));
    const { bytes, count } = await bytesOf(encodeRows('parquet', COLUMNS, rowsOf(rows), { rowGroup: 3 }));
    // Header and three groups (3 + 3 + 1 rows), then the footer: more than one chunk, never the whole file at once.
    expect(count).toBeGreaterThanOrEqual(3);
    const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    expect(parquetMetadata(file).row_groups.map((g) => Number(g.num_rows))).toEqual([3, 3, 1]);
    expect(await parquetReadObjects({ file })).toEqual(rows);
  });

  it('Parquet with no rows is still a readable file with the columns', async () => {
    const { bytes } = await bytesOf(encodeRows('parquet', COLUMNS, rowsOf([])));
    const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    expect(parquetMetadata(file).schema.slice(1).map((s) => s.name)).toEqual(COLUMNS.map((c) => c.name));
    expect(await parquetReadObjects({ file })).toEqual([]);
  });

  it('CSV, NDJSON and JSON keep column order and every column', async () => {
    const rows: Row[] = [{ ok: true, id: 'a' }];
    const text = async (f: 'csv' | 'ndjson' | 'json'): Promise<string> => new TextDecoder().decode((await bytesOf(encodeRows(f, COLUMNS, rowsOf(rows)))).bytes);
    expect(await text('csv')).toBe('id,n,x,ok,tags,q,when\r\na,,,true,,,\r\n');
    expect(await text('ndjson')).toBe('{"id":"a","n":null,"x":null,"ok":true,"tags":null,"q":null,"when":null}\n');
    expect(JSON.parse(await text('json'))).toEqual([{ id: 'a', n: null, x: null, ok: true, tags: null, q: null, when: null }]);
  });
});
