/** EB-sampler and Prophet early commit (src/sampling/eb.ts, prophet.ts): their bounds, checked step by step. */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../src/rng.ts';
import { entropyBoundSelect } from '../../src/sampling/eb.ts';
import { generate } from '../../src/sampling/generate.ts';
import type { GenerateOptions, StepState } from '../../src/sampling/types.ts';
import { IDS, MASK, contextLogits, logSoftmax, useBackend } from './helpers.ts';

beforeAll(() => useBackend('cpu'));
const INF = Infinity;
const PROMPT_LEN = 3;

/** The logits a step saw: the deterministic contextLogits of the state before it (no padding in these prompts). */
function stepLogits(fn: ReturnType<typeof contextLogits>, ids: number[][]): number[][][] {
  return tf.tidy(() => fn(tf.tensor2d(ids, undefined, 'int32'), null).arraySync());
}

/** Entropy and top-2 log-prob gap of softmax(z) without [MASK] (banned by the samplers). */
function stats(z: number[]): { H: number; gap: number } {
  const lp = logSoftmax(z.map((v, i) => (i === MASK ? -INF : v)));
  const H = -lp.reduce((a, l) => a + (l === -INF ? 0 : Math.exp(l) * l), 0);
  const top = [...lp].sort((a, b) => b - a);
  return { H, gap: top[0] - top[1] };
}

/** One row of one step: the row before and after, the block's masked columns before it, and the logits it saw. */
interface RowStep {
  prev: number[];
  next: number[];
  cand: number[];
  logits: number[][];
}

/** Runs `opts`, checks that no step touched a prompt token, and returns every (step, row) and the final rows. */
async function rowSteps(fn: ReturnType<typeof contextLogits>, opts: GenerateOptions): Promise<{ rows: RowStep[]; full: number[][] }> {
  const trace: StepState[] = [];
  const res = await generate(fn, { ...opts, onStep: (s) => trace.push(s) });
  const B = opts.block_length ?? opts.gen_length;
  let prev = res.full.map((r) => r.map((t, l) => (l < PROMPT_LEN ? t : MASK)));
  const rows: RowStep[] = [];
  for (const s of trace) {
    const start = PROMPT_LEN + s.block * B;
    const logits = stepLogits(fn, prev);
    s.ids.forEach((next, n) => {
      expect(next.slice(0, PROMPT_LEN)).toEqual(res.full[n].slice(0, PROMPT_LEN));
      const cand: number[] = [];
      for (let l = start; l < start + B; l++) if (prev[n][l] === MASK) cand.push(l);
      rows.push({ prev: prev[n], next, cand, logits: logits[n] });
    });
    prev = s.ids;
  }
  res.full.forEach((r) => expect(r).not.toContain(MASK));
  return { rows, full: res.full };
}

describe('entropyBoundSelect', () => {
  it('takes the largest low-entropy prefix with Σ H − max H ≤ γ, at least one, never +inf', () => {
    // sorted H = 0.01, 0.05, 0.3, 2 → Σ_{j<k} = 0, 0.01, 0.06, 0.36
    const H = tf.tensor2d([[0.3, 0.01, INF, 2, 0.05], [5, INF, INF, INF, INF], [INF, INF, INF, INF, INF]]);
    const pick = (g: number) => tf.tidy(() => entropyBoundSelect(H as tf.Tensor2D, g, 5).arraySync());
    expect(pick(0)[0]).toEqual([0, 1, 0, 0, 0]);
    expect(pick(0.05)[0]).toEqual([0, 1, 0, 0, 1]);
    expect(pick(0.1)[0]).toEqual([1, 1, 0, 0, 1]);
    expect(pick(1)).toEqual([[1, 1, 0, 1, 1], [1, 0, 0, 0, 0], [0, 0, 0, 0, 0]]);
    H.dispose();
  });
});

describe('eb sampler', () => {
  it('each step commits a set obeying the entropy bound, the lowest-entropy candidates, maximal; prompt untouched', async () => {
    for (const [seed, gamma] of [[1, 0.1], [2, 0.5], [3, 2]] as const) {
      const fn = contextLogits(seed, 6);
      const { rows } = await rowSteps(fn, { ...IDS, prompts: [[1, 2, 3], [4, 5, 6]], sampler: 'eb', gen_length: 8, block_length: 4, gamma, rng: new Rng(seed) });
      for (const { prev, next, cand, logits } of rows) {
        if (cand.length === 0) {
          expect(next).toEqual(prev);
          continue;
        }
        const H = new Map(cand.map((l) => [l, stats(logits[l]).H]));
        const chosen = cand.filter((l) => next[l] !== MASK);
        const rest = cand.filter((l) => next[l] === MASK);
        expect(chosen.length).toBeGreaterThanOrEqual(1);
        const hs = chosen.map((l) => H.get(l)!);
        const sum = hs.reduce((a, b) => a + b, 0);
        expect(sum - Math.max(...hs)).toBeLessThanOrEqual(gamma + 1e-4); // the bound
        for (const r of rest) expect(H.get(r)!).toBeGreaterThanOrEqual(Math.max(...hs) - 1e-5); // lowest entropy first
        if (rest.length > 0) expect(sum).toBeGreaterThan(gamma - 1e-4); // maximal: adding the next one (its H ≥ max) would leave Σ − max = sum ≤ γ
      }
    }
  });

  it('γ = 0 with distinct entropies is one token per step; a huge γ one call per block', async () => {
    const base = { ...IDS, prompts: [[1, 2, 3]], sampler: 'eb' as const, gen_length: 8, block_length: 4, rng: new Rng(1) };
    expect((await generate(contextLogits(4), { ...base, gamma: 0 })).nfe).toBe(8);
    expect((await generate(contextLogits(4), { ...base, gamma: 1e9 })).nfe).toBe(2);
  });
});

describe('prophet sampler', () => {
  it('per row and step: exactly the planned k, or every masked position of the block when the mean top-2 gap clears τ(progress)', async () => {
    const gaps: [number, number, number] = [3, 2, 1];
    let allIns = 0;
    for (const seed of [1, 2, 3]) {
      const fn = contextLogits(seed, 8);
      const B = 4;
      const { rows } = await rowSteps(fn, { ...IDS, prompts: [[1, 2, 3], [4, 5, 6], [7, 8, 1]], sampler: 'prophet', gen_length: 8, block_length: B, steps: 8, prophet_gaps: gaps, rng: new Rng(seed) });
      for (const { next, cand, logits } of rows) {
        const committed = cand.filter((l) => next[l] !== MASK).length;
        if (cand.length === 0) {
          expect(committed).toBe(0);
          continue;
        }
        const meanGap = cand.reduce((a, l) => a + stats(logits[l]).gap, 0) / cand.length;
        const progress = 1 - cand.length / B;
        const tau = progress < 1 / 3 ? gaps[0] : progress < 2 / 3 ? gaps[1] : gaps[2];
        if (meanGap >= tau + 1e-4) {
          expect(committed).toBe(cand.length);
          allIns++;
        } else if (meanGap < tau - 1e-4) {
          expect(committed).toBe(1); // 4 masks over 4 steps per block: one planned per step
        }
      }
    }
    expect(allIns).toBeGreaterThan(0); // the rule fired somewhere
  });

  it('unreachable gaps give LLaDA exactly; zero gaps one call per block', async () => {
    const base = { ...IDS, prompts: [[1, 2, 3], [4, 5]], num_generations: 2, gen_length: 8, block_length: 4, steps: 8, temperature: 0.7 };
    const llada = await generate(contextLogits(5), { ...base, sampler: 'llada', rng: new Rng(3) });
    const never = await generate(contextLogits(5), { ...base, sampler: 'prophet', prophet_gaps: [1e9, 1e9, 1e9], rng: new Rng(3) });
    expect(never.full).toEqual(llada.full);
    expect(never.nfe).toBe(llada.nfe);
    const always = await generate(contextLogits(5), { ...base, sampler: 'prophet', prophet_gaps: [0, 0, 0], rng: new Rng(3) });
    expect(always.nfe).toBe(2);
    always.sequences.forEach((s) => expect(s).not.toContain(MASK));
  });

  it('rejects bad gamma and prophet_gaps', async () => {
    const base: GenerateOptions = { ...IDS, prompts: [[1]], sampler: 'eb', gen_length: 4, rng: new Rng(1) };
    await expect(generate(contextLogits(1), { ...base, gamma: -1 })).rejects.toThrow(/gamma \(-1\) must be >= 0/);
    await expect(generate(contextLogits(1), { ...base, sampler: 'prophet', prophet_gaps: [1, 2] as unknown as [number, number, number] })).rejects.toThrow(/prophet_gaps/);
  });
});
