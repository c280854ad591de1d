import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../src/rng.ts';
import { generate } from '../../src/sampling/generate.ts';
import { confSigma, nucleus, remdmCoefficients, remdmTimeGrid, type RemdmOptions } from '../../src/sampling/remdm.ts';
import type { RemdmStrategy, StepState } from '../../src/sampling/types.ts';
import { IDS, MASK, contextLogits, countIn, useBackend } from './helpers.ts';

beforeAll(() => useBackend('cpu'));

const base: RemdmOptions = { block_length: 8, stepsPerBlock: 8, remdm_strategy: 'cap', eta: 0.008, t_on: 0.55, t_off: 0.05, alpha_on: 0.9, top_p: 1, remdm_order: 'random' };

describe('ReMDM schedule', () => {
  it('time grid is linspace(1, 1e-5, T+1)', () => {
    const g = remdmTimeGrid(4);
    expect(g.length).toBe(5);
    expect(g[0]).toBe(1);
    expect(g[4]).toBe(1e-5);
    expect(g[2]).toBeCloseTo(1 - 2 * (1 - 1e-5) / 4, 12);
  });

  it('sigma stays within [0, sigma_max] for every strategy, eta and step; posterior weights are valid', () => {
    for (const strategy of ['cap', 'rescale', 'loop'] as RemdmStrategy[]) {
      for (const eta of [0, 0.008, 0.02, 0.5, 1, 3]) {
        for (const T of [3, 16, 100]) {
          const grid = remdmTimeGrid(T);
          for (let i = 0; i < T; i++) {
            const c = remdmCoefficients(grid[i], grid[i + 1], { ...base, remdm_strategy: strategy, eta });
            expect(c.sigma).not.toBeNull();
            expect(c.sigma!).toBeGreaterThanOrEqual(0);
            expect(c.sigma!).toBeLessThanOrEqual(c.sigmaMax + 1e-12);
            expect(c.sigmaMax).toBeLessThanOrEqual(1);
            expect(c.alphaS).toBeGreaterThanOrEqual(c.alphaT - 1e-12);
            const unmask = (c.alphaS - (1 - c.sigma!) * c.alphaT) / (1 - c.alphaT);
            const stay = (1 - c.alphaS - c.sigma! * c.alphaT) / (1 - c.alphaT);
            expect(unmask).toBeGreaterThanOrEqual(-1e-9);
            expect(stay).toBeGreaterThanOrEqual(-1e-9);
            expect(unmask + stay).toBeCloseTo(1, 9);
          }
        }
      }
    }
    // hand values, log-linear: t = 0.75 → s = 0.5: α_t = 0.25, α_s = 0.5, σ_max = min(1, 0.5/0.25) = 1
    expect(remdmCoefficients(0.75, 0.5, { ...base, remdm_strategy: 'rescale', eta: 0.3 })).toEqual({ alphaT: 0.25, alphaS: 0.5, sigmaMax: 1, sigma: 0.3 });
    // t = 0.25 → s = 0.2: σ_max = 0.2 / 0.75
    const c = remdmCoefficients(0.25, 0.2, { ...base, remdm_strategy: 'cap', eta: 0.5 });
    expect(c.sigma).toBeCloseTo(0.2 / 0.75, 12);
    // loop: inside (t_off, t_on] α is frozen at α_on and σ = η
    const l = remdmCoefficients(0.4, 0.3, { ...base, remdm_strategy: 'loop', eta: 0.02 });
    expect([l.alphaT, l.alphaS, l.sigma]).toEqual([0.9, 0.9, 0.02]);
    expect(l.sigmaMax).toBeCloseTo(0.1 / 0.9, 12);
    expect(remdmCoefficients(0.8, 0.7, { ...base, remdm_strategy: 'loop', eta: 0.02 }).sigma).toBe(0);
  });

  it('conf sigma: softmax of -psi over decoded positions times sigma_max, 0 on masked', () => {
    const psi = tf.tensor2d([[0.9, 0.5, 0, 0.2]]);
    const decoded = tf.tensor2d([[true, true, false, false]], [1, 4], 'bool');
    const s = confSigma(psi as tf.Tensor2D, decoded as tf.Tensor2D, 0.5).arraySync()[0];
    const e1 = Math.exp(-0.9);
    const e2 = Math.exp(-0.5);
    expect(s[0]).toBeCloseTo((0.5 * e1) / (e1 + e2), 6);
    expect(s[1]).toBeCloseTo((0.5 * e2) / (e1 + e2), 6);
    expect(s.slice(2)).toEqual([0, 0]);
    const none = confSigma(psi as tf.Tensor2D, tf.zeros([1, 4], 'bool') as tf.Tensor2D, 0.5).arraySync()[0];
    expect(none).toEqual([0, 0, 0, 0]);
    tf.dispose([psi, decoded]);
  });

  it('nucleus keeps the smallest prefix reaching top_p (always the top token) and renormalises', () => {
    const p = tf.tensor2d([[0.15, 0.5, 0.05, 0.3]]);
    expect((nucleus(p, 0.7) as tf.Tensor2D).arraySync()[0].map((v) => +v.toFixed(5))).toEqual([0, 0.625, 0, 0.375]);
    expect((nucleus(p, 0.81) as tf.Tensor2D).arraySync()[0].map((v) => +v.toFixed(5))).toEqual([0.15 / 0.95, 0.5 / 0.95, 0, 0.3 / 0.95].map((v) => +v.toFixed(5)));
    expect((nucleus(p, 0.01) as tf.Tensor2D).arraySync()[0]).toEqual([0, 1, 0, 0]);
    p.dispose();
  });
});

describe('remdm sampler', () => {
  const prompts = [[1, 2], [3]];

  it('MDLM posterior (sigma = 0): first step unmasks (t - s)/t of the masks; commits are then final', async () => {
    const trace: StepState[] = [];
    const res = await generate(contextLogits(1), { ...IDS, prompts: [[1]], num_generations: 150, sampler: 'remdm', gen_length: 8, steps: 4,
      remdm_strategy: 'cap', eta: 0, top_p: 1, rng: new Rng(2), onStep: (s) => trace.push(s) });
    const unmasked = trace[0].ids.reduce((a, r) => a + 8 - countIn(r, 1, 9, MASK), 0) / (150 * 8);
    expect(unmasked).toBeGreaterThan(0.25 - 0.05); // (α_s − α_t)/(1 − α_t) = (1 − 0.75)/1
    expect(unmasked).toBeLessThan(0.25 + 0.05);
    const second = trace[1].ids.reduce((a, r) => a + 8 - countIn(r, 1, 9, MASK), 0) / (150 * 8);
    expect(second).toBeGreaterThan(0.5 - 0.05); // cumulative 1 − s = 0.5
    expect(second).toBeLessThan(0.5 + 0.05);
    for (let i = 1; i < trace.length; i++) {
      trace[i].ids.forEach((r, n) => r.forEach((t, l) => { if (trace[i - 1].ids[n][l] !== MASK) expect(t).toBe(trace[i - 1].ids[n][l]); }));
    }
    res.sequences.forEach((s) => expect(s).not.toContain(MASK));
  });

  it('re-masks committed tokens (rescale eta = 1 gives sigma = sigma_max = 1 at t = 0.75 → s = 0.5)', async () => {
    const trace: StepState[] = [];
    const res = await generate(contextLogits(3), { ...IDS, prompts, num_generations: 3, sampler: 'remdm', gen_length: 8, steps: 4,
      remdm_strategy: 'rescale', eta: 1, top_p: 1, rng: new Rng(5), onStep: (s) => trace.push(s) });
    let committedAfter1 = 0;
    trace[0].ids.forEach((r, n) => r.forEach((t, l) => {
      if (l >= 2 && t !== MASK) {
        committedAfter1++;
        expect(trace[1].ids[n][l]).toBe(MASK); // σ = 1: every committed token is re-masked
      }
    }));
    expect(committedAfter1).toBeGreaterThan(0);
    res.sequences.forEach((s) => expect(s).not.toContain(MASK));
  });

  it('all strategies, semi-AR blocks and nucleus: prompt untouched, block order respected, no mask left', async () => {
    for (const seed of [1, 2, 3]) {
      for (const remdm_strategy of ['cap', 'rescale', 'conf', 'loop'] as RemdmStrategy[]) {
        const trace: StepState[] = [];
        const res = await generate(contextLogits(seed), { ...IDS, prompts, num_generations: 2, sampler: 'remdm', gen_length: 8, block_length: 4,
          steps: 12, remdm_strategy, eta: remdm_strategy === 'conf' ? undefined : 0.3, top_p: 0.9, rng: new Rng(seed), onStep: (s) => trace.push(s) });
        expect(res.nfe).toBe(trace.length);
        expect(trace.length).toBeGreaterThanOrEqual(12);
        expect(trace.length).toBeLessThanOrEqual(14); // + one noise-removal call per block at most
        for (const s of trace) {
          s.ids.forEach((row, n) => {
            expect(row.slice(0, 2)).toEqual(res.full[n].slice(0, 2));
            if (s.block === 0) expect(countIn(row, 6, 10, MASK)).toBe(4); // right of the block stays masked
          });
        }
        res.sequences.forEach((seq) => expect(seq).not.toContain(MASK));
      }
    }
  });

  it('remdm_order confidence: the posterior’s number of unmasks per row, given to the most probable greedy x0', async () => {
    const fn = contextLogits(6, 6);
    const trace: StepState[] = [];
    const opts = { ...IDS, prompts: [[1, 2, 3]], num_generations: 40, sampler: 'remdm' as const, gen_length: 8, steps: 4, remdm_strategy: 'cap' as const, eta: 0, top_p: 1e-6 };
    const res = await generate(fn, { ...opts, remdm_order: 'confidence', rng: new Rng(4), onStep: (s) => trace.push(s) });
    const random = await generate(fn, { ...opts, rng: new Rng(4) });
    let prev = res.full.map((r) => r.map((t, l) => (l < 3 ? t : MASK)));
    let unmasked = 0;
    for (const s of trace.slice(0, 4)) {
      const logits = tf.tidy(() => fn(tf.tensor2d(prev, undefined, 'int32'), null).arraySync());
      s.ids.forEach((row, n) => {
        expect(row.slice(0, 3)).toEqual([1, 2, 3]);
        const conf = (l: number) => topLogProb(logits[n][l]); // greedy x0 (top_p 1e-6): log p(x0) = its log-prob
        const fresh = row.flatMap((t, l) => (prev[n][l] === MASK && t !== MASK ? [l] : []));
        const still = row.flatMap((t, l) => (t === MASK ? [l] : []));
        for (const l of fresh) for (const m of still) expect(conf(l)).toBeGreaterThanOrEqual(conf(m) - 1e-4);
        unmasked += fresh.length;
      });
      prev = s.ids;
    }
    // the same expected number of unmasks as the random order (first step: a quarter of the masks)
    expect(Math.abs(trace[0].ids.reduce((a, r) => a + 8 - countIn(r, 3, 11, MASK), 0) / (40 * 8) - 0.25)).toBeLessThan(0.07);
    expect(unmasked).toBeGreaterThan(0);
    random.sequences.concat(res.sequences).forEach((q) => expect(q).not.toContain(MASK));
  });
});

/** The largest log-probability of softmax(z) over the non-[MASK] tokens. */
function topLogProb(z: number[]): number {
  const zs = z.filter((_, v) => v !== MASK);
  return Math.max(...zs) - Math.log(zs.reduce((a, x) => a + Math.exp(x), 0));
}
