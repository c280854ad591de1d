import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { AdamW, clipGradsByGlobalNorm } from '../../src/engine/optimizer.ts';

beforeAll(async () => {
  expect(await tf.setBackend('cpu')).toBe(true);
});

const opts = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.1 };

function values(t: tf.Tensor): number[] {
  return Array.from(t.dataSync());
}

describe('AdamW', () => {
  it('matches two steps computed by hand (decay on the rank-2 weight only)', () => {
    const w = tf.variable(tf.tensor2d([[1, -2]])); // [1, 2]: decayed
    const b = tf.variable(tf.tensor1d([0.5, 3])); // [2]: not decayed (norm weights, biases)
    const opt = new AdamW({ w, b }, opts);
    const g1 = [0.5, -1];
    const g2 = [-0.2, 0.4];

    // Step 1, lr = 0.1, t = 1.
    tf.tidy(() => opt.step({ w: tf.tensor2d([g1]), b: tf.tensor1d(g1) }, 0.1));
    expect(opt.stepCount).toBe(1);
    // w ← w·(1 − 0.1·0.1) = [0.99, −1.98]; m = 0.1·g = [0.05, −0.1]; v = 0.001·g² = [0.00025, 0.001]
    // m̂ = m/0.1 = [0.5, −1]; √v̂ = √(v/0.001) = [0.5, 1]; step = 0.1·m̂/(√v̂ + 1e-8) ≈ [0.1, −0.1]
    const w1 = [0.99 - (0.1 * 0.5) / (0.5 + 1e-8), -1.98 + (0.1 * 1) / (1 + 1e-8)]; // [0.89, −1.88]
    const b1 = [0.5 - (0.1 * 0.5) / (0.5 + 1e-8), 3 + (0.1 * 1) / (1 + 1e-8)]; // [0.4, 3.1]: no decay
    values(w).forEach((x, i) => expect(x).toBeCloseTo(w1[i], 6));
    values(b).forEach((x, i) => expect(x).toBeCloseTo(b1[i], 6));
    expect(values(w)[0]).toBeCloseTo(0.89, 6);
    expect(values(b)[1]).toBeCloseTo(3.1, 6);

    // Step 2, lr = 0.05, t = 2.
    tf.tidy(() => opt.step({ w: tf.tensor2d([g2]), b: tf.tensor1d(g2) }, 0.05));
    const m = [0.9 * 0.05 + 0.1 * g2[0], 0.9 * -0.1 + 0.1 * g2[1]]; // [0.025, −0.05]
    const v = [0.999 * 0.00025 + 0.001 * g2[0] ** 2, 0.999 * 0.001 + 0.001 * g2[1] ** 2]; // [0.00028975, 0.001159]
    const bc1 = 1 - 0.9 ** 2; // 0.19
    const bc2 = 1 - 0.999 ** 2; // 0.001999
    const upd = m.map((mi, i) => ((0.05 / bc1) * mi) / (Math.sqrt(v[i]) / Math.sqrt(bc2) + 1e-8));
    const w2 = w1.map((x, i) => x * (1 - 0.05 * 0.1) - upd[i]);
    const b2 = b1.map((x, i) => x - upd[i]);
    values(w).forEach((x, i) => expect(x).toBeCloseTo(w2[i], 6));
    values(b).forEach((x, i) => expect(x).toBeCloseTo(b2[i], 6));
    expect(values(w)).toEqual([expect.closeTo(0.86826971, 6), expect.closeTo(-1.85331971, 6)]);
    expect(values(b)).toEqual([expect.closeTo(0.38271971, 6), expect.closeTo(3.11728029, 6)]);

    const state = opt.stateTensors();
    expect(Object.keys(state).sort()).toEqual(['exp_avg.b', 'exp_avg.w', 'exp_avg_sq.b', 'exp_avg_sq.w']);
    values(state['exp_avg.w']).forEach((x, i) => expect(x).toBeCloseTo(m[i], 7));
    values(state['exp_avg_sq.b']).forEach((x, i) => expect(x).toBeCloseTo(v[i], 9));
    expect((state['exp_avg.w'] as tf.Variable).trainable).toBe(false);
    opt.dispose();
    tf.dispose([w, b]);
  });

  it('does not leak: numTensors is the same after step 2 and step 20', () => {
    const params = { w: tf.variable(tf.randomNormal([4, 3], 0, 1, 'float32', 1)), n: tf.variable(tf.ones([3])) };
    const opt = new AdamW(params, opts);
    let afterStep2 = -1;
    for (let s = 1; s <= 20; s++) {
      const grads = { w: tf.fill([4, 3], 0.01 * s), n: tf.fill([3], -0.02 * s) };
      opt.step(grads, 1e-2);
      tf.dispose(Object.values(grads));
      if (s === 2) afterStep2 = tf.memory().numTensors;
    }
    expect(tf.memory().numTensors).toBe(afterStep2);
    const before = tf.memory().numTensors;
    opt.dispose();
    expect(tf.memory().numTensors).toBe(before - 4);
    tf.dispose(Object.values(params));
  });

  it('round-trips its state: a fresh optimizer given the state makes the same next update', () => {
    const init = tf.tensor2d([[0.3, -0.7, 1.1], [2, -0.1, 0.05]]);
    const a = { w: tf.variable(init.clone()) };
    const optA = new AdamW(a, opts);
    for (let s = 1; s <= 3; s++) tf.tidy(() => optA.step({ w: tf.mul(init, 0.1 * s - 0.15) }, 0.01));
    const saved = tf.tidy(() => Object.fromEntries(Object.entries(optA.stateTensors()).map(([k, t]) => [k, t.clone()])));

    const bParams = { w: tf.variable(a.w.clone()) };
    const optB = new AdamW(bParams, opts);
    optB.loadState(saved, optA.stepCount);
    tf.dispose(Object.values(saved)); // the optimizer copied what it needs
    expect(optB.stepCount).toBe(3);
    tf.tidy(() => optA.step({ w: tf.mul(init, 0.5) }, 0.01));
    tf.tidy(() => optB.step({ w: tf.mul(init, 0.5) }, 0.01));
    expect(values(bParams.w)).toEqual(values(a.w));
    expect(values(optB.stateTensors()['exp_avg_sq.w'])).toEqual(values(optA.stateTensors()['exp_avg_sq.w']));

    expect(() => optB.loadState({ 'exp_avg.w': tf.zeros([2, 3]) }, 1)).toThrow(/missing state tensor 'exp_avg_sq.w'/);
    expect(() => optB.loadState({ 'exp_avg.w': tf.zeros([3, 2]), 'exp_avg_sq.w': tf.zeros([2, 3]) }, 1)).toThrow(/'exp_avg.w' expected \[2, 3\], got \[3, 2\]/);
    expect(() => optB.step({ v: tf.zeros([1]) }, 0.1)).toThrow(/gradient 'v' has no parameter/);
    expect(() => optB.step({}, 0.1)).toThrow(/no gradient for parameter 'w'/);
    tf.dispose([init, a.w, bParams.w]);
    optA.dispose();
    optB.dispose();
  });
});

describe('clipGradsByGlobalNorm', () => {
  it('scales by maxNorm/(norm + 1e-6) only when the norm is larger', () => {
    tf.tidy(() => {
      const grads = { a: tf.tensor1d([3, 4]), b: tf.tensor2d([[12]]) }; // ‖g‖ = √(9 + 16 + 144) = 13
      const clipped = clipGradsByGlobalNorm(grads, 6.5);
      expect(clipped.norm.dataSync()[0]).toBeCloseTo(13, 5);
      const coef = 6.5 / (13 + 1e-6); // ≈ 0.5
      values(clipped.grads.a).forEach((x, i) => expect(x).toBeCloseTo([3, 4][i] * coef, 5));
      expect(values(clipped.grads.b)[0]).toBeCloseTo(12 * coef, 5);
      expect(values(clipped.grads.a)).toEqual([expect.closeTo(1.5, 5), expect.closeTo(2, 5)]);

      const loose = clipGradsByGlobalNorm(grads, 20); // 20/13 > 1: untouched
      expect(values(loose.grads.a)).toEqual([3, 4]);
      expect(values(loose.grads.b)).toEqual([12]);
      expect(loose.norm.dataSync()[0]).toBeCloseTo(13, 5);
    });
    expect(() => clipGradsByGlobalNorm({}, 1)).toThrow(/no gradients/);
  });
});
