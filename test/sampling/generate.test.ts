import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.ts';
import { Rng } from '../../src/rng.ts';
import { generate } from '../../src/sampling/generate.ts';
import { oneStepLogLikelihood } from '../../src/rl/objectives/estimators.ts';
import { mcLogLikelihood } from '../../src/sampling/likelihood.ts';
import type { GenerateOptions, LogitsFn, SamplerName } from '../../src/sampling/types.ts';
import { IDS, MASK, PAD, contextLogits, useBackend } from './helpers.ts';

beforeAll(() => useBackend('cpu'));

const samplers: SamplerName[] = ['llada', 'dus', 'threshold', 'remdm'];
const common = { ...IDS, gen_length: 8, block_length: 4, steps: 8 };

describe('generate', () => {
  it('a left-padded batch gives each prompt the completion it gets alone (greedy, mask-honouring LogitsFn)', async () => {
    const prompts = [[1, 2, 3, 4], [5], [6, 7]];
    for (const sampler of ['llada', 'dus', 'threshold'] as SamplerName[]) {
      for (const seed of [1, 2]) {
        const fn = contextLogits(seed);
        const masks: (number[][] | null)[] = [];
        const spy: LogitsFn = (ids, am) => {
          masks.push(am ? am.arraySync() : null);
          return fn(ids, am);
        };
        const batch = await generate(spy, { ...common, prompts, sampler, rng: new Rng(seed), threshold: 0.5 });
        expect(masks[0]).toEqual([
          [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
          [0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1],
          [0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
        ]);
        expect(batch.full[1].slice(0, 4)).toEqual([PAD, PAD, PAD, 5]);
        for (let i = 0; i < prompts.length; i++) {
          const alone = await generate(fn, { ...common, prompts: [prompts[i]], sampler, rng: new Rng(seed), threshold: 0.5 });
          expect(batch.sequences[i]).toEqual(alone.sequences[0]);
        }
      }
    }
  });

  it('num_generations repeats each prompt G times, adjacent; one batch per forward pass', async () => {
    const shapes: number[][] = [];
    const fn = contextLogits(3);
    const spy: LogitsFn = (ids, am) => {
      shapes.push(ids.shape);
      return fn(ids, am);
    };
    const res = await generate(spy, { ...common, prompts: [[1, 2], [3]], num_generations: 3, sampler: 'llada', temperature: 1, rng: new Rng(1) });
    expect(res.promptLengths).toEqual([2, 2, 2, 1, 1, 1]);
    expect(res.full.map((r) => r.slice(0, 2))).toEqual([[1, 2], [1, 2], [1, 2], [PAD, 3], [PAD, 3], [PAD, 3]]);
    expect(res.sequences.map((s) => s.length)).toEqual([8, 8, 8, 8, 8, 8]);
    expect(new Set(res.sequences.slice(0, 3).map((s) => s.join())).size).toBeGreaterThan(1); // sampled copies differ
    expect(shapes).toEqual(new Array(8).fill([6, 10]));
    expect(res.nfe).toBe(8);
  });

  it('is reproducible for a fixed seed', async () => {
    for (const sampler of samplers) {
      const opts: GenerateOptions = { ...common, prompts: [[1], [2, 3]], num_generations: 2, sampler, temperature: 0.9, rng: new Rng(0) };
      const a = await generate(contextLogits(1), { ...opts, rng: new Rng(9, 'sampling') });
      const b = await generate(contextLogits(1), { ...opts, rng: new Rng(9, 'sampling') });
      expect(a).toEqual(b);
      a.sequences.forEach((s) => expect(s).not.toContain(MASK));
    }
  });

  it('leaks no tensors (tf.memory().numTensors flat across calls)', async () => {
    const fn = contextLogits(2);
    const run = async () => {
      for (const sampler of samplers) {
        await generate(fn, { ...common, prompts: [[1, 2], [3]], sampler, temperature: 0.5, cfg_scale: 0.5, rng: new Rng(1) });
      }
      await generate(fn, { ...common, prompts: [[1, 2], [3]], sampler: 'remdm', remdm_strategy: 'conf', rng: new Rng(1) });
      await generate(fn, { ...common, prompts: [[1, 2], [3]], sampler: 'threshold', factor: 1, rng: new Rng(1) });
      await mcLogLikelihood(fn, [1, 2], [3, 4], { maskId: MASK, rng: new Rng(1), mc_num: 4, batch_size: 2, cfg_scale: 1 });
      await oneStepLogLikelihood(fn, [[1, 2], [3]], [[4, 5], [6]], { ...IDS, pMaskPrompt: 0.5, maskSeed: 3 });
    };
    await run();
    const before = tf.memory().numTensors;
    await run();
    await run();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects bad options with errors naming the option and value', async () => {
    const base: GenerateOptions = { ...common, prompts: [[1]], sampler: 'llada', rng: new Rng(1) };
    const before = tf.memory().numTensors;
    await expect(generate(contextLogits(1), { ...base, gen_length: 10 })).rejects.toThrow(/gen_length \(10\) must be a multiple of block_length \(4\)/);
    await expect(generate(contextLogits(1), { ...base, steps: 5 })).rejects.toThrow(/steps \(5\) must be a multiple of the number of blocks/);
    await expect(generate(contextLogits(1), { ...base, sampler: 'beam' as SamplerName })).rejects.toThrow(/sampler \("beam"\)/);
    await expect(generate(contextLogits(1), { ...base, padId: MASK })).rejects.toThrow(ConfigError);
    await expect(generate(contextLogits(1), { ...base, remasking: 'max' as 'random' })).rejects.toThrow(/remasking/);
    await expect(generate(contextLogits(1), { ...base, sampler: 'dus', steps: 5 })).resolves.toBeDefined(); // dus ignores steps
    const bad: LogitsFn = (ids) => tf.zeros([ids.shape[0], 3, 12]) as tf.Tensor3D;
    await expect(generate(bad, base)).rejects.toThrow(/logitsFn output expected \[1, 9, V\], got \[1, 3, 12\]/);
    expect(tf.memory().numTensors).toBe(before);
  });
});
