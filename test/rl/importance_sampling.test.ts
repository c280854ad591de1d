/**
 * grpo.importance_sampling_cap through the rollout: the sampler's log-probs go from generate (record_logps) into
 * Samples, through inpainting / refill's re-assembled groups and the worker threads, into each micro-batch's
 * samplerLogp [n, Lg], and the d1 loss weights its tokens by min(exp(old − sampler), cap) (objectives/d1_loss.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../src/rng.ts';
import { disposeParams, initParams } from '../../src/model/model.ts';
import { accumulateGrads } from '../../src/engine/step.ts';
import { sampleCompletions } from '../../src/rl/completions.ts';
import { trainGrpo } from '../../src/rl/grpo_trainer.ts';
import { disposeMicroBatches, microLosses, prepareMicroBatches } from '../../src/rl/rollout.ts';
import { config, countTarget, modelConfig, quiet, rolloutOptions, saveInitCheckpoint, tmp, tok } from './grpo_helpers.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await saveInitCheckpoint();
});

describe('grpo.importance_sampling_cap in the rollout', () => {
  it('records the sampler log-probs only when set; scored on the sampler\'s own states the weight is ≤ 1 and near it; memory flat', async () => {
    const cfg = modelConfig();
    const params = initParams(cfg);
    const sampler = { sampler: 'eb' as const, gen_length: 8, block_length: 4, temperature: 1, gamma: 0.5 };
    const prompts = ['1200=', '0034='].map((p) => tok.encode(p));
    const plain = await sampleCompletions({ params, cfg }, prompts, new Rng(5, 'sampling'), rolloutOptions({ G: 2, mu: 1, grad_accum: 1, sampler }));
    expect(plain.logps).toBeNull();

    // The trajectory estimator scores each token in the state the sampler drew it from (prompt unmasked, τ = 1), so
    // logp_old differs from the sampler's only by the [MASK] logit the sampler bans: w = 1 − p([MASK]) ∈ (0, 1].
    const rollout = rolloutOptions({ G: 2, mu: 1, grad_accum: 1, sampler, logp_estimator: 'trajectory', p_mask_prompt: 0, beta: 0, importance_sampling_cap: 2 });
    const before = tf.memory().numTensors;
    const samples = await sampleCompletions({ params, cfg }, prompts, new Rng(5, 'sampling'), rollout);
    expect(samples.sequences).toEqual(plain.sequences); // recording changes no draw
    expect(samples.logps).toHaveLength(4);
    expect(samples.logps!.flat().every((v) => v < 0)).toBe(true);
    expect(samples.positions).toBeGreaterThan(0);
    const [mb] = prepareMicroBatches({ params, cfg }, null, samples, [0.5, -0.5, 1, -1], null, new Rng(6, 'masking'), rollout, 1);
    expect(mb.samplerLogp!.shape).toEqual([4, 8]);
    const g = accumulateGrads(params, microLosses(params, cfg, mb, 0, rollout));
    expect(g.reportSum.is_ratio).toBeGreaterThan(0.5);
    expect(g.reportSum.is_ratio).toBeLessThanOrEqual(1 + 1e-6);
    expect(g.reportSum.is_clipped).toBe(0);
    tf.dispose(Object.values(g.sum));
    disposeMicroBatches([mb]);
    expect(tf.memory().numTensors).toBe(before);
    disposeParams(params);
  });

  const withCap = (dir: string) => {
    const c = config(dir, { max_steps: 3, mu: 1 });
    c.sampler = { ...c.sampler, name: 'eb', gamma: 0.5, cache: 'prefix' };
    c.grpo.importance_sampling_cap = 2;
    return c;
  };
  const readMetrics = (dir: string) => fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);

  it('a GRPO run with the cap, EB + prefix cache and inpainting logs is_ratio/* and positions, memory flat (one thread)', async () => {
    const dir = tmp();
    const c = withCap(dir);
    c.grpo.inpaint = { when: 'all_fail', fail_reward: 0, fraction: [0.3, 0.6], members: 1, chunk_tokens: [2, 3] };
    const counts: number[] = [];
    await trainGrpo(c, { logger: quiet, rewardSource: countTarget, onStep: (s) => counts.push(s.numTensors) });
    expect(counts[2]).toBe(counts[1]);
    const lines = readMetrics(dir);
    expect(lines.reduce((a, l) => a + l['inpaint/groups'], 0)).toBeGreaterThan(0); // re-assembled groups carry the log-probs
    for (const l of lines) {
      expect(l['is_ratio/mean']).toBeGreaterThan(0);
      expect(l['is_ratio/clipped_frac']).toBeGreaterThanOrEqual(0);
      expect(l['is_ratio/clipped_frac']).toBeLessThanOrEqual(1);
      expect(l.positions).toBeGreaterThan(0);
      expect(Number.isFinite(l.loss)).toBe(true);
    }
  });

  it('the same with 2 workers and zero_std_groups: refill: metrics logged, memory flat in main and workers', async () => {
    const dir = tmp();
    const c = withCap(dir);
    c.training.workers = 2;
    c.training.grad_accum = 2;
    c.grpo.zero_std_groups = 'refill';
    const main: number[] = [];
    const workers: number[][] = [];
    await trainGrpo(c, { logger: quiet, rewardSource: countTarget, onStep: (s) => { main.push(s.numTensors); workers.push(s.workerTensors); } });
    expect(main[2]).toBe(main[1]);
    expect(workers[2]).toEqual(workers[1]);
    for (const l of readMetrics(dir)) {
      expect(l['is_ratio/mean']).toBeGreaterThan(0);
      expect(l.positions).toBeGreaterThan(0);
    }
  });
});
