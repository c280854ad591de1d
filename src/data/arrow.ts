/**
 * Arrow IPC reader (apache-arrow): both the file format and the stream format. Hugging Face `datasets` cache files
 * (`cache-*.arrow`, `data-*.arrow`) are IPC streams.
 *
 * Rows become plain objects: lists -> arrays, structs -> objects, 64-bit integers -> number when exactly
 * representable, otherwise left as bigint (never silently rounded). Strings, floats, booleans and null stay as they are.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { DataError } from '../errors.ts';
import type { LocatedRows, Row } from './readers.ts';
import { readText } from './readers.ts';

type ArrowModule = typeof import('apache-arrow');
let arrowModule: ArrowModule | null = null;
/** apache-arrow loads on first use (it takes longer to load than everything else a CLI needs to check its inputs). */
function arrow(): ArrowModule {
  arrowModule ??= createRequire(import.meta.url)('apache-arrow') as ArrowModule;
  return arrowModule;
}

/** All rows of an Arrow IPC file or stream. */
export function readArrow(file: string): Row[] {
  return readArrowLocated(file).rows;
}

export function readArrowLocated(file: string): LocatedRows {
  if (!fs.existsSync(file)) readText(file); // throws the standard "file not found" DataError
  let table;
  try {
    table = arrow().tableFromIPC(fs.readFileSync(file));
  } catch (e) {
    throw new DataError(`${file}: not a readable Arrow IPC file or stream (${(e as Error).message})`);
  }
  const rows: Row[] = [];
  const where: string[] = [];
  for (let i = 0; i < table.numRows; i++) {
    const row = table.get(i);
    rows.push(row ? (toPlain(row.toJSON()) as Row) : {});
    where.push(`${file}: row ${i}`);
  }
  return { rows, where };
}

function toPlain(v: unknown): unknown {
  if (typeof v === 'bigint') {
    const n = Number(v);
    return Number.isSafeInteger(n) ? n : v;
  }
  if (v instanceof arrow().Vector) return Array.from(v as Iterable<unknown>, toPlain);
  if (v === null || typeof v !== 'object' || v instanceof Date || ArrayBuffer.isView(v)) return v;
  const obj = typeof (v as { toJSON?: unknown }).toJSON === 'function' ? (v as { toJSON(): object }).toJSON() : v;
  const out: Row = {};
  for (const [k, x] of Object.entries(obj)) out[k] = toPlain(x);
  return out;
}
