import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../src/rng.ts';
import { samplerSchema } from '../../src/config/schema.ts';
import { disposeParams, initParams } from '../../src/model/model.ts';
import { disposeMicroBatches, microLosses, prepareMicroBatches } from '../../src/rl/rollout.ts';
import { sampleCompletions } from '../../src/rl/completions.ts';
import { accumulateGrads } from '../../src/engine/step.ts';
import type { RolloutOptions } from '../../src/rl/completions.ts';
import { modelConfig, rolloutOptions, tok } from './grpo_helpers.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

// GRPO rolls out with any sampler (issue 14): the fast ones commit a varying number of tokens per step, and the
// trajectory estimator scores each token in the state its own step left, from the commit steps the rollout records.
describe('GRPO rollouts with the fast samplers and the block KV cache', () => {
  const cases: [string, RolloutOptions['sampler']][] = [
    ['eb', { sampler: 'eb', gen_length: 8, block_length: 4, temperature: 1, gamma: 0.5 }],
    ['threshold + prefix cache', { sampler: 'threshold', gen_length: 8, block_length: 4, temperature: 1, threshold: 0.3, cache: 'prefix' }],
    ['prophet + eos_fill', { sampler: 'prophet', gen_length: 8, block_length: 4, steps: 8, temperature: 1, prophet_gaps: [0.5, 0.5, 0.5], eos_fill: true }],
    ['llada + dual cache', { sampler: 'llada', gen_length: 8, block_length: 4, steps: 4, temperature: 1, cache: 'dual' }],
  ];
  for (const [label, sampler] of cases) {
    it(`${label}: prompts intact, every completion token has a commit step, the loss trains, memory flat`, async () => {
      const cfg = modelConfig();
      const params = initParams(cfg);
      const rollout = rolloutOptions({ G: 2, mu: 1, grad_accum: 1, logp_estimator: 'trajectory', beta: 0, scale_rewards: 'none', sampler });
      const prompts = ['1200=', '0034='].map((p) => tok.encode(p));
      const before = tf.memory().numTensors;
      const samples = await sampleCompletions({ params, cfg }, prompts, new Rng(5, 'sampling'), rollout);
      expect(tf.memory().numTensors).toBe(before);
      expect(samples.sequences).toHaveLength(4);
      samples.full.forEach((row, i) => {
        const p = prompts[Math.floor(i / 2)];
        expect(row.slice(row.length - 8 - p.length, row.length - 8)).toEqual(p); // the prompt, unchanged
        expect(row.slice(-8)).not.toContain(cfg.mask_token_id); // fully decoded
      });
      const steps = samples.steps!;
      expect(steps.flat().every((s) => s >= 1 && s <= samples.nfe)).toBe(true);
      const [mb] = prepareMicroBatches({ params, cfg }, null, samples, [0.5, -0.5, 1, -1], null, new Rng(6, 'masking'), rollout, 1);
      const g = accumulateGrads(params, microLosses(params, cfg, mb, 0, rollout));
      expect(Number.isFinite(g.lossSum)).toBe(true);
      const norm = Object.values(g.sum).reduce((a, t) => a + tf.tidy(() => tf.sum(tf.square(t)).dataSync()[0]), 0);
      expect(norm).toBeGreaterThan(0);
      tf.dispose(Object.values(g.sum));
      disposeMicroBatches([mb]);
      expect(tf.memory().numTensors).toBe(before);
      disposeParams(params);
    });
  }

  it('the config takes the new samplers and their keys; a typo names the key', () => {
    const ok = samplerSchema.parse({ name: 'eb', gamma: 0.5, cache: 'prefix', eos_fill: true });
    expect(ok).toMatchObject({ name: 'eb', gamma: 0.5, cache: 'prefix', eos_fill: true, prophet_gaps: null });
    expect(samplerSchema.parse({ name: 'prophet', prophet_gaps: [3, 2, 1] }).prophet_gaps).toEqual([3, 2, 1]);
    const bad = samplerSchema.safeParse({ name: 'prophet', cache: 'full' });
    expect(bad.success).toBe(false);
    expect(JSON.stringify(bad.error!.issues[0].path)).toBe('["cache"]');
  });
});
