import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readSafetensors, writeSafetensors } from '../../src/checkpoint/safetensors.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'safetensors-test-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function bits(a: Float32Array | Int32Array): number[] {
  return Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
}

/** A file from raw parts: u64 LE header length, header bytes, data bytes. */
function rawFile(name: string, header: string, data: number[]): string {
  const h = Buffer.from(header, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  const file = path.join(tmp, name);
  fs.writeFileSync(file, Buffer.concat([len, h, Buffer.from(data)]));
  return file;
}

describe('writeSafetensors', () => {
  it('writes the exact bytes of a hand-built file', () => {
    const file = path.join(tmp, 'tiny.safetensors');
    writeSafetensors(
      file,
      { ids: { dtype: 'I32', shape: [1, 1], data: Int32Array.of(7) }, w: { dtype: 'F32', shape: [2], data: Float32Array.of(1, -2) } },
      { format: 'pt' },
    );
    // The reference sorts by dtype (F32 first), then name; __metadata__ leads; compact JSON.
    const json = '{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"ids":{"dtype":"I32","shape":[1,1],"data_offsets":[8,12]}}';
    expect(json.length).toBe(143); // 143 -> padded to 144 = 18·8 with 1 space
    const expected = Buffer.concat([
      Buffer.from([144, 0, 0, 0, 0, 0, 0, 0]), // N = 144, little-endian u64
      Buffer.from(json + ' ', 'utf8'),
      Buffer.from([0x00, 0x00, 0x80, 0x3f]), // 1.0f  = 0x3F800000
      Buffer.from([0x00, 0x00, 0x00, 0xc0]), // -2.0f = 0xC0000000
      Buffer.from([0x07, 0x00, 0x00, 0x00]), // int32 7
    ]);
    const got = fs.readFileSync(file);
    expect((8 + 144) % 8).toBe(0);
    expect(got.length).toBe(8 + 144 + 12);
    expect(got.equals(expected)).toBe(true);
  });

  it('omits __metadata__ when none is given and pads with spaces', () => {
    const file = path.join(tmp, 'nometa.safetensors');
    writeSafetensors(file, { x: { dtype: 'F32', shape: [], data: Float32Array.of(0.5) } });
    const got = fs.readFileSync(file);
    const n = Number(got.readBigUInt64LE(0));
    expect(n % 8).toBe(0);
    expect(got.subarray(8, 8 + n).toString('utf8').trimEnd()).toBe('{"x":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}');
    expect(got.subarray(8, 8 + n).toString('utf8')).toMatch(/^\{.*\} *$/);
  });

  it('rejects a data/shape mismatch naming the tensor', () => {
    expect(() => writeSafetensors(path.join(tmp, 'bad.safetensors'), { q: { dtype: 'F32', shape: [3], data: new Float32Array(2) } })).toThrow(/'q'.*\[3\].*2 values/);
  });
});

describe('readSafetensors', () => {
  it('round-trips values bit for bit (NaN, -0, ±Inf, subnormals, empty, scalar)', () => {
    const file = path.join(tmp, 'rt.safetensors');
    const f = Float32Array.of(NaN, -0, Infinity, -Infinity, 1e-45, 3.4028234e38, Math.PI, -1.5);
    const tensors = {
      'model.a': { dtype: 'F32' as const, shape: [2, 4], data: f },
      'model.b': { dtype: 'I32' as const, shape: [3], data: Int32Array.of(-2147483648, 0, 2147483647) },
      empty: { dtype: 'F32' as const, shape: [0, 5], data: new Float32Array(0) },
      scalar: { dtype: 'I32' as const, shape: [], data: Int32Array.of(42) },
    };
    writeSafetensors(file, tensors, { step: '12', note: 'ünïcode' });
    const got = readSafetensors(file);
    expect(got.metadata).toEqual({ step: '12', note: 'ünïcode' });
    expect(Object.keys(got.tensors).sort()).toEqual(['empty', 'model.a', 'model.b', 'scalar']);
    for (const [name, t] of Object.entries(tensors)) {
      expect(got.tensors[name].dtype).toBe(t.dtype);
      expect(got.tensors[name].shape).toEqual(t.shape);
      expect(got.tensors[name].data).toBeInstanceOf(t.dtype === 'F32' ? Float32Array : Int32Array);
      expect(bits(got.tensors[name].data)).toEqual(bits(t.data));
    }
  });

  it("reads the reference crate's documented example (unpadded header, I32 [2,2] zeros)", () => {
    const file = rawFile('ref.safetensors', '{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}', new Array(16).fill(0));
    const got = readSafetensors(file);
    expect(got.metadata).toEqual({});
    expect(got.tensors.test.shape).toEqual([2, 2]);
    expect(Array.from(got.tensors.test.data)).toEqual([0, 0, 0, 0]);
  });

  it('gives clear errors naming the file and tensor for corrupt files', () => {
    const good = path.join(tmp, 'good.safetensors');
    writeSafetensors(good, { w: { dtype: 'F32', shape: [2], data: Float32Array.of(1, 2) }, ids: { dtype: 'I32', shape: [1], data: Int32Array.of(3) } });
    const bytes = fs.readFileSync(good);

    const truncated = path.join(tmp, 'truncated.safetensors');
    fs.writeFileSync(truncated, bytes.subarray(0, bytes.length - 3));
    expect(() => readSafetensors(truncated)).toThrow(/truncated\.safetensors: tensor 'ids'.*run past/);

    const tiny = path.join(tmp, 'tiny5.safetensors');
    fs.writeFileSync(tiny, bytes.subarray(0, 5));
    expect(() => readSafetensors(tiny)).toThrow(/tiny5\.safetensors: file is 5 bytes/);

    const cutHeader = path.join(tmp, 'cutheader.safetensors');
    fs.writeFileSync(cutHeader, bytes.subarray(0, 20));
    expect(() => readSafetensors(cutHeader)).toThrow(/cutheader\.safetensors: header length \d+ runs past the end of the 20-byte file/);

    const trailing = path.join(tmp, 'trailing.safetensors');
    fs.writeFileSync(trailing, Buffer.concat([bytes, Buffer.from([1, 2, 3, 4])]));
    expect(() => readSafetensors(trailing)).toThrow(/trailing\.safetensors: tensors cover 12 bytes but the data buffer holds 16/);

    const huge = Buffer.from(bytes);
    huge.writeBigUInt64LE(1n << 40n, 0);
    fs.writeFileSync(path.join(tmp, 'huge.safetensors'), huge);
    expect(() => readSafetensors(path.join(tmp, 'huge.safetensors'))).toThrow(/huge\.safetensors: header length 1099511627776 exceeds/);

    expect(() => readSafetensors(rawFile('json.safetensors', '{"w":{"dtype":', []))).toThrow(/json\.safetensors: header is not valid JSON/);
    expect(() => readSafetensors(rawFile('dtype.safetensors', '{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}', [0, 0, 0, 0]))).toThrow(
      /dtype\.safetensors: tensor 'h': unsupported dtype "F16"/,
    );
    expect(() => readSafetensors(rawFile('shape.safetensors', '{"s":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', new Array(8).fill(0)))).toThrow(
      /shape\.safetensors: tensor 's': shape \[3\] × 4 bytes != 8 bytes/,
    );
    const gap = '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}';
    expect(() => readSafetensors(rawFile('gap.safetensors', gap, new Array(12).fill(0)))).toThrow(/gap\.safetensors: tensor 'b'.*not contiguous/);
    const overlap = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}';
    expect(() => readSafetensors(rawFile('overlap.safetensors', overlap, new Array(8).fill(0)))).toThrow(/overlap\.safetensors: tensor 'b'.*not contiguous/);
    expect(() => readSafetensors(rawFile('meta.safetensors', '{"__metadata__":{"k":1}}', []))).toThrow(/meta\.safetensors: __metadata__\.k is not a string/);
  });
});
