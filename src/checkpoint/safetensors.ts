/**
 * The safetensors file format (https://github.com/huggingface/safetensors); checkpoints hold F32 and I32, the Hugging
 * Face layout (hf_export.ts) also F16 and BF16 (written from Uint16Array words):
 *   8 bytes     N, little-endian u64: the header's length in bytes
 *   N bytes     UTF-8 JSON {"__metadata__": {string: string}, "<name>": {"dtype", "shape", "data_offsets": [begin, end]}, ...}
 *               padded with spaces (0x20) so that 8 + N is a multiple of 8
 *   rest        the tensors' little-endian bytes, contiguous, offsets relative to the byte after the header
 * Written like the reference `prepare()` (safetensors/src/tensor.rs): tensors sorted by dtype (F32 before I32) then name,
 * compact JSON with `__metadata__` first, so Python's `safetensors.torch.load_file` reads it.
 */
import * as fs from 'node:fs';
import {
  decodeSafetensors, LITTLE_ENDIAN, numel, parseLayout, STORED_ITEM_SIZE, type Layout, type SafetensorsDtype, type SafetensorsFile,
  type StoredDtype, type StoredTensor,
} from './safetensors_decode.ts';

export type { Layout, SafetensorsDtype, SafetensorsFile, SafetensorsTensor, StoredDtype, StoredTensor } from './safetensors_decode.ts';

/** Reference sort key: descending `Dtype` enum order, in which F16 < BF16 < I32 < F32. */
const DTYPE_ORDER: Record<StoredDtype, number> = { F32: 3, I32: 2, BF16: 1, F16: 0 };
const ARRAY_TYPE: Record<StoredDtype, Function> = { F32: Float32Array, I32: Int32Array, F16: Uint16Array, BF16: Uint16Array };

/** The tensor's bytes in little-endian order (a view when the host is little-endian). */
function leBytes(data: StoredTensor['data']): Buffer {
  const view = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (LITTLE_ENDIAN) return view;
  return data.BYTES_PER_ELEMENT === 2 ? Buffer.from(view).swap16() : Buffer.from(view).swap32();
}

/**
 * Writes `tensors` to `path` in safetensors format and fsyncs the file.
 * `metadata` becomes `__metadata__` (omitted when undefined, as the reference does for `metadata=None`).
 */
export function writeSafetensors(path: string, tensors: Record<string, StoredTensor>, metadata?: Record<string, string>): void {
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
    if (!(dtype in STORED_ITEM_SIZE)) throw new Error(`writeSafetensors ${path}: tensor '${name}' has unsupported dtype ${dtype} (F32, I32, F16, BF16)`);
    const wantArray = ARRAY_TYPE[dtype];
    if (!(data instanceof wantArray)) throw new Error(`writeSafetensors ${path}: tensor '${name}' is ${dtype} but its data is a ${data.constructor.name}`);
    if (!shape.every((d) => Number.isInteger(d) && d >= 0) || numel(shape) !== data.length) {
      throw new Error(`writeSafetensors ${path}: tensor '${name}' has shape [${shape.join(', ')}] but ${data.length} values`);
    }
    const nbytes = data.length * STORED_ITEM_SIZE[dtype];
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

/**
 * Reads and validates a safetensors file (F32/I32 only); throws a DataError naming the file, the byte offset where it
 * went wrong and the bad tensor.
 */
export function readSafetensors(path: string): SafetensorsFile {
  return decodeSafetensors(fs.readFileSync(path), path);
}

/**
 * The checks of readSafetensors without reading the tensor data (only the header and the file's size): tensor names
 * and shapes, or a DataError. For validating a checkpoint before any work starts.
 */
export function inspectSafetensors(path: string): Record<string, { dtype: SafetensorsDtype; shape: number[] }> {
  const { entries } = readLayout<SafetensorsDtype>(path);
  return Object.fromEntries(entries.map((e) => [e.name, { dtype: e.dtype, shape: e.shape }]));
}

/**
 * The checked header of a safetensors file, read without its tensor data (a caller reads a tensor's bytes at
 * `dataStart + begin`); the dtypes allowed are the keys of `itemSize` (F32 and I32 by default).
 */
export function readLayout<D extends StoredDtype>(path: string, itemSize?: Partial<Record<D, number>>): Layout<D> {
  const fd = fs.openSync(path, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const read = (begin: number, end: number): Uint8Array => {
      const b = Buffer.alloc(Math.max(0, Math.min(end, size) - begin));
      fs.readSync(fd, b, 0, b.length, begin);
      return b;
    };
    return parseLayout<D>(path, size, read, itemSize);
  } finally {
    fs.closeSync(fd);
  }
}
