import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../src/rng.ts';
import { disposeParams, initParams } from '../../src/model/model.ts';
import { policyLoss, stopGradient } from '../../src/rl/objectives/d1_loss.ts';
import { disposeMicroBatches, microLosses, prepareMicroBatches } from '../../src/rl/rollout.ts';
import { sampleCompletions } from '../../src/rl/completions.ts';
import { accumulateGrads } from '../../src/engine/step.ts';
import { logProbs, modelConfig, rolloutOptions, tok } from './grpo_helpers.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('microLosses', () => {
  // The trajectory estimator's loss is differentiated one sampler state at a time; the parts must add up to exactly the
  // loss (and gradient) of the whole micro-batch taken in one piece.
  for (const [label, mu, K, lossType] of [
    ['all states, mu 2, bnpo', 2, null, 'bnpo'],
    ['trajectory_states 2, mu 1, grpo', 1, 2, 'grpo'],
    ['all states, mu 1, dr_grpo', 1, null, 'dr_grpo'],
  ] as const) {
    it(`trajectory: one part per pass whose losses, reports and gradients sum to the whole loss's (${label})`, async () => {
      const cfg = modelConfig();
      const params = initParams(cfg);
      const ref = initParams({ ...cfg, init_seed: 2 });
      const loss = { p_mask_prompt: 0.3, gen_length: 8, logp_estimator: 'trajectory', epsilon: 0.2, epsilon_high: null, beta: 0.04, loss_type: lossType } as const;
      const rollout = rolloutOptions({
        G: 2, mu, grad_accum: 1, p_mask_prompt: 0.3, logp_estimator: 'trajectory', trajectory_states: K, scale_rewards: 'none', beta: 0.04,
        epsilon: loss.epsilon, epsilon_high: loss.epsilon_high, loss_type: loss.loss_type,
        sampler: { sampler: 'llada', gen_length: 8, block_length: 8, steps: 4, temperature: 1 },
      });
      const samples = await sampleCompletions({ params, cfg }, ['1200=', '0034='].map((p) => tok.encode(p)), new Rng(3, 'sampling'), rollout);
      const [mb] = prepareMicroBatches({ params, cfg }, { params: ref }, samples, [0.5, -0.5, 1, -1], null, new Rng(4, 'masking'), rollout, 1);
      // μ = 2: move the policy away from the cached old log-probs, so that ratios differ from 1 and some get clipped.
      if (mu === 2) for (const v of Object.values(params)) v.assign(tf.tidy(() => tf.add(v, tf.mul(tf.randomNormal(v.shape, 0, 0.05, 'float32', 9), 1))));
      const k = mu - 1;
      const parts = microLosses(params, cfg, mb, k, rollout);
      expect(parts.length).toBe(K ?? mb.numSteps);
      expect(mb.numSteps).toBe(4);
      const split = accumulateGrads(params, parts);
      const whole = accumulateGrads(params, [() => {
        const logp = logProbs(params, cfg, mb, k, loss.p_mask_prompt, loss.gen_length, 'trajectory');
        const out = policyLoss(
          { logp, oldLogp: (mb.old[k]?.logp as tf.Tensor2D) ?? stopGradient(logp), refLogp: mb.ref[k]!.logp as tf.Tensor2D, advantages: mb.advantages, completionMask: (mb.draws[k].lossMask as tf.Tensor2D | null) ?? mb.completionMask },
          { epsilon: loss.epsilon, beta: loss.beta, loss_type: loss.loss_type, max_completion_length: loss.gen_length },
        );
        return { loss: out.loss, report: { kl: out.kl, clip_low: out.clipLow, clip_high: out.clipHigh } };
      }]);
      expect(whole.reportSum.kl).toBeGreaterThan(0);
      if (mu === 2) expect(whole.reportSum.clip_low + whole.reportSum.clip_high).toBeGreaterThan(0); // the clip is exercised
      expect(split.lossSum).toBeCloseTo(whole.lossSum, 6);
      for (const r of ['kl', 'clip_low', 'clip_high']) expect(split.reportSum[r]).toBeCloseTo(whole.reportSum[r], 6);
      let norm = 0;
      for (const name of Object.keys(params)) {
        const a = split.sum[name].dataSync();
        const b = whole.sum[name].dataSync();
        b.forEach((x, i) => {
          norm += x * x;
          expect(a[i]).toBeCloseTo(x, 6);
        });
      }
      if (mu === 1) expect(norm).toBeGreaterThan(0); // μ = 1 with detached old: the gradient is the policy gradient itself
      tf.dispose([...Object.values(split.sum), ...Object.values(whole.sum)]);
      disposeMicroBatches([mb]);
      disposeParams(params);
      disposeParams(ref);
    });
  }
});
