import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../src/rng.ts';
import { pretrainMasking, sftMasking } from '../../src/diffusion/forward_process.ts';
import { weightedCrossEntropy } from '../../src/diffusion/loss.ts';

const MASK = 9;

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Replays the draws the maskers make: t per row, then one uniform per position. */
function replay(seed: number, B: number, L: number, eps: number) {
  const rng = new Rng(seed, 'mask');
  const p = Array.from({ length: B }, () => (1 - eps) * rng.random() + eps);
  const u = Array.from({ length: B * L }, () => rng.random());
  return { p, u };
}

describe('forward process', () => {
  it('pretrain: masks iid with p = (1-eps)t + eps and weights 1/(p L)', () => {
    const B = 3, L = 50, eps = 1e-3;
    const ids = Int32Array.from({ length: B * L }, (_, i) => i % 7);
    const out = pretrainMasking(ids, B, L, new Rng(5, 'mask'), { maskId: MASK, eps });
    const { p, u } = replay(5, B, L, eps);
    let masked = 0;
    for (let b = 0; b < B; b++) {
      expect(out.pMask[b]).toBeCloseTo(p[b], 6);
      for (let l = 0; l < L; l++) {
        const i = b * L + l;
        if (u[i] < p[b]) {
          masked++;
          expect(out.noisyIds[i]).toBe(MASK);
          expect(out.weights[i]).toBeCloseTo(1 / (p[b] * L), 5);
        } else {
          expect(out.noisyIds[i]).toBe(ids[i]);
          expect(out.weights[i]).toBe(0);
        }
      }
    }
    expect(out.maskedCount).toBe(masked);
  });

  it('eps bounds p from below: t = 0 still gives p = eps', () => {
    // (1 - eps) * 0 + eps = eps; with every u >= eps nothing is masked but p is never 0 (no division by zero).
    const out = pretrainMasking(new Int32Array(4), 1, 4, { random: () => 0 } as unknown as Rng, { maskId: MASK, eps: 0.25 });
    expect(out.pMask[0]).toBe(0.25);
    expect(Array.from(out.noisyIds)).toEqual([MASK, MASK, MASK, MASK]); // u = 0 < 0.25
    expect(Array.from(out.weights)).toEqual([1, 1, 1, 1]); // 1 / (0.25 * 4)
  });

  it('sft: never masks the prompt; llada weights use each row answer length', () => {
    const B = 2, L = 6;
    const ids = Int32Array.from([1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6]);
    const promptLengths = [2, 4];
    // A fake rng: t draws 0.5, 1.0 -> p = 0.5, 1.0 (eps 0); position draws all 0.1 -> everything maskable is masked.
    const draws = [0.5, 1.0, ...Array(B * L).fill(0.1)];
    const rng = { random: () => draws.shift()! } as unknown as Rng;
    const out = sftMasking(ids, promptLengths, B, L, rng, { maskId: MASK, eps: 0, normalization: 'llada' });
    expect(Array.from(out.noisyIds)).toEqual([1, 2, MASK, MASK, MASK, MASK, 1, 2, 3, 4, MASK, MASK]);
    // row 0: answer length 4, p 0.5 -> w = 1 / (0.5 * 4) = 0.5; row 1: answer length 2, p 1 -> w = 0.5
    expect(Array.from(out.weights)).toEqual([0, 0, 0.5, 0.5, 0.5, 0.5, 0, 0, 0, 0, 0.5, 0.5]);
  });

  it('sft d1 normalisation divides by the batch total of answer tokens', () => {
    const B = 2, L = 6;
    const draws = [0.5, 1.0, ...Array(B * L).fill(0.1)];
    const rng = { random: () => draws.shift()! } as unknown as Rng;
    const out = sftMasking(new Int32Array(12), [2, 4], B, L, rng, { maskId: MASK, eps: 0, normalization: 'd1' });
    // total answer tokens 4 + 2 = 6 -> norm = 6 / B = 3; row 0: 1/(0.5*3) = 2/3; row 1: 1/(1*3) = 1/3
    expect(out.weights[2]).toBeCloseTo(2 / 3, 6);
    expect(out.weights[10]).toBeCloseTo(1 / 3, 6);
    expect(out.weights[0]).toBe(0);
  });

  it('rejects a prompt that leaves no answer', () => {
    expect(() => sftMasking(new Int32Array(4), [4], 1, 4, new Rng(0), { maskId: MASK, eps: 0, normalization: 'llada' })).toThrow(
      /prompt length 4/,
    );
  });
});

describe('weightedCrossEntropy', () => {
  it('equals a hand computation on a 1x2x3 example', () => {
    // Row 0, position 0: logits [0, 0, 0] -> CE(target 1) = ln 3; position 1: logits [ln 1, ln 2, ln 1] -> p(target 1) = 1/2.
    const logits = tf.tensor3d([[[0, 0, 0], [0, Math.log(2), 0]]]);
    const targets = tf.tensor2d([[1, 1]], [1, 2], 'int32');
    const weights = tf.tensor2d([[2, 0.5]]);
    const loss = weightedCrossEntropy(logits, targets, weights).dataSync()[0];
    expect(loss).toBeCloseTo(2 * Math.log(3) + 0.5 * Math.log(2), 5); // / B = 1
  });

  it('divides by B and ignores zero-weight positions', () => {
    const logits = tf.tensor3d([[[5, 0]], [[0, 5]]]); // B = 2, L = 1, V = 2
    const targets = tf.tensor2d([[1], [0]], [2, 1], 'int32');
    const lse = Math.log(Math.exp(5) + 1);
    const both = weightedCrossEntropy(logits, targets, tf.tensor2d([[1], [1]])).dataSync()[0];
    expect(both).toBeCloseTo((2 * lse) / 2, 4); // CE = lse - 0 for each row
    const one = weightedCrossEntropy(logits, targets, tf.tensor2d([[1], [0]])).dataSync()[0];
    expect(one).toBeCloseTo(lse / 2, 4);
  });

  it('rejects mismatched shapes with a named error', () => {
    expect(() => weightedCrossEntropy(tf.zeros([1, 2, 3]) as tf.Tensor3D, tf.zeros([2, 2], 'int32') as tf.Tensor2D, tf.zeros([1, 2]) as tf.Tensor2D)).toThrow(
      'weightedCrossEntropy: targets expected [B, L] = [1, 2], got [2, 2]',
    );
  });
});
