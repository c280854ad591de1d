/**
 * GenerateOptions.record_logps (GRPO's importance-sampling correction): each generated position reports the log-prob
 * of its token under the distribution its (last) commit drew it from, log_softmax(logits/τ)[token] with the logits of
 * the call that committed it. Checked against a fake LogitsFn whose logits are recomputed here from the state each
 * step saw.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../src/rng.ts';
import { generate } from '../../src/sampling/generate.ts';
import type { GenerateOptions, StepState } from '../../src/sampling/types.ts';
import { IDS, MASK, contextLogits, logSoftmax, tinyModel, useBackend } from './helpers.ts';
import { modelDenoiser } from '../../src/model/block_cache.ts';
import { disposeParams } from '../../src/model/model.ts';

beforeAll(() => useBackend('cpu'));
const PROMPTS = [[1, 2, 3], [4, 5, 6]];
const LP = 3;

/** The logits [N][L][V] the sampler saw in state `ids` [N][L]: the fake model's, CFG-combined when w > 0. */
function seenLogits(fn: ReturnType<typeof contextLogits>, ids: number[][], cfgScale: number): number[][][] {
  return tf.tidy(() => {
    const cond = fn(tf.tensor2d(ids, undefined, 'int32'), null);
    if (cfgScale === 0) return cond.arraySync();
    const un = fn(tf.tensor2d(ids.map((r) => r.map((t, l) => (l < LP ? MASK : t))), undefined, 'int32'), null);
    return tf.add(un, tf.mul(cfgScale + 1, tf.sub(cond, un))).arraySync() as number[][][];
  });
}

/** Runs generate with record_logps and returns what it reported and what each position's last commit drew from. */
async function reportedAndExpected(opts: Omit<GenerateOptions, 'prompts' | 'rng' | 'maskId' | 'eosId' | 'padId'>, seed = 3): Promise<{ got: number[][]; want: number[][]; trace: StepState[] }> {
  const fn = contextLogits(11);
  const trace: StepState[] = [];
  const res = await generate(fn, { ...IDS, ...opts, prompts: PROMPTS, rng: new Rng(seed, 'sampling'), record_logps: true, onStep: (s) => trace.push(s) });
  const tau = opts.temperature ?? 0;
  const want = res.sequences.map((r) => r.map(() => 0));
  let prev = res.full.map((r) => r.map((t, l) => (l < LP ? t : MASK)));
  for (const s of trace) {
    const logits = seenLogits(fn, prev, opts.cfg_scale ?? 0);
    s.ids.forEach((next, n) => next.forEach((t, l) => {
      if (l < LP || prev[n][l] !== MASK || t === MASK) return; // committed by this step
      const z = logits[n][l].map((v, i) => (i === MASK ? -Infinity : v / tau));
      want[n][l - LP] = tau === 0 ? 0 : logSoftmax(z)[t];
    }));
    prev = s.ids;
  }
  expect(res.logps).toBeDefined();
  return { got: res.logps!, want, trace };
}

function expectClose(got: number[][], want: number[][]): void {
  expect(got.length).toBe(want.length);
  got.forEach((row, n) => row.forEach((v, l) => expect(v).toBeCloseTo(want[n][l], 4)));
}

describe('generate record_logps', () => {
  it('llada, τ 0.7, two blocks: log_softmax(logits/τ)[token] of the committing call', async () => {
    const { got, want } = await reportedAndExpected({ sampler: 'llada', gen_length: 6, block_length: 3, steps: 4, temperature: 0.7, num_generations: 2 });
    expect(got.flat().every((v) => v < 0)).toBe(true); // every token drawn at τ > 0
    expectClose(got, want);
  });

  it('llada with classifier-free guidance: the CFG-combined logits', async () => {
    const { got, want } = await reportedAndExpected({ sampler: 'llada', gen_length: 4, block_length: 4, steps: 2, temperature: 1.3, cfg_scale: 0.5 });
    expectClose(got, want);
  });

  it('eb, τ 1.3, γ 0.8 (several tokens per call)', async () => {
    const { got, want } = await reportedAndExpected({ sampler: 'eb', gen_length: 6, block_length: 3, temperature: 1.3, gamma: 0.8, num_generations: 2 });
    expectClose(got, want);
  });

  it('threshold, dus and prophet', async () => {
    const cases: Omit<GenerateOptions, 'prompts' | 'rng' | 'maskId' | 'eosId' | 'padId'>[] = [
      { sampler: 'threshold', gen_length: 6, block_length: 6, temperature: 0.9, threshold: 0.2 },
      { sampler: 'dus', gen_length: 8, block_length: 4, temperature: 0.9 },
      { sampler: 'prophet', gen_length: 6, block_length: 3, steps: 6, temperature: 0.9, prophet_gaps: [0.5, 0.5, 0.5] },
    ];
    for (const opts of cases) {
      const { got, want } = await reportedAndExpected(opts);
      expectClose(got, want);
    }
  });

  it('τ = 0 reports 0 (a deterministic draw); without record_logps there is no logps', async () => {
    const { got } = await reportedAndExpected({ sampler: 'llada', gen_length: 4, block_length: 4, steps: 4, temperature: 0 });
    expect(got.flat()).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    const res = await generate(contextLogits(11), { ...IDS, prompts: PROMPTS, rng: new Rng(1), sampler: 'eb', gen_length: 4, temperature: 1 });
    expect(res.logps).toBeUndefined();
  });

  it('fixed tokens report 0; the sampled ones their draw', async () => {
    const fixed = [[null, 7, null, null], [0, null, null, 8]];
    const res = await generate(contextLogits(11), { ...IDS, prompts: PROMPTS, rng: new Rng(2), sampler: 'eb', gen_length: 4, temperature: 1, fixed, record_logps: true });
    res.logps!.forEach((row, n) => row.forEach((v, l) => (fixed[n][l] === null ? expect(v).toBeLessThan(0) : expect(v).toBe(0))));
  });

  it('remdm: log p_θ of the last commit, 0 for the final argmax fill', async () => {
    const { got, want, trace } = await reportedAndExpected({ sampler: 'remdm', gen_length: 4, block_length: 4, steps: 8, temperature: 1, top_p: 1, eta: 0.3, remdm_strategy: 'cap' }, 4);
    // A call after the grid of 8 is the final fill: its tokens are argmax, so 0 (the checker's τ-1 value does not apply).
    const beforeFill = trace.length > 8 ? trace[7].ids : null;
    expect(got.flat().filter((v) => v < 0).length).toBeGreaterThan(4);
    got.forEach((row, n) => row.forEach((v, k) => {
      if (beforeFill && beforeFill[n][LP + k] === MASK) expect(v).toBe(0);
      else expect(v).toBeCloseTo(want[n][k], 4);
    }));
  });

  it('with the prefix KV cache on a 1-layer model (exact there) the windowed logits give the same logps as no cache; memory flat', async () => {
    const { cfg, params } = tinyModel(1);
    const fn = modelDenoiser(params, cfg);
    const before = tf.memory().numTensors;
    const run = (cache: 'none' | 'prefix') => generate(fn, { ...IDS, prompts: PROMPTS, rng: new Rng(9), sampler: 'threshold', gen_length: 6, block_length: 3, temperature: 1, threshold: 0.5, cache, record_logps: true });
    const a = await run('none');
    const b = await run('prefix');
    expect(b.sequences).toEqual(a.sequences);
    expect(b.positions).toBeLessThan(a.positions!);
    expectClose(b.logps!, a.logps!);
    expect(tf.memory().numTensors).toBe(before);
    disposeParams(params);
  });
});
