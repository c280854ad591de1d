/**
 * grpo.importance_sampling_cap: TRL's truncated importance sampling (vllm_importance_sampling_cap) in the d1 loss,
 * w = min(exp(logp_old − logp_sampler), cap), detached, on each token's policy term; and the config's refusals.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.ts';
import { grpoConfigSchema } from '../../../src/config/schema.ts';
import { checkGrpoConfig } from '../../../src/config/validate.ts';
import { policyLoss, stopGradient, type PolicyLossOptions } from '../../../src/rl/objectives/d1_loss.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const opts: PolicyLossOptions = { epsilon: 0.2, beta: 0, loss_type: 'bnpo', max_completion_length: 2, importance_sampling_cap: 2 };
const logp = [[-1, -2], [-0.5, -1]];
const sampler = [[-1.5, -1], [-0.5, -3]];
// w = min(exp(old − sampler), 2) with old = logp (μ = 1): exp(0.5), exp(−1), exp(0), min(exp(2), 2) = 2
const w = [[Math.exp(0.5), Math.exp(-1)], [1, 2]];

describe('policyLoss with importance_sampling_cap', () => {
  it('weights each token\'s policy term by the truncated ratio (hand-computed), reports its mean and the truncated share', () => {
    const out = tf.tidy(() => {
      const r = policyLoss(
        { logp: tf.tensor2d(logp), oldLogp: tf.tensor2d(logp), refLogp: null, advantages: tf.tensor1d([1, -1]), completionMask: tf.tensor2d([[1, 1], [1, 1]]), samplerLogp: tf.tensor2d(sampler) },
        opts,
      );
      return { loss: r.loss.arraySync(), is: r.isRatio!.arraySync(), clipped: r.isClipped!.arraySync() };
    });
    // ratio 1, so pg = −A: row 0 −1, row 1 +1; bnpo over 4 tokens
    expect(out.loss).toBeCloseTo((-w[0][0] - w[0][1] + w[1][0] + w[1][1]) / 4, 6);
    expect(out.is).toBeCloseTo((w[0][0] + w[0][1] + w[1][0] + w[1][1]) / 4, 6);
    expect(out.clipped).toBeCloseTo(1 / 4, 6);
  });

  it('leaves the KL term unweighted and masked tokens out of every mean', () => {
    const ref = [[-1.2, -2], [-0.5, -0.8]];
    const mask = [[1, 0], [1, 1]];
    const out = tf.tidy(() => {
      const r = policyLoss(
        { logp: tf.tensor2d(logp), oldLogp: tf.tensor2d(logp), refLogp: tf.tensor2d(ref), advantages: tf.tensor1d([1, -1]), completionMask: tf.tensor2d(mask), samplerLogp: tf.tensor2d(sampler) },
        { ...opts, beta: 0.1 },
      );
      return { loss: r.loss.arraySync(), is: r.isRatio!.arraySync(), clipped: r.isClipped!.arraySync() };
    });
    const k3 = (d: number) => Math.exp(d) - d - 1;
    const kl = k3(ref[0][0] - logp[0][0]) + k3(ref[1][0] - logp[1][0]) + k3(ref[1][1] - logp[1][1]);
    expect(out.loss).toBeCloseTo((-w[0][0] + w[1][0] + w[1][1] + 0.1 * kl) / 3, 6);
    expect(out.is).toBeCloseTo((w[0][0] + w[1][0] + w[1][1]) / 3, 6);
    expect(out.clipped).toBeCloseTo(1 / 3, 6);
  });

  it('the weight is detached: d loss / d logp = −w·A / tokens with old = stopGradient(logp) (μ = 1)', () => {
    const x = tf.tensor2d(logp);
    const g = tf.grad((lp: tf.Tensor) => policyLoss(
      { logp: lp as tf.Tensor2D, oldLogp: stopGradient(lp as tf.Tensor2D), refLogp: null, advantages: tf.tensor1d([1, -1]), completionMask: tf.tensor2d([[1, 1], [1, 1]]), samplerLogp: tf.tensor2d(sampler) },
      opts,
    ).loss)(x);
    const got = g.arraySync() as number[][];
    const A = [1, -1];
    got.forEach((row, i) => row.forEach((v, t) => expect(v).toBeCloseTo((-w[i][t] * A[i]) / 4, 5)));
    tf.dispose([x, g]);
  });

  it('without the cap nothing changes; with the cap and no sampler log-probs it refuses', () => {
    const base = { logp: tf.tensor2d(logp), oldLogp: tf.tensor2d(logp), refLogp: null, advantages: tf.tensor1d([1, -1]), completionMask: tf.tensor2d([[1, 1], [1, 1]]) };
    const off = tf.tidy(() => policyLoss({ ...base, samplerLogp: tf.tensor2d(sampler) }, { ...opts, importance_sampling_cap: null }).loss.arraySync());
    expect(off).toBeCloseTo(0, 6); // −(1 + 1 − 1 − 1) / 4
    expect(() => tf.tidy(() => policyLoss(base, opts).loss)).toThrow("importance_sampling_cap needs the rollout sampler's log-probs");
    tf.dispose([base.logp, base.oldLogp, base.advantages, base.completionMask]);
  });
});

describe('grpo.importance_sampling_cap in the config', () => {
  const raw = (grpo: Record<string, unknown>, sampler: Record<string, unknown> = {}) => ({
    run: { output_dir: 'out' }, init_from: 'c', data: { task: 'sudoku' }, rewards: [{ name: 'sudoku' }],
    sampler: { gen_length: 17, block_length: 17, steps: 5, ...sampler }, grpo, optimizer: { lr: 1e-3 }, training: { max_steps: 1 },
  });
  const where = () => 'x.yaml:1';
  const limits = { max_seq_len: 34, source: 'checkpoint c' };

  it('defaults to off; takes a positive cap under d1', () => {
    expect(parseConfig(raw({}), grpoConfigSchema).grpo.importance_sampling_cap).toBeNull();
    const c = parseConfig(raw({ importance_sampling_cap: 2 }, { name: 'eb', cache: 'prefix' }), grpoConfigSchema);
    expect(c.grpo.importance_sampling_cap).toBe(2);
    expect(() => checkGrpoConfig(c, limits, where)).not.toThrow();
  });

  it('refuses a cap <= 0, objectives that do not read it, and a greedy sampler, naming the key', () => {
    expect(() => parseConfig(raw({ importance_sampling_cap: 0 }), grpoConfigSchema)).toThrow(/grpo\.importance_sampling_cap/);
    for (const objective of ['wd1', 'spg', 'espo']) {
      expect(() => parseConfig(raw({ objective, importance_sampling_cap: 2 }), grpoConfigSchema)).toThrow(`grpo.importance_sampling_cap: does not apply to grpo.objective: ${objective} (only to d1); remove it`);
    }
    const greedy = parseConfig(raw({ importance_sampling_cap: 2 }, { temperature: 0 }), grpoConfigSchema);
    expect(() => checkGrpoConfig(greedy, limits, where)).toThrow('x.yaml:1 grpo.importance_sampling_cap: (2) needs sampler.temperature > 0: at temperature 0 the llada sampler draws every token deterministically');
    // ReMDM samples p_θ whatever the temperature
    const remdm = parseConfig(raw({ importance_sampling_cap: 2 }, { name: 'remdm', temperature: 0, steps: 17 }), grpoConfigSchema);
    expect(() => checkGrpoConfig(remdm, limits, where)).not.toThrow();
  });
});
