import { ByteWriter, ParquetWriter, type SchemaElement } from 'hyparquet-writer';
import type { OutputColumn, Row, RowValue } from './view-definition.ts';

/**
 * The output formats of ViewDefinition/$run, each an encoder from rows (as they come) to chunks:
 * CSV (RFC 4180, a header row), NDJSON, a JSON array, and Parquet (one row group per
 * PARQUET_ROW_GROUP rows, so memory holds one group, never the whole result).
 * See: https://sql-on-fhir.org/ig/OperationDefinition-ViewDefinitionRun.html
 */

export const VIEW_FORMATS = ['csv', 'ndjson', 'json', 'parquet'] as const;
export type ViewFormat = (typeof VIEW_FORMATS)[number];

export const CONTENT_TYPES: Record<ViewFormat, string> = {
  csv: 'text/csv; charset=utf-8',
  ndjson: 'application/x-ndjson',
  json: 'application/json',
  parquet: 'application/vnd.apache.parquet',
};

/** Rows per Parquet row group: the most rows a Parquet answer holds in memory. */
export const PARQUET_ROW_GROUP = 5000;

/** The format named by `_format` (csv, ndjson, json, parquet, or their media types); undefined when unknown. */
export function viewFormat(name: string): ViewFormat | undefined {
  const n = name.trim().toLowerCase().split(';')[0] ?? '';
  if ((VIEW_FORMATS as readonly string[]).includes(n)) return n as ViewFormat;
  const byType: Record<string, ViewFormat> = { 'text/csv': 'csv', 'application/x-ndjson': 'ndjson', 'application/ndjson': 'ndjson', 'application/fhir+ndjson': 'ndjson', 'application/json': 'json', 'application/vnd.apache.parquet': 'parquet' };
  return byType[n];
}

/** The chunks of a view's output in a format, produced as the rows arrive. */
export function encodeRows(format: ViewFormat, columns: OutputColumn[], rows: AsyncIterable<Row>, options: { rowGroup?: number } = {}): AsyncGenerator<string | Uint8Array> {
  switch (format) {
    case 'csv':
      return csvChunks(columns, rows);
    case 'ndjson':
      return ndjsonChunks(columns, rows);
    case 'json':
      return jsonChunks(columns, rows);
    case 'parquet':
      return parquetChunks(columns, rows, options.rowGroup ?? PARQUET_ROW_GROUP);
  }
}

async function* csvChunks(columns: OutputColumn[], rows: AsyncIterable<Row>): AsyncGenerator<string> {
  yield `${columns.map((c) => csvField(c.name)).join(',')}\r\n`;
  for await (const row of rows) yield `${columns.map((c) => csvField(row[c.name] ?? null)).join(',')}\r\n`;
}

/** One CSV field: empty for null, JSON for a collection or complex value, quoted when it must be. */
export function csvField(value: RowValue): string {
  if (value === null) return '';
  const text = typeof value === 'object' ? JSON.stringify(value) : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** The row with its keys in column order (and every column present). */
function ordered(columns: OutputColumn[], row: Row): Row {
  const out: Row = {};
  for (const c of columns) out[c.name] = row[c.name] ?? null;
  return out;
}

async function* ndjsonChunks(columns: OutputColumn[], rows: AsyncIterable<Row>): AsyncGenerator<string> {
  for await (const row of rows) yield `${JSON.stringify(ordered(columns, row))}\n`;
}

async function* jsonChunks(columns: OutputColumn[], rows: AsyncIterable<Row>): AsyncGenerator<string> {
  let first = true;
  yield '[';
  for await (const row of rows) {
    yield `${first ? '' : ','}\n${JSON.stringify(ordered(columns, row))}`;
    first = false;
  }
  yield first ? ']\n' : '\n]\n';
}

type ParquetKind = 'BOOLEAN' | 'INT32' | 'DOUBLE' | 'STRING' | 'JSON';

/** The Parquet type of a column: FHIR booleans, integers and decimals as such, collections and complex values as JSON, the rest (dates too, which may be partial) as strings. */
export function parquetKind(c: OutputColumn): ParquetKind {
  if (c.collection) return 'JSON';
  switch (c.type) {
    case 'boolean':
      return 'BOOLEAN';
    case 'integer':
    case 'positiveInt':
    case 'unsignedInt':
      return 'INT32';
    case 'decimal':
      return 'DOUBLE';
    case undefined:
      return 'STRING';
    default:
      return /^[a-z]/.test(c.type) ? 'STRING' : 'JSON';
  }
}

function parquetValue(kind: ParquetKind, v: RowValue): unknown {
  if (v === null) return null;
  switch (kind) {
    case 'JSON':
      return v;
    case 'BOOLEAN':
      return typeof v === 'boolean' ? v : null;
    case 'INT32':
    case 'DOUBLE': {
      const n = typeof v === 'number' ? v : Number(v);
      return Number.isFinite(n) && (kind === 'DOUBLE' || Number.isInteger(n)) ? n : null;
    }
    case 'STRING':
      return typeof v === 'object' ? JSON.stringify(v) : String(v);
  }
}

function parquetSchema(columns: OutputColumn[]): SchemaElement[] {
  const element = (c: OutputColumn): SchemaElement => {
    const kind = parquetKind(c);
    const base = { name: c.name, repetition_type: 'OPTIONAL' as const };
    if (kind === 'STRING') return { ...base, type: 'BYTE_ARRAY', converted_type: 'UTF8' };
    if (kind === 'JSON') return { ...base, type: 'BYTE_ARRAY', converted_type: 'JSON' };
    return { ...base, type: kind };
  };
  return [{ name: 'root', num_children: columns.length }, ...columns.map(element)];
}

async function* parquetChunks(columns: OutputColumn[], rows: AsyncIterable<Row>, rowGroup: number): AsyncGenerator<Uint8Array> {
  const out: Uint8Array[] = [];
  const writer = new ByteWriter();
  // After each row group (and at the end) the bytes written so far leave the buffer.
  const take = (): void => {
    if (writer.index === 0) return;
    out.push(new Uint8Array(writer.buffer.slice(0, writer.index)));
    writer.index = 0;
  };
  Object.assign(writer, { flush: take });
  const parquet = new ParquetWriter({ writer, schema: parquetSchema(columns) });
  const kinds = columns.map(parquetKind);
  let group: unknown[][] = columns.map(() => []);
  let size = 0;
  const writeGroup = async (): Promise<void> => {
    await parquet.write({ columnData: columns.map((c, i) => ({ name: c.name, data: group[i] as unknown[] })), rowGroupSize: size });
    group = columns.map(() => []);
    size = 0;
  };
  for await (const row of rows) {
    columns.forEach((c, i) => group[i]?.push(parquetValue(kinds[i] as ParquetKind, row[c.name] ?? null)));
    size++;
    if (size >= rowGroup) {
      await writeGroup();
      yield* out.splice(0);
    }
  }
  if (size) await writeGroup();
  await parquet.finish();
  take();
  yield* out.splice(0);
}
