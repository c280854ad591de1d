import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../src/rng.ts';
import { gumbelNoise, sampleTokens } from '../../src/sampling/gumbel.ts';
import { useBackend } from './helpers.ts';

beforeAll(() => useBackend('cpu'));

function softmax(z: number[]): number[] {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

describe('Gumbel-max sampling', () => {
  it('sample frequencies match softmax(logits / tau) (chi-square, fixed seed)', () => {
    const logits = [1.0, 0.5, -0.3, 2.0, -1.5];
    const M = 20000;
    for (const tau of [0.7, 1.0, 2.5]) {
      const ids = tf.tidy(() => sampleTokens(tf.tile(tf.tensor2d([logits]), [M, 1]), tau, new Rng(7, `chi-${tau}`)));
      const counts = new Array(logits.length).fill(0);
      for (const v of ids.dataSync()) counts[v]++;
      ids.dispose();
      const p = softmax(logits.map((z) => z / tau));
      const chi2 = counts.reduce((acc, c, i) => acc + (c - M * p[i]) ** 2 / (M * p[i]), 0);
      expect(chi2).toBeLessThan(18.47); // 4 dof, p = 0.001
    }
  });

  it('temperature 0 is greedy argmax and draws nothing', () => {
    const rng = new Rng(1, 's');
    const before = rng.getState();
    const ids = tf.tidy(() => sampleTokens(tf.tensor2d([[0.1, 3, 2], [5, -1, 4.9]]), 0, rng));
    expect(Array.from(ids.dataSync())).toEqual([1, 0]);
    expect(rng.getState()).toEqual(before);
    ids.dispose();
  });

  it('stays finite for huge logits (no exp of logits) and picks the dominant token', () => {
    const ids = tf.tidy(() => sampleTokens(tf.tile(tf.tensor2d([[900, 1000, -1e4, 0]]), [500, 1]), 1, new Rng(3, 's')));
    expect(new Set(ids.dataSync())).toEqual(new Set([1]));
    ids.dispose();
    const g = gumbelNoise([10000], 5);
    const v = g.dataSync();
    expect(v.every((x) => Number.isFinite(x))).toBe(true);
    const mean = Array.from(v).reduce((a, b) => a + b, 0) / v.length;
    expect(mean).toBeCloseTo(0.5772, 1); // Euler–Mascheroni: mean of a standard Gumbel
    g.dispose();
  });

  it('is reproducible from the Rng state', () => {
    const logits = tf.randomNormal([4, 6, 8], 0, 1, 'float32', 11);
    const a = tf.tidy(() => sampleTokens(logits, 0.9, new Rng(42, 'x')));
    const b = tf.tidy(() => sampleTokens(logits, 0.9, new Rng(42, 'x')));
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    tf.dispose([logits, a, b]);
  });
});
