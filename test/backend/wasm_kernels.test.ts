import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { setupBackend } from '../../src/backend/backend.ts';
import { registerWasmKernels, transposeInto } from '../../src/backend/wasm_kernels.ts';

/** Deterministic test data: values k·0.37 mod 1.9 − 0.9 (no randomness, distinct enough to catch index errors). */
function data(shape: number[], dtype: 'float32' | 'int32' = 'float32'): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = Array.from({ length: n }, (_, k) => (dtype === 'int32' ? (k * 7) % 23 : ((k * 0.37) % 1.9) - 0.9));
  return tf.tensor(v, shape, dtype);
}

/** Runs f on cpu and on wasm (with the kernel fixes) and returns both results as flat arrays plus shapes. */
async function onBoth(f: () => tf.Tensor): Promise<{ cpu: number[]; wasm: number[]; cpuShape: number[]; wasmShape: number[] }> {
  await setupBackend('cpu');
  const c = tf.tidy(f);
  const cpu = Array.from(await c.data());
  const cpuShape = c.shape;
  c.dispose();
  await setupBackend('wasm');
  const w = tf.tidy(f);
  const wasm = Array.from(await w.data());
  const wasmShape = w.shape;
  w.dispose();
  return { cpu, wasm, cpuShape, wasmShape };
}

function expectClose(a: number[], b: number[], tol = 1e-5): void {
  expect(b.length).toBe(a.length);
  for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThanOrEqual(tol * (1 + Math.abs(a[i])));
}

describe('wasm kernel fixes agree with cpu', () => {
  const sliceCases: [number[], number[], number[], 'float32' | 'int32'][] = [
    [[4, 3, 5], [1, 0, 0], [2, 3, 5], 'float32'], // contiguous
    [[4, 3, 5], [1, 1, 2], [2, 2, 3], 'float32'], // strided
    [[6, 70], [1, 3], [4, 60], 'float32'], // long rows
    [[2, 3, 4, 5], [0, 1, 0, 1], [2, 2, 4, 3], 'int32'],
    [[7], [2], [3], 'int32'],
  ];
  it.each(sliceCases)('Slice %j begin %j size %j %s', async (shape, begin, size, dtype) => {
    const r = await onBoth(() => tf.slice(data(shape, dtype), begin, size));
    expect(r.wasmShape).toEqual(size);
    expect(r.wasm).toEqual(r.cpu);
  });

  const transposeCases: [number[], number[]][] = [
    [[3, 5], [1, 0]],
    [[70, 45], [1, 0]],
    [[2, 3, 4], [0, 2, 1]],
    [[2, 3, 4], [1, 0, 2]],
    [[2, 3, 4], [2, 0, 1]],
    [[2, 3, 4], [1, 2, 0]],
    [[2, 3, 4], [2, 1, 0]],
    [[2, 1, 3, 4], [0, 2, 1, 3]],
    [[2, 3, 4, 5], [0, 2, 1, 3]],
    [[2, 3, 4, 5], [3, 1, 2, 0]],
    [[2, 3, 2, 4, 5], [2, 0, 3, 1, 4]],
  ];
  it.each(transposeCases)('Transpose %j by %j', async (shape, perm) => {
    const r = await onBoth(() => tf.transpose(data(shape), perm));
    expect(r.wasmShape).toEqual(r.cpuShape);
    expect(r.wasm).toEqual(r.cpu);
    const ri = await onBoth(() => tf.transpose(data(shape, 'int32'), perm));
    expect(ri.wasm).toEqual(ri.cpu);
  });

  const mmCases: [number[], number[], boolean, boolean][] = [
    [[4, 5], [5, 6], false, false],
    [[5, 4], [5, 6], true, false],
    [[4, 5], [6, 5], false, true],
    [[5, 4], [6, 5], true, true],
    [[3, 4, 5], [3, 5, 6], false, false],
    [[3, 5, 4], [3, 6, 5], true, true],
    [[3, 4, 5], [5, 6], false, false], // shared right operand
    [[3, 5, 4], [6, 5], true, true],
    [[4, 5], [3, 5, 6], false, false], // shared left operand
    [[2, 3, 4, 5], [2, 3, 6, 5], false, true],
    [[2, 3, 4, 1], [2, 3, 1, 6], false, false], // K = 1
    [[33, 70], [70, 40], false, false],
  ];
  it.each(mmCases)('BatchMatMul %j x %j tA=%s tB=%s', async (sa, sb, ta, tb) => {
    const r = await onBoth(() => tf.matMul(data(sa), tf.mul(data(sb), 0.5), ta, tb));
    expect(r.wasmShape).toEqual(r.cpuShape);
    expectClose(r.cpu, r.wasm);
  });

  const gatherCases: [number[], number[], number[], number, 'float32' | 'int32'][] = [
    [[6, 5], [4, 0, 4, 2], [4], 0, 'float32'],
    [[6, 5], [1, 3, 0, 2, 2, 5], [2, 3], 0, 'int32'],
    [[3, 6, 4], [5, 0], [2], 1, 'float32'],
    [[3, 6], [2, 2, 1], [3], 1, 'float32'],
  ];
  it.each(gatherCases)('GatherV2 %j indices %j (shape %j) axis %i %s', async (shape, idx, idxShape, axis, dtype) => {
    const r = await onBoth(() => tf.gather(data(shape, dtype), tf.tensor(idx, idxShape, 'int32'), axis));
    expect(r.wasmShape).toEqual(r.cpuShape);
    expect(r.wasm).toEqual(r.cpu);
  });

  it('Cast: same dtype shares, other dtypes convert', async () => {
    const f = await onBoth(() => tf.cast(data([2, 3]), 'float32'));
    expect(f.wasm).toEqual(f.cpu);
    const i = await onBoth(() => tf.cast(tf.tensor1d([1.7, -2.2, 0]), 'int32'));
    expect(i.wasm).toEqual([1, -2, 0]);
    const b = await onBoth(() => tf.cast(tf.tensor1d([3, 0, -1], 'int32'), 'bool')); // shipped wasm: [3, 0, 255]
    expect(b.cpu).toEqual([1, 0, 1]);
    expect(b.wasm).toEqual(b.cpu);
    const fb = await onBoth(() => tf.cast(tf.tensor1d([0.5, 0, -2]), 'bool'));
    expect(fb.wasm).toEqual([1, 0, 1]);
  });

  it('UnsortedSegmentSum and the gradient of tf.gather', async () => {
    const r = await onBoth(() => tf.unsortedSegmentSum(data([5, 3]), tf.tensor1d([2, 0, 2, 7, -1], 'int32'), 4));
    expect(r.wasm).toEqual(r.cpu);
    // hand check: rows 0 and 2 go to segment 2, row 1 to 0, ids 7 and -1 are dropped
    const x = [...Array(15).keys()].map((k) => ((k * 0.37) % 1.9) - 0.9);
    expect(r.wasm[6]).toBeCloseTo(x[0] + x[6], 5);
    const g = await onBoth(() => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, tf.tensor1d([1, 3, 1, 0], 'int32')), data([4, 2]))))(data([5, 2])));
    expectClose(g.cpu, g.wasm);
  });

  it('Identity (clone) shares the buffer and survives disposing the original', async () => {
    await setupBackend('wasm');
    const x = data([3, 4]);
    const y = tf.clone(x);
    const want = Array.from(await x.data());
    x.dispose();
    expect(Array.from(await y.data())).toEqual(want);
    y.dispose();
  });

  it('registers idempotently and leaks no backend buffers', async () => {
    await setupBackend('wasm');
    const before = tf.getKernel('BatchMatMul', 'wasm')!.kernelFunc;
    registerWasmKernels();
    registerWasmKernels();
    expect(tf.getKernel('BatchMatMul', 'wasm')!.kernelFunc).toBe(before);
    const a = data([4, 6, 5]);
    const b = data([4, 7, 5]);
    const backend = tf.backend() as unknown as { numDataIds(): number };
    const ids = backend.numDataIds();
    const tensors = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) tf.tidy(() => tf.matMul(a, b, false, true).dataSync());
    expect(backend.numDataIds()).toBe(ids);
    expect(tf.memory().numTensors).toBe(tensors);
    tf.dispose([a, b]);
  });

  it('transposeInto handles a 1-element and a rank-1 input', () => {
    const dst = new Float32Array(3);
    transposeInto(new Float32Array([1, 2, 3]), dst, [3, 1], [1, 0]);
    expect(Array.from(dst)).toEqual([1, 2, 3]);
  });
});
