/**
 * Text data readers: JSONL, JSON (an array of objects) and CSV (header row). Every error names `file:line`.
 * Each reader has a `*Located` form that also returns where every row came from, for loadRows' errors.
 */
import fs from 'node:fs';
import { DataError, jsonDataError } from '../errors.ts';

export type Row = Record<string, unknown>;

/** Rows plus a label per row such as `data/x.jsonl:17`. */
export interface LocatedRows<R = Row> {
  rows: R[];
  where: string[];
}

/** Reads a data file's text, or throws a DataError that says how to get the data. */
export function readText(file: string): string {
  if (!fs.existsSync(file)) {
    throw new DataError(
      `${file}: file not found. Datasets live in the data directory (runtime.data_dir, env DIFFRL_DATA_DIR, else the repository's data/); run \`yarn data:fetch\` to download them.`,
    );
  }
  return fs.readFileSync(file, 'utf8');
}

// ---- JSONL ----

export interface JsonlOptions {
  /** Stop after this many rows. */
  limit?: number;
}

/** One JSON object per line; blank lines are skipped; a malformed line throws a DataError naming `file:line`. */
export function readJsonl(file: string, opts: JsonlOptions = {}): Row[] {
  return readJsonlLocated(file, opts).rows;
}

export function readJsonlLocated(file: string, opts: JsonlOptions = {}): LocatedRows {
  const limit = opts.limit ?? Infinity;
  const rows: Row[] = [];
  const where: string[] = [];
  const lines = readText(file).split('\n');
  for (let i = 0; i < lines.length && rows.length < limit; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      throw new DataError(`${file}:${i + 1}: malformed JSON (${(e as Error).message})`);
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new DataError(`${file}:${i + 1}: expected a JSON object, got ${Array.isArray(value) ? 'an array' : typeof value}`);
    }
    rows.push(value as Row);
    where.push(`${file}:${i + 1}`);
  }
  return { rows, where };
}

// ---- JSON ----

/** A JSON array of objects (e.g. mbpp/sanitized-mbpp.json). */
export function readJsonLocated(file: string): LocatedRows {
  const text = readText(file);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw jsonDataError(file, text, e);
  }
  if (!Array.isArray(value)) throw new DataError(`${file}: expected a JSON array of objects, got ${typeof value}`);
  value.forEach((v, i) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new DataError(`${file}: row ${i}: expected an object`);
  });
  return { rows: value as Row[], where: value.map((_, i) => `${file}: row ${i}`) };
}

// ---- CSV ----

/**
 * CSV with a header row (RFC 4180: fields may be quoted, `""` is a quote, quoted fields may hold commas and newlines;
 * CRLF or LF). Values stay strings: Sudoku grids such as "0340..." must keep their leading zeros.
 */
export function readCsv(file: string): Record<string, string>[] {
  return readCsvLocated(file).rows;
}

export function readCsvLocated(file: string): LocatedRows<Record<string, string>> {
  const records = parseCsv(readText(file), file);
  if (records.length === 0) throw new DataError(`${file}: empty CSV (no header row)`);
  const header = records[0].fields;
  const rows: Record<string, string>[] = [];
  const where: string[] = [];
  for (const rec of records.slice(1)) {
    if (rec.fields.length === 1 && rec.fields[0] === '') continue; // blank line
    if (rec.fields.length !== header.length) {
      throw new DataError(`${file}:${rec.line}: ${rec.fields.length} fields, but the header (${header.join(',')}) has ${header.length}`);
    }
    const row: Record<string, string> = {};
    header.forEach((h, j) => (row[h] = rec.fields[j]));
    rows.push(row);
    where.push(`${file}:${rec.line}`);
  }
  return { rows, where };
}

/** Records with the 1-based line each starts on. */
function parseCsv(text: string, file: string): { fields: string[]; line: number }[] {
  const out: { fields: string[]; line: number }[] = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let recordLine = 1;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0; // skip a BOM
  for (; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') {
        quoted = false;
      } else {
        if (ch === '\n') line++;
        field += ch;
      }
    } else if (ch === '"' && field === '') {
      quoted = true;
    } else if (ch === ',') {
      fields.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      fields.push(field);
      out.push({ fields, line: recordLine });
      fields = [];
      field = '';
      recordLine = ++line;
    } else {
      field += ch;
    }
  }
  if (quoted) throw new DataError(`${file}:${recordLine}: unterminated quoted field`);
  if (field !== '' || fields.length > 0) {
    fields.push(field);
    out.push({ fields, line: recordLine });
  }
  return out;
}
