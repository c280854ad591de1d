/**
 * Reading the safetensors format (layout in safetensors.ts) from bytes in memory, with no Node.js API, so the browser
 * playground reads checkpoints with the same checks as `loadCheckpoint`. safetensors.ts adds the file I/O and the writer.
 */
import { DataError, jsonErrorOffset, oneLine } from '../errors.ts';

export type SafetensorsDtype = 'F32' | 'I32';
/** Every dtype a file here may hold: checkpoints F32 / I32, the Hugging Face layout (hf_layout.ts) also F16 / BF16. */
export type StoredDtype = SafetensorsDtype | 'F16' | 'BF16';

export interface SafetensorsTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: Float32Array | Int32Array;
}

/** What writeSafetensors takes: also F16 / BF16 as Uint16Array (the raw 16-bit words; half.ts converts them). */
export interface StoredTensor {
  dtype: StoredDtype;
  shape: number[];
  data: Float32Array | Int32Array | Uint16Array;
}

export interface SafetensorsFile {
  tensors: Record<string, SafetensorsTensor>;
  metadata: Record<string, string>;
}

export const ITEM_SIZE: Record<SafetensorsDtype, number> = { F32: 4, I32: 4 };
export const STORED_ITEM_SIZE: Record<StoredDtype, number> = { ...ITEM_SIZE, F16: 2, BF16: 2 };
/** The reference reader refuses larger headers (MAX_HEADER_SIZE). */
const MAX_HEADER_BYTES = 100_000_000;
/** Whether this host stores numbers little-endian (the file's order). */
export const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Where each tensor's bytes are, after the header and the layout were checked against the file's size. */
export interface Layout<D extends StoredDtype = SafetensorsDtype> {
  metadata: Record<string, string>;
  /** begin / end: offsets in the data buffer, which starts at byte `dataStart` of the file. */
  entries: { name: string; dtype: D; shape: number[]; begin: number; end: number }[];
  /** Offset of the first data byte in the file (8 + header length). */
  dataStart: number;
}

/**
 * Decodes and validates a whole safetensors file held in `buf` (F32/I32 only); `source` names it in the DataError,
 * with the byte offset where it went wrong and the bad tensor. The tensors are fresh, aligned copies.
 */
export function decodeSafetensors(buf: Uint8Array, source: string): SafetensorsFile {
  const { entries, metadata, dataStart } = parseLayout(source, buf.length, (begin, end) => buf.subarray(begin, end));
  const tensors: Record<string, SafetensorsTensor> = {};
  for (const e of entries) {
    const bytes = new Uint8Array(e.end - e.begin); // a fresh, aligned copy
    bytes.set(buf.subarray(dataStart + e.begin, dataStart + e.end));
    if (!LITTLE_ENDIAN) swap32(bytes);
    const data = e.dtype === 'F32' ? new Float32Array(bytes.buffer) : new Int32Array(bytes.buffer);
    tensors[e.name] = { dtype: e.dtype, shape: e.shape, data };
  }
  return { tensors, metadata };
}

/** Reverses the byte order of every 4-byte word in place. */
function swap32(b: Uint8Array): void {
  for (let i = 0; i + 3 < b.length; i += 4) {
    [b[i], b[i + 1], b[i + 2], b[i + 3]] = [b[i + 3], b[i + 2], b[i + 1], b[i]];
  }
}

/**
 * Parses and checks the header of a `size`-byte file whose bytes [begin, end) come from `bytes`; the dtypes allowed
 * are the keys of `itemSize` (F32 and I32 by default).
 */
export function parseLayout<D extends StoredDtype = SafetensorsDtype>(
  path: string,
  size: number,
  bytes: (begin: number, end: number) => Uint8Array,
  itemSize: Partial<Record<D, number>> = ITEM_SIZE as Partial<Record<D, number>>,
): Layout<D> {
  const bad = (msg: string): DataError => new DataError(`${path}: ${msg}`);
  if (size < 8) throw bad(`file is ${size} bytes, shorter than the 8-byte header length field (truncated?)`);
  const lengthField = bytes(0, 8);
  const n = new DataView(lengthField.buffer, lengthField.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) throw bad(`header length ${n} exceeds the limit of ${MAX_HEADER_BYTES} bytes (the length field, bytes 0-7; corrupt?)`);
  const headerLen = Number(n);
  if (8 + headerLen > size) throw bad(`header length ${headerLen} runs past the end of the ${size}-byte file (the length field, bytes 0-7; truncated?)`);
  let header: unknown;
  const text = new TextDecoder().decode(bytes(8, 8 + headerLen));
  try {
    header = JSON.parse(text);
  } catch (e) {
    // The byte offset in the file (the header is read as UTF-8: exact for ASCII names).
    const at = new TextEncoder().encode(text.slice(0, Math.max(0, jsonErrorOffset(text)))).length;
    throw bad(`header is not valid JSON at byte ${8 + at} (header bytes 8-${7 + headerLen}; ${oneLine((e as Error).message)})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) throw bad('header (from byte 8) is not a JSON object');

  const dataStart = 8 + headerLen;
  const dataLen = size - dataStart;
  const metadata: Record<string, string> = {};
  const entries: Layout<D>['entries'] = [];
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (info === null || typeof info !== 'object' || Array.isArray(info)) throw bad('__metadata__ is not an object');
      for (const [k, v] of Object.entries(info)) {
        if (typeof v !== 'string') throw bad(`__metadata__.${k} is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    const t = info as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (t === null || typeof t !== 'object') throw bad(`tensor '${name}': entry is not an object`);
    if (typeof t.dtype !== 'string' || !(t.dtype in itemSize)) throw bad(`tensor '${name}': unsupported dtype ${JSON.stringify(t.dtype)} (${Object.keys(itemSize).join(', ')})`);
    const dtype = t.dtype as D;
    const width = itemSize[dtype]!;
    const shape = t.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) throw bad(`tensor '${name}': bad shape ${JSON.stringify(shape)}`);
    const offs = t.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isInteger(o) && o >= 0) || offs[1] < offs[0]) {
      throw bad(`tensor '${name}': bad data_offsets ${JSON.stringify(offs)}`);
    }
    const [begin, end] = offs as [number, number];
    if (numel(shape) * width !== end - begin) {
      throw bad(`tensor '${name}': shape [${shape.join(', ')}] × ${width} bytes != ${end - begin} bytes in data_offsets [${begin}, ${end}]`);
    }
    entries.push({ name, dtype, shape, begin, end });
  }

  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  for (const e of entries) {
    if (e.begin !== expected) throw bad(`tensor '${e.name}': data_offsets [${e.begin}, ${e.end}] are not contiguous (expected to begin at ${expected})`);
    if (e.end > dataLen) {
      throw bad(`tensor '${e.name}': data_offsets [${e.begin}, ${e.end}] (file bytes ${dataStart + e.begin}-${dataStart + e.end}) run past the ${dataLen}-byte data buffer, which ends at byte ${size} (truncated?)`);
    }
    expected = e.end;
  }
  if (expected !== dataLen) throw bad(`tensors cover ${expected} bytes but the data buffer holds ${dataLen} (trailing bytes or truncated?)`);
  return { metadata, entries, dataStart };
}
