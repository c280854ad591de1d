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
import {
  decodeSafetensors, ITEM_SIZE, LITTLE_ENDIAN, numel, parseLayout, type SafetensorsDtype, type SafetensorsFile, type SafetensorsTensor,
} from './safetensors_decode.ts';

export type { SafetensorsDtype, SafetensorsFile, SafetensorsTensor } from './safetensors_decode.ts';

/** Reference sort key: descending `Dtype` enum order, in which F32 comes after I32. */
const DTYPE_ORDER: Record<SafetensorsDtype, number> = { F32: 1, I32: 0 };

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
  const fd = fs.openSync(path, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const read = (begin: number, end: number): Uint8Array => {
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
