/**
 * The safetensors file format (https://github.com/huggingface/safetensors), F32 and I32 only:
 *   8 bytes     N, little-endian u64: the header's length in bytes
 *   N bytes     UTF-8 JSON {"__metadata__": {string: string}, "<name>": {"dtype", "shape", "data_offsets": [begin, end]}, ...}
 *               padded with spaces (0x20) so that 8 + N is a multiple of 8
 *   rest        the tensors' little-endian bytes, contiguous, offsets relative to the byte after the header
 * Written like the reference `prepare()` (safetensors/src/tensor.rs): tensors sorted by dtype (F32 before I32) then name,
 * compact JSON with `__metadata__` first, so Python's `safetensors.torch.load_file` reads it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { DataError, jsonErrorOffset, oneLine } from '../errors.ts';

export type SafetensorsDtype = 'F32' | 'I32';

export interface SafetensorsTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: Float32Array | Int32Array;
}

export interface SafetensorsFile {
  tensors: Record<string, SafetensorsTensor>;
  metadata: Record<string, string>;
}

const ITEM_SIZE: Record<SafetensorsDtype, number> = { F32: 4, I32: 4 };
/** Reference sort key: descending `Dtype` enum order, in which F32 comes after I32. */
const DTYPE_ORDER: Record<SafetensorsDtype, number> = { F32: 1, I32: 0 };
/** The reference reader refuses larger headers (MAX_HEADER_SIZE). */
const MAX_HEADER_BYTES = 100_000_000;
const LITTLE_ENDIAN = os.endianness() === 'LE';

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** The tensor's bytes in little-endian order (a view when the host is little-endian). */
function leBytes(data: Float32Array | Int32Array): Buffer {
  const view = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return LITTLE_ENDIAN ? view : Buffer.from(view).swap32();
}

/**
 * Writes `tensors` to `path` in safetensors format and fsyncs the file.
 * `metadata` becomes `__metadata__` (omitted when undefined, as the reference does for `metadata=None`).
 */
export function writeSafetensors(path: string, tensors: Record<string, SafetensorsTensor>, metadata?: Record<string, string>): void {
  const names = Object.keys(tensors).sort((a, b) => {
    const byDtype = DTYPE_ORDER[tensors[b].dtype] - DTYPE_ORDER[tensors[a].dtype];
    return byDtype !== 0 ? byDtype : a < b ? -1 : a > b ? 1 : 0;
  });
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new Error(`writeSafetensors ${path}: __metadata__.${k} must be a string, got ${typeof v}`);
    }
    header.__metadata__ = metadata;
  }
  let offset = 0;
  for (const name of names) {
    const { dtype, shape, data } = tensors[name];
    if (name === '__metadata__') throw new Error(`writeSafetensors ${path}: '__metadata__' is reserved and cannot name a tensor`);
    if (!(dtype in ITEM_SIZE)) throw new Error(`writeSafetensors ${path}: tensor '${name}' has unsupported dtype ${dtype} (F32, I32)`);
    const wantArray = dtype === 'F32' ? Float32Array : Int32Array;
    if (!(data instanceof wantArray)) throw new Error(`writeSafetensors ${path}: tensor '${name}' is ${dtype} but its data is a ${data.constructor.name}`);
    if (!shape.every((d) => Number.isInteger(d) && d >= 0) || numel(shape) !== data.length) {
      throw new Error(`writeSafetensors ${path}: tensor '${name}' has shape [${shape.join(', ')}] but ${data.length} values`);
    }
    const nbytes = data.length * ITEM_SIZE[dtype];
    header[name] = { dtype, shape, data_offsets: [offset, offset + nbytes] };
    offset += nbytes;
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Buffer.alloc(Math.ceil(json.length / 8) * 8, 0x20); // 8 + N ≡ 0 (mod 8)
  json.copy(padded);
  const lengthField = Buffer.alloc(8);
  lengthField.writeBigUInt64LE(BigInt(padded.length));

  const fd = fs.openSync(path, 'w');
  try {
    fs.writeSync(fd, lengthField);
    fs.writeSync(fd, padded);
    for (const name of names) fs.writeSync(fd, leBytes(tensors[name].data));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Where each tensor's bytes are, after the header and the layout were checked against the file's size. */
interface Layout {
  metadata: Record<string, string>;
  entries: { name: string; dtype: SafetensorsDtype; shape: number[]; begin: number; end: number }[];
  /** Offset of the first data byte in the file (8 + header length). */
  dataStart: number;
}

/**
 * Reads and validates a safetensors file (F32/I32 only); throws a DataError naming the file, the byte offset where it
 * went wrong and the bad tensor.
 */
export function readSafetensors(path: string): SafetensorsFile {
  const buf = fs.readFileSync(path);
  const { entries, metadata, dataStart } = parseLayout(path, buf.length, (begin, end) => buf.subarray(begin, end));
  const tensors: Record<string, SafetensorsTensor> = {};
  for (const e of entries) {
    const bytes = new Uint8Array(e.end - e.begin); // a fresh, aligned copy
    bytes.set(buf.subarray(dataStart + e.begin, dataStart + e.end));
    if (!LITTLE_ENDIAN) Buffer.from(bytes.buffer).swap32();
    const data = e.dtype === 'F32' ? new Float32Array(bytes.buffer) : new Int32Array(bytes.buffer);
    tensors[e.name] = { dtype: e.dtype, shape: e.shape, data };
  }
  return { tensors, metadata };
}

/**
 * The checks of readSafetensors without reading the tensor data (only the header and the file's size): tensor names
 * and shapes, or a DataError. For validating a checkpoint before any work starts.
 */
export function inspectSafetensors(path: string): Record<string, { dtype: SafetensorsDtype; shape: number[] }> {
  const fd = fs.openSync(path, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const read = (begin: number, end: number): Buffer => {
      const b = Buffer.alloc(Math.max(0, Math.min(end, size) - begin));
      fs.readSync(fd, b, 0, b.length, begin);
      return b;
    };
    const { entries } = parseLayout(path, size, read);
    return Object.fromEntries(entries.map((e) => [e.name, { dtype: e.dtype, shape: e.shape }]));
  } finally {
    fs.closeSync(fd);
  }
}

/** Parses and checks the header of a `size`-byte file whose bytes [begin, end) come from `bytes`. */
function parseLayout(path: string, size: number, bytes: (begin: number, end: number) => Buffer): Layout {
  const bad = (msg: string): DataError => new DataError(`${path}: ${msg}`);
  if (size < 8) throw bad(`file is ${size} bytes, shorter than the 8-byte header length field (truncated?)`);
  const n = bytes(0, 8).readBigUInt64LE(0);
  if (n > BigInt(MAX_HEADER_BYTES)) throw bad(`header length ${n} exceeds the limit of ${MAX_HEADER_BYTES} bytes (the length field, bytes 0-7; corrupt?)`);
  const headerLen = Number(n);
  if (8 + headerLen > size) throw bad(`header length ${headerLen} runs past the end of the ${size}-byte file (the length field, bytes 0-7; truncated?)`);
  let header: unknown;
  const text = bytes(8, 8 + headerLen).toString('utf8');
  try {
    header = JSON.parse(text);
  } catch (e) {
    // The byte offset in the file (the header is read as UTF-8: exact for ASCII names).
    const at = Buffer.byteLength(text.slice(0, Math.max(0, jsonErrorOffset(text))));
    throw bad(`header is not valid JSON at byte ${8 + at} (header bytes 8-${7 + headerLen}; ${oneLine((e as Error).message)})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) throw bad('header (from byte 8) is not a JSON object');

  const dataStart = 8 + headerLen;
  const dataLen = size - dataStart;
  const metadata: Record<string, string> = {};
  const entries: Layout['entries'] = [];
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
    if (typeof t.dtype !== 'string' || !(t.dtype in ITEM_SIZE)) throw bad(`tensor '${name}': unsupported dtype ${JSON.stringify(t.dtype)} (F32, I32)`);
    const dtype = t.dtype as SafetensorsDtype;
    const shape = t.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) throw bad(`tensor '${name}': bad shape ${JSON.stringify(shape)}`);
    const offs = t.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isInteger(o) && o >= 0) || offs[1] < offs[0]) {
      throw bad(`tensor '${name}': bad data_offsets ${JSON.stringify(offs)}`);
    }
    const [begin, end] = offs as [number, number];
    if (numel(shape) * ITEM_SIZE[dtype] !== end - begin) {
      throw bad(`tensor '${name}': shape [${shape.join(', ')}] × ${ITEM_SIZE[dtype]} bytes != ${end - begin} bytes in data_offsets [${begin}, ${end}]`);
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
