/**
 * The samplers' model-call plumbing (sampling/decode_state.ts): the block KV cache (cache: prefix | dual), finished
 * rows left out of the model call, eos_fill, and the positions count.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modelDenoiser } from '../../src/model/block_cache.ts';
import { disposeParams, type Params } from '../../src/model/model.ts';
import type { ModelConfig } from '../../src/model/config.ts';
import { Rng } from '../../src/rng.ts';
import { generate } from '../../src/sampling/generate.ts';
import type { GenerateOptions, LogitsFn, SamplerName, StepState } from '../../src/sampling/types.ts';
import { EOS, IDS, MASK, contextLogits, tinyModel, useBackend } from './helpers.ts';

const ADAPTIVE: { sampler: SamplerName; extra: Partial<GenerateOptions> }[] = [
  { sampler: 'llada', extra: {} },
  { sampler: 'threshold', extra: { threshold: 0.6 } },
  { sampler: 'eb', extra: { gamma: 0.5 } },
  { sampler: 'prophet', extra: { prophet_gaps: [4, 3, 2] } },
];

describe('block KV cache in generate', () => {
  let one: { cfg: ModelConfig; params: Params };
  let two: { cfg: ModelConfig; params: Params };
  beforeAll(async () => {
    await useBackend('cpu');
    one = tinyModel(1, 5);
    two = tinyModel(2, 5);
  });
  afterAll(() => {
    disposeParams(one.params);
    disposeParams(two.params);
  });
  const base = { ...IDS, prompts: [[1, 2, 3], [4, 5]], num_generations: 2, gen_length: 8 };

  it('1-layer model: prefix and dual give the uncached samples exactly (one block and two), on fewer positions', async () => {
    const fn = modelDenoiser(one.params, one.cfg);
    for (const { sampler, extra } of ADAPTIVE) {
      for (const block_length of [8, 4]) {
        const opts = { ...base, ...extra, sampler, block_length, temperature: 0.5 };
        const none = await generate(fn, { ...opts, rng: new Rng(2) });
        for (const cache of ['prefix', 'dual'] as const) {
          const cached = await generate(fn, { ...opts, cache, rng: new Rng(2) });
          expect(cached.full, `${sampler} block ${block_length} ${cache}`).toEqual(none.full);
          expect(cached.nfe).toBe(none.nfe);
          const blocks = 8 / block_length;
          if (none.nfe > blocks) expect(cached.positions).toBeLessThan(none.positions!); // some call was not a block's first
        }
      }
    }
  });

  it('deeper model: exact when every block takes one call (the refresh is the only pass); otherwise approximate but complete', async () => {
    const fn = modelDenoiser(two.params, two.cfg);
    for (const cache of ['prefix', 'dual'] as const) {
      const opts = { ...base, sampler: 'llada' as const, block_length: 4, steps: 2 };
      expect((await generate(fn, { ...opts, cache, rng: new Rng(1) })).full).toEqual((await generate(fn, { ...opts, rng: new Rng(1) })).full);
      const res = await generate(fn, { ...base, sampler: 'llada', block_length: 8, steps: 8, cache, rng: new Rng(1) });
      res.sequences.forEach((s) => expect(s).not.toContain(MASK));
      expect(res.full.map((r) => r.slice(1, 3))).toEqual([[1, 2], [1, 2], [4, 5], [4, 5]].map((p, i) => (i < 2 ? [2, 3] : p)));
      // one block of 8 after a 3-token prompt: one full pass (11 columns) then 7 passes over the 8 generated columns
      expect(res.positions).toBe(4 * (11 + 7 * 8));
    }
  });

  it('without a cache the model computes the last block on the current block’s columns only: the same samples as whole rows', async () => {
    const model = modelDenoiser(two.params, two.cfg);
    let narrowed = 0;
    const fn: LogitsFn = Object.assign((ids: tf.Tensor2D, am: tf.Tensor2D | null) => model(ids, am), {
      cols: (ids: tf.Tensor2D, am: tf.Tensor2D | null, start: number, end: number) => (narrowed++, model.cols!(ids, am, start, end)),
    });
    const whole: LogitsFn = (ids, am) => model(ids, am); // the same model without the column-restricted pass
    const samplers = [...ADAPTIVE, { sampler: 'dus' as const, extra: {} }, { sampler: 'remdm' as const, extra: { steps: 16 } }];
    for (const { sampler, extra } of samplers) {
      for (const more of sampler === 'remdm' ? [{}, { cfg_scale: 1 }] : [{}, { cfg_scale: 1 }, { eos_fill: true }]) {
        const opts = { ...base, prompts: [[1, 2, 3], [4]], ...extra, ...more, sampler, block_length: 4, temperature: 0.7, record_logps: true };
        const a = await generate(fn, { ...opts, rng: new Rng(4) });
        const b = await generate(whole, { ...opts, rng: new Rng(4) });
        expect(a.full, `${sampler} ${JSON.stringify(more)}`).toEqual(b.full);
        expect(a.nfe).toBe(b.nfe);
        expect(narrowed).toBeGreaterThan(0);
        narrowed = 0;
        a.logps!.flat().forEach((x, i) => expect(x).toBeCloseTo(b.logps!.flat()[i], 5));
      }
    }
  });

  it('is refused for a LogitsFn without a windowed pass', async () => {
    await expect(generate(contextLogits(1), { ...base, sampler: 'llada', cache: 'prefix', rng: new Rng(1) })).rejects.toThrow(/cache \("prefix"\) needs the model's windowed forward/);
  });

  it('leaks no tensors across calls (cache, finished rows, eos_fill, CFG)', async () => {
    const fn = modelDenoiser(two.params, two.cfg);
    const run = async () => {
      for (const { sampler, extra } of ADAPTIVE.filter((a) => a.sampler === 'threshold' || a.sampler === 'prophet')) {
        for (const cache of ['none', 'prefix', 'dual'] as const) {
          await generate(fn, { ...base, ...extra, sampler, block_length: 4, cache, eos_fill: true, rng: new Rng(1) });
        }
      }
      await generate(fn, { ...base, sampler: 'threshold', block_length: 4, cache: 'dual', cfg_scale: 1, rng: new Rng(1) });
      await generate(fn, { ...base, sampler: 'remdm', steps: 8, cache: 'prefix', rng: new Rng(1) });
    };
    await run();
    const before = tf.memory().numTensors;
    await run();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('finished rows and eos_fill', () => {
  beforeAll(() => useBackend('cpu'));

  it('a row without [MASK] is left out of the model call, and the samples equal those of each row alone', async () => {
    const inner = contextLogits(7, 8);
    const rowsPerCall: number[] = [];
    const fn: LogitsFn = (ids, am) => {
      rowsPerCall.push(ids.shape[0]);
      return inner(ids, am);
    };
    const prompts = [[1, 2, 3], [4, 5, 6], [7, 8, 1], [2, 2, 2]];
    const opts = { ...IDS, sampler: 'threshold' as const, threshold: 0.5, gen_length: 6 };
    const batch = await generate(fn, { ...opts, prompts, rng: new Rng(1) });
    const calls = rowsPerCall.splice(0);
    expect(calls[0]).toBe(4);
    expect(Math.min(...calls)).toBeLessThan(4); // the rows finished at different steps
    expect(batch.positions).toBe(calls.reduce((a, n) => a + n * 9, 0));
    for (let n = 0; n < prompts.length; n++) {
      expect((await generate(fn, { ...opts, prompts: [prompts[n]], rng: new Rng(1) })).full[0]).toEqual(batch.full[n]);
    }
  });

  it('eos_fill: after every step, each [MASK] after a row’s first generated EOS is EOS', async () => {
    // EOS likely everywhere: logits favour EOS strongly at late positions
    const inner = contextLogits(3, 4);
    const fn: LogitsFn = (ids, am) => tf.tidy(() => {
      const z = inner(ids, am);
      const L = ids.shape[1];
      const late = tf.reshape(tf.cast(tf.greaterEqual(tf.range(0, L), L - 4), 'float32'), [1, L, 1]);
      return tf.add(z, tf.mul(late, tf.reshape(tf.oneHot(tf.tensor1d([EOS], 'int32'), z.shape[2]).cast('float32'), [1, 1, -1]).mul(6))) as tf.Tensor3D;
    });
    const trace: StepState[] = [];
    const res = await generate(fn, { ...IDS, prompts: [[1, 2, 3], [4, 5, 6]], sampler: 'llada', gen_length: 8, eos_fill: true, rng: new Rng(1), onStep: (s) => trace.push(s) });
    let filled = 0;
    for (const s of trace) {
      for (const row of s.ids) {
        const gen = row.slice(3);
        const first = gen.indexOf(EOS);
        if (first === -1) continue;
        gen.slice(first + 1).forEach((t) => expect(t).not.toBe(MASK));
        filled += gen.slice(first + 1).filter((t) => t === EOS).length;
      }
    }
    expect(filled).toBeGreaterThan(0);
    expect(res.nfe).toBeLessThan(8); // rows finished before the schedule's 8 steps
    await expect(generate(fn, { ...IDS, prompts: [[1]], sampler: 'remdm', gen_length: 4, eos_fill: true, rng: new Rng(1) })).rejects.toThrow(/eos_fill/);
  });
});
