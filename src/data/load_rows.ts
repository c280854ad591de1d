/**
 * One entry point for tabular data: pick the reader by format (or extension) and rename columns to the names the
 * templates use (`fields`: our name -> column name, e.g. { prompt: 'question' }).
 */
import path from 'node:path';
import { DataError } from '../errors.ts';
import { readArrowLocated } from './arrow.ts';
import { readCsvLocated, readJsonlLocated, readJsonLocated, readText, type LocatedRows, type Row } from './readers.ts';

export type DataFormat = 'jsonl' | 'json' | 'csv' | 'arrow';

export interface LoadRowsOptions {
  path: string;
  /** Default: from the extension (.jsonl, .json, .csv, .arrow). */
  format?: DataFormat;
  /** Our name -> column name. Each row keeps its columns and gains the mapped names. */
  fields?: Record<string, string>;
}

const BY_EXTENSION: Record<string, DataFormat> = { '.jsonl': 'jsonl', '.json': 'json', '.csv': 'csv', '.arrow': 'arrow' };

/** Reads every row; a mapped column missing from a row throws a DataError naming the file, line/row and column. */
export function loadRows(opts: LoadRowsOptions): Row[] {
  return loadRowsLocated(opts).rows;
}

/** loadRows plus where each row came from (`file:line`, or `file: row i`), for errors about a row's content. */
export function loadRowsLocated(opts: LoadRowsOptions): LocatedRows {
  const file = opts.path;
  const format = opts.format ?? BY_EXTENSION[path.extname(file).toLowerCase()];
  if (!format) {
    throw new DataError(`${file}: cannot tell the format from the extension '${path.extname(file)}'; set format to one of jsonl, json, csv, arrow`);
  }
  const { rows, where } = readLocated(file, format);
  const fields = Object.entries(opts.fields ?? {});
  if (fields.length === 0) return { rows, where };
  const mapped = rows.map((row, i) => {
    const out: Row = { ...row };
    for (const [ours, column] of fields) {
      if (!(column in row)) {
        throw new DataError(`${where[i]}: column '${column}' (data.fields.${ours}) is missing; the row has: ${Object.keys(row).join(', ')}`);
      }
      out[ours] = row[column];
    }
    return out;
  });
  return { rows: mapped, where };
}

function readLocated(file: string, format: DataFormat): LocatedRows {
  switch (format) {
    case 'jsonl':
      return readJsonlLocated(file);
    case 'json':
      // Some ".json" files are JSON Lines (one object per line): read those as JSONL.
      return readText(file).trimStart().startsWith('{') ? readJsonlLocated(file) : readJsonLocated(file);
    case 'csv':
      return readCsvLocated(file);
    case 'arrow':
      return readArrowLocated(file);
    default:
      throw new DataError(`${file}: unknown format '${String(format)}' (expected jsonl, json, csv or arrow)`);
  }
}
