import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../src/rng.ts';
import { callTail, mcLogLikelihood, stratifiedMaskCounts } from '../../src/sampling/likelihood.ts';
import { modelDenoiser } from '../../src/model/block_cache.ts';
import { disposeParams } from '../../src/model/model.ts';
import type { LogitsFn } from '../../src/sampling/types.ts';
import { MASK, V, logSoftmax, maskAwareTable, tableLogits, tinyModel, useBackend } from './helpers.ts';

beforeAll(() => useBackend('cpu'));

describe('stratified mask counts', () => {
  it('round(linspace(k, k + (b-1)L/b)) wrapped into [1, L], round half to even', () => {
    // linspace(7, 14.5, 4) = 7, 9.5, 12, 14.5 → 7, 10, 12, 14 → wrapped 7, 10, 2, 4
    expect(stratifiedMaskCounts(10, 4, 7)).toEqual([7, 10, 2, 4]);
    expect(stratifiedMaskCounts(8, 4, 1)).toEqual([1, 3, 5, 7]);
    expect(stratifiedMaskCounts(5, 1, 3)).toEqual([3]);
    for (let k = 1; k <= 6; k++) stratifiedMaskCounts(6, 16, k).forEach((l) => expect(l >= 1 && l <= 6).toBe(true));
  });
});

describe('mcLogLikelihood', () => {
  it('masks exactly l_j answer positions per row, never the prompt', async () => {
    const prompt = [1, 2, 3];
    const answer = [4, 5, 6, 7, 8];
    const seen: number[][] = [];
    const { fn } = maskAwareTable(8, 1);
    const spy: LogitsFn = (ids, am) => {
      expect(am).toBeNull();
      const x = ids.arraySync();
      x.forEach((r) => expect(r.slice(0, 3)).toEqual(prompt));
      x.forEach((r) => r.slice(3).forEach((t, i) => expect(t === MASK || t === answer[i]).toBe(true)));
      seen.push(x.map((r) => r.slice(3).filter((t) => t === MASK).length));
      return fn(ids, am);
    };
    await mcLogLikelihood(spy, prompt, answer, { maskId: MASK, rng: new Rng(1), mc_num: 12, batch_size: 4 });
    expect(seen.length).toBe(3);
    for (const counts of seen) {
      const match = [1, 2, 3, 4, 5].some((k) => JSON.stringify(stratifiedMaskCounts(5, 4, k)) === JSON.stringify(counts));
      expect(match).toBe(true);
    }
  });

  it('is exact (= L·log p) when every answer token has the same log-prob; per-token parts sum to the total', async () => {
    const row = Array.from({ length: V }, (_, v) => 0.3 * v - 1);
    const fn: LogitsFn = (ids) => tf.tile(tf.tensor3d(row, [1, 1, V]), [ids.shape[0], ids.shape[1], 1]) as tf.Tensor3D;
    const res = await mcLogLikelihood(fn, [1, 2], [5, 5, 5, 5], { maskId: MASK, rng: new Rng(2), mc_num: 8, batch_size: 4 });
    const lp = logSoftmax(row)[5];
    expect(res.logLikelihood).toBeCloseTo(4 * lp, 4);
    expect(res.perToken.reduce((a, b) => a + b, 0)).toBeCloseTo(res.logLikelihood, 6);
  });

  it('is unbiased: converges to sum_i log p(a_i) for an id-independent table', async () => {
    const L = 5;
    const { fn, table } = tableLogits(2 + L, 4);
    const answer = [0, 3, 1, 7, 2];
    const exact = answer.reduce((a, t, i) => a + logSoftmax(table[2 + i])[t], 0);
    const res = await mcLogLikelihood(fn, [1, 2], answer, { maskId: MASK, rng: new Rng(3), mc_num: 640, batch_size: 64 });
    expect(Math.abs(res.logLikelihood - exact)).toBeLessThan(0.05 * Math.abs(exact));
  });

  it('CFG combines un + (w+1)(cond - un) with the prompt fully masked in the unconditional copy', async () => {
    const c = Array.from({ length: V }, (_, v) => v / 5);
    const u = Array.from({ length: V }, (_, v) => -v / 7);
    const fn: LogitsFn = (ids) => {
      const x = ids.arraySync();
      return tf.tensor3d(x.flatMap((r) => r.flatMap(() => (r[0] === MASK ? u : c))), [x.length, x[0].length, V]);
    };
    const res = await mcLogLikelihood(fn, [1, 2], [3, 3, 3], { maskId: MASK, rng: new Rng(1), mc_num: 4, batch_size: 2, cfg_scale: 1 });
    const comb = c.map((cv, v) => u[v] + 2 * (cv - u[v]));
    expect(res.logLikelihood).toBeCloseTo(3 * logSoftmax(comb)[3], 4);
  });

  it('rejects mc_num not divisible by batch_size', async () => {
    await expect(mcLogLikelihood(tableLogits(4, 1).fn, [1], [2, 3, 4], { maskId: MASK, rng: new Rng(1), mc_num: 10, batch_size: 4 }))
      .rejects.toThrow(/mc_num \(10\) must be a positive multiple of batch_size \(4\)/);
  });
});

describe('callTail', () => {
  it('the last Lg columns’ logits: through the model’s column pass, the same numbers as a slice of the whole row', () => {
    const { cfg, params } = tinyModel(2, 4);
    const model = modelDenoiser(params, cfg);
    const ids = tf.tensor2d([[10, 1, 2, MASK, MASK, 3], [4, 5, 6, MASK, 7, MASK]], undefined, 'int32');
    const am = tf.tensor2d([[0, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]]);
    const before = tf.memory().numTensors;
    let narrowed = 0;
    const spy: LogitsFn = Object.assign((x: tf.Tensor2D, m: tf.Tensor2D | null) => model(x, m), {
      cols: (x: tf.Tensor2D, m: tf.Tensor2D | null, s: number, e: number) => (narrowed++, model.cols!(x, m, s, e)),
    });
    const [viaCols, viaWhole, all] = tf.tidy(() => [callTail(spy, ids, am, 3), callTail((x, m) => model(x, m), ids, am, 3), callTail(spy, ids, am, 6)].map((t) => t.arraySync()));
    expect(narrowed).toBe(1); // Lg = L asks for the whole row
    expect([viaCols.length, viaCols[0].length, viaCols[0][0].length]).toEqual([2, 3, V]);
    viaCols.flat(2).forEach((x, i) => expect(x).toBeCloseTo(viaWhole.flat(2)[i], 4));
    expect(all[0].slice(3).flat()).toEqual(viaWhole[0].flat());
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([ids, am]);
    disposeParams(params);
  });
});
