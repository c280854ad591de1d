import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { setupBackend } from '../../src/backend/backend.ts';
import { Rng } from '../../src/rng.ts';
import { applyRope, attention, makeRope, matMul2d, oneHotF32, rmsNorm, ropeTables, silu } from '../../src/model/ops.ts';

function randn(shape: number[], seed: number): tf.Tensor {
  const rng = new Rng(seed, 'ops-test');
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Array.from({ length: n }, () => rng.normal()), shape);
}

function maxRelErr(a: tf.Tensor, b: tf.Tensor): number {
  const x = a.dataSync();
  const y = b.dataSync();
  expect(b.shape).toEqual(a.shape);
  let num = 0;
  let den = 1e-12;
  for (let i = 0; i < x.length; i++) {
    num = Math.max(num, Math.abs(x[i] - y[i]));
    den = Math.max(den, Math.abs(x[i]));
  }
  return num / den;
}

/** Plain attention with tf's own ops (batched, transposed matmuls) and autodiff. */
function plainAttention(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, keyBias: tf.Tensor2D | null, scale: number): tf.Tensor3D {
  const [n, T] = q.shape;
  let s = tf.mul(tf.matMul(q, k, false, true), scale);
  if (keyBias) s = tf.reshape(tf.add(tf.reshape(s, [keyBias.shape[0], -1, T, T]), tf.reshape(keyBias, [keyBias.shape[0], 1, 1, T])), [n, T, T]);
  return tf.matMul(tf.softmax(s), v);
}

describe('model ops on cpu', () => {
  beforeAll(async () => {
    await setupBackend('cpu');
  });

  it('rmsNorm by hand', () => {
    const x = tf.tensor2d([[1, 2, 3, 4], [0, 0, 0, 2]]);
    const w = tf.tensor1d([1, 1, 2, 0.5]);
    const y = rmsNorm(x, w, 1e-5).arraySync();
    const r0 = 1 / Math.sqrt(30 / 4 + 1e-5); // mean(x²) = (1 + 4 + 9 + 16) / 4
    const r1 = 1 / Math.sqrt(4 / 4 + 1e-5);
    [1 * r0, 2 * r0, 6 * r0, 2 * r0].forEach((v, i) => expect(y[0][i]).toBeCloseTo(v, 6));
    [0, 0, 0, 1 * r1].forEach((v, i) => expect(y[1][i]).toBeCloseTo(v, 6));
  });

  it('rmsNorm gradients equal autodiff of the plain formula', () => {
    const x = randn([5, 6], 11);
    const w = tf.add(randn([6], 12), 1);
    const dy = randn([5, 6], 13);
    const plain = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.mul(tf.mul(a, tf.rsqrt(tf.add(tf.mean(tf.square(a), -1, true), 1e-5))), b), dy));
    const mine = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(rmsNorm(a as tf.Tensor2D, b as tf.Tensor1D, 1e-5), dy));
    const [gx, gw] = tf.grads(mine)([x, w]);
    const [rx, rw] = tf.grads(plain)([x, w]);
    expect(maxRelErr(rx, gx)).toBeLessThan(1e-5);
    expect(maxRelErr(rw, gw)).toBeLessThan(1e-5);
  });

  it('silu by hand', () => {
    const y = silu(tf.tensor1d([0, 1, -2])).dataSync();
    expect(y[0]).toBeCloseTo(0, 7);
    expect(y[1]).toBeCloseTo(1 / (1 + Math.exp(-1)), 6);
    expect(y[2]).toBeCloseTo(-2 / (1 + Math.exp(2)), 6);
  });

  it('RoPE tables and rotation by hand (NeoX half split, theta 100, head_dim 4)', () => {
    const { cos, sin } = ropeTables(3, 4, 100);
    // inv_freq = [1, 100^(-2/4)] = [1, 0.1]; row t = [f(t), f(0.1 t), f(t), f(0.1 t)]
    expect(Array.from(cos.subarray(8, 12))).toEqual([Math.cos(2), Math.cos(0.2), Math.cos(2), Math.cos(0.2)].map(Math.fround));
    expect(Array.from(sin.subarray(4, 8))).toEqual([Math.sin(1), Math.sin(0.1), Math.sin(1), Math.sin(0.1)].map(Math.fround));
    const rope = makeRope(3, 4, 100);
    const x = tf.tensor3d([[[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4]]]);
    const y = applyRope(x, rope).arraySync()[0];
    expect(y[0]).toEqual([1, 2, 3, 4]); // position 0 is not rotated
    // position 1: rotate_half(x) = [-x3, -x4, x1, x2]; pairs (x1, x3) turn by 1 rad, (x2, x4) by 0.1 rad
    const [c1, s1, c2, s2] = [Math.cos(1), Math.sin(1), Math.cos(0.1), Math.sin(0.1)];
    const want = [1 * c1 - 3 * s1, 2 * c2 - 4 * s2, 3 * c1 + 1 * s1, 4 * c2 + 2 * s2];
    want.forEach((v, i) => expect(y[1][i]).toBeCloseTo(v, 6));
    // rotations keep the norm of each pair
    expect(Math.hypot(y[2][0], y[2][2])).toBeCloseTo(Math.hypot(1, 3), 5);
  });

  it('matMul2d value and gradients equal tf.matMul autodiff (both weight-grad orientations)', () => {
    for (const [N, K, M] of [[5, 3, 7], [6, 8, 2]]) {
      const a = randn([N, K], 1);
      const b = randn([K, M], 2);
      const w = randn([N, M], 3);
      const f = (mm: (x: tf.Tensor2D, y: tf.Tensor2D) => tf.Tensor2D) => (x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(mm(x as tf.Tensor2D, y as tf.Tensor2D), w));
      const [ga, gb] = tf.grads(f(matMul2d))([a, b]);
      const [ra, rb] = tf.grads(f((x, y) => tf.matMul(x, y)))([a, b]);
      expect(maxRelErr(tf.matMul(a, b), matMul2d(a as tf.Tensor2D, b as tf.Tensor2D))).toBeLessThan(1e-6);
      expect(maxRelErr(ra, ga)).toBeLessThan(1e-6);
      expect(maxRelErr(rb, gb)).toBeLessThan(1e-6);
    }
    expect(() => matMul2d(tf.zeros([2, 3]) as tf.Tensor2D, tf.zeros([2, 3]) as tf.Tensor2D)).toThrow(/matMul2d: expected a \[N, K\] and b \[K, M\], got \[2, 3\] and \[2, 3\]/);
  });

  it('attention value and gradients equal autodiff of a plain implementation, with and without key bias', () => {
    const [B, H, T, dh] = [2, 2, 5, 4];
    const q = randn([B * H, T, dh], 4) as tf.Tensor3D;
    const k = randn([B * H, T, dh], 5) as tf.Tensor3D;
    const v = randn([B * H, T, dh], 6) as tf.Tensor3D;
    const w = randn([B * H, T, dh], 7);
    const bias = tf.tensor2d([[0, 0, 0, -1e9, -1e9], [0, 0, 0, 0, 0]]);
    for (const kb of [null, bias]) {
      const f = (att: typeof attention) => (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
        tf.sum(tf.mul(att(a as tf.Tensor3D, b as tf.Tensor3D, c as tf.Tensor3D, kb as tf.Tensor2D | null, 0.5), w));
      expect(maxRelErr(plainAttention(q, k, v, kb, 0.5), attention(q, k, v, kb, 0.5))).toBeLessThan(1e-5);
      const mine = tf.grads(f(attention))([q, k, v]);
      const ref = tf.grads(f(plainAttention))([q, k, v]);
      for (let i = 0; i < 3; i++) expect(maxRelErr(ref[i], mine[i])).toBeLessThan(1e-5);
    }
    // a padded key gets no attention weight: its value does not matter
    const v2 = v.arraySync();
    v2[0][4] = [100, 100, 100, 100];
    const o1 = attention(q, k, v, bias, 0.5).arraySync()[0];
    const o2 = attention(q, k, tf.tensor3d(v2), bias, 0.5).arraySync()[0];
    expect(o2).toEqual(o1);
  });

  it('applyRope gradient equals autodiff of slice/concat rotate_half', () => {
    const [n, T, dh] = [3, 4, 6];
    const x = randn([n, T, dh], 8);
    const w = randn([n, T, dh], 9);
    const rope = makeRope(T, dh, 10000);
    const plain = (t: tf.Tensor) => {
      const [x1, x2] = tf.split(t, 2, 2);
      return tf.add(tf.mul(t, rope.cos), tf.mul(tf.concat([tf.neg(x2), x1], 2), rope.sin));
    };
    expect(maxRelErr(plain(x), applyRope(x as tf.Tensor3D, rope))).toBeLessThan(1e-6);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(applyRope(t as tf.Tensor3D, rope), w)))(x);
    const r = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(plain(t), w)))(x);
    expect(maxRelErr(r, g)).toBeLessThan(1e-6);
  });
});

describe('model ops on wasm', () => {
  beforeAll(async () => {
    await setupBackend('wasm');
  });

  it('oneHotF32 gives real float ones (tf.oneHot(..., "float32") is broken on wasm)', () => {
    const y = oneHotF32(tf.tensor1d([2, 0], 'int32'), 3);
    expect(y.dtype).toBe('float32');
    expect(Array.from(y.dataSync())).toEqual([0, 0, 1, 1, 0, 0]);
  });
});
