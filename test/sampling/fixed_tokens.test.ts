/**
 * Fixed tokens (GenerateOptions.fixed, inpainting): property test over every sampler, random prompts, random fixed
 * patterns and seeds: fixed tokens and the prompt come out unchanged, every other generation position is sampled
 * (no [MASK] left), and the sampler's randomness is the only thing that differs between runs.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.ts';
import { Rng } from '../../src/rng.ts';
import { generate } from '../../src/sampling/generate.ts';
import type { SamplerName } from '../../src/sampling/types.ts';
import { EOS, IDS, MASK, PAD, contextLogits, useBackend } from './helpers.ts';

beforeAll(() => useBackend('cpu'));

const samplers: SamplerName[] = ['llada', 'dus', 'threshold', 'remdm'];

describe('generate: fixed tokens', () => {
  it('never change, the prompt never changes, and every other position is sampled (all samplers, 24 random cases)', async () => {
    const gen = new Rng(7, 'cases');
    for (let c = 0; c < 24; c++) {
      const sampler = samplers[c % samplers.length];
      const Lg = 8;
      const prompts = Array.from({ length: 1 + gen.int(3) }, () => Array.from({ length: 1 + gen.int(4) }, () => gen.int(EOS)));
      const G = 1 + gen.int(2);
      const N = prompts.length * G;
      // Each row: each position fixed with prob 1/2 to a random ordinary token or EOS.
      const fixed = Array.from({ length: N }, () => Array.from({ length: Lg }, () => (gen.random() < 0.5 ? gen.int(EOS + 1) : null)));
      const before = tf.memory().numTensors;
      const out = await generate(contextLogits(c), {
        ...IDS, prompts, num_generations: G, sampler, gen_length: Lg, block_length: 4, steps: 8, temperature: 1,
        threshold: 0.5, remdm_strategy: c % 2 ? 'cap' : 'conf', eta: 0.5, rng: new Rng(c), fixed,
      });
      expect(tf.memory().numTensors).toBe(before);
      const Lp = Math.max(...prompts.map((p) => p.length));
      out.full.forEach((row, n) => {
        const p = prompts[Math.floor(n / G)];
        expect(row.slice(0, Lp)).toEqual([...new Array(Lp - p.length).fill(PAD), ...p]); // prompt and padding unchanged
        fixed[n].forEach((t, k) => {
          if (t !== null) expect(row[Lp + k]).toBe(t); // fixed tokens unchanged
          else expect(row[Lp + k]).not.toBe(MASK); // free positions sampled
        });
      });
    }
  });

  it('ReMDM with a high re-masking rate still never touches fixed tokens, but does re-mask free ones', async () => {
    const Lg = 8;
    const fixed = [[3, null, 3, null, 3, null, 3, null]];
    const seen: number[][][] = [];
    const out = await generate(contextLogits(1), {
      ...IDS, prompts: [[1, 2]], sampler: 'remdm', gen_length: Lg, block_length: Lg, steps: 16, temperature: 1,
      remdm_strategy: 'rescale', eta: 1, rng: new Rng(3), fixed, onStep: (s) => seen.push(s.ids),
    });
    for (const ids of seen) for (const k of [0, 2, 4, 6]) expect(ids[0][2 + k]).toBe(3);
    // Some free position went from a token back to [MASK] at some step (so the check above is not vacuous).
    const remasked = seen.some((ids, i) => i > 0 && [1, 3, 5, 7].some((k) => seen[i - 1][0][2 + k] !== MASK && ids[0][2 + k] === MASK));
    expect(remasked).toBe(true);
    expect(out.sequences[0].filter((_, k) => k % 2 === 0)).toEqual([3, 3, 3, 3]);
  });

  it('a fully fixed row is returned as given; llada spends its steps on the other rows only', async () => {
    const fixed = [[1, 2, 3, 4], [null, null, null, null]];
    const out = await generate(contextLogits(2), { ...IDS, prompts: [[5]], num_generations: 2, sampler: 'llada', gen_length: 4, block_length: 4, steps: 4, temperature: 0, rng: new Rng(1), fixed });
    expect(out.sequences[0]).toEqual([1, 2, 3, 4]);
    expect(out.sequences[1].includes(MASK)).toBe(false);
  });

  it('refuses malformed fixed rows, naming the option', async () => {
    const base = { ...IDS, prompts: [[1]], sampler: 'llada' as const, gen_length: 4, steps: 4, rng: new Rng(1) };
    await expect(generate(contextLogits(1), { ...base, fixed: [] })).rejects.toThrow(ConfigError);
    await expect(generate(contextLogits(1), { ...base, fixed: [[1, 2]] })).rejects.toThrow('fixed[0]');
    await expect(generate(contextLogits(1), { ...base, fixed: [[MASK, null, null, null]] })).rejects.toThrow('other than maskId');
  });
});
