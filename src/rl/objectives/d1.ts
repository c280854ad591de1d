/**
 * d1's diffu-GRPO objective (Zhao et al. 2025, dllm-reasoning/d1 `diffu_grpo_trainer.py`): the clipped token-ratio
 * loss with a k3 KL penalty (d1_loss.ts), on per-token log-probs from one of three estimators (estimators.ts):
 *
 *   logp_estimator  forward passes per score         what a token is conditioned on
 *   one_step (d1)   1 × n rows                       the prompt only (completion fully masked)
 *   coupled         1 × 2n rows                      a random half of the other completion tokens (DiffuCoder)
 *   trajectory      S × n rows (K × n: trajectory_states)   the sampler state it was drawn from
 *
 * Draw of inner update k: one tf op seed for the random prompt mask (p_mask_prompt; d1: a fresh mask each inner
 * update, the same for old, reference and current policy) and, with `trajectory_states` K < S, K sampler states per
 * row. Cost per inner update: μ > 1 caches the old policy's log-probs (one score), β > 0 the reference's (one score);
 * the update scores the current policy once more, forward + backward.
 *
 * Keys (grpo.*): p_mask_prompt, logp_estimator, trajectory_states, epsilon, epsilon_high, loss_type,
 * importance_sampling_level (token = d1; sequence = GSPO's sequence ratio), importance_sampling_cap (truncated IS
 * against the rollout sampler's log-probs, d1_loss.ts), beta, credit. Defaults are d1's
 * (ε 0.5, β 0.04, p_mask_prompt 0.15, bnpo).
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../../rng.ts';
import type { GrpoSection } from '../../config/schema.ts';
import { forward } from '../../model/model.ts';
import { coupledLogProbs, oneStepLogProbs, scoredMask, trajectoryLogProbs, trajectoryPassMask, trajectoryPasses } from './estimators.ts';
import { policyLoss, stopGradient } from './d1_loss.ts';
import type { Draw, MicroTensors, Objective, PolicyModel } from './types.ts';

export type LogpEstimator = 'one_step' | 'coupled' | 'trajectory';

/** The d1 draw: the prompt-mask seed and, with trajectory_states, the scored states [n, K] and their loss mask [n, Lg]. */
export interface D1Draw extends Draw {
  seed: number;
  states: tf.Tensor2D | null;
  lossMask: tf.Tensor2D | null;
}

export function d1Objective(g: GrpoSection): Objective {
  const estimator = g.logp_estimator;
  const sequence = g.importance_sampling_level === 'sequence';
  return {
    name: 'd1',
    cachesOld: (mu) => mu > 1, // with μ = 1 the old policy IS the current one: d1/TRL use logp.detach() (ratio 1)
    cachesRef: (beta) => beta > 0,
    draw(mb, rng) {
      const seed = (rng.nextU32() % 2147483646) + 1; // non-zero: tfjs treats seed 0 as "unseeded"
      const n = mb.end - mb.start;
      const K = estimator === 'trajectory' ? (g.trajectory_states ?? mb.numSteps) : mb.numSteps;
      // Scored states are drawn once per inner update, like the prompt mask: old, ref and current policy share them.
      const states = K < mb.numSteps ? tf.tensor2d(Array.from({ length: n }, () => drawStates(mb.numSteps, K, rng)).flat(), [n, K], 'int32') : null;
      const lossMask = states ? tf.tidy(() => tf.mul(mb.completionMask, scoredMask(mb.commitStep!, states)) as tf.Tensor2D) : null;
      return { seed, states, lossMask } satisfies D1Draw;
    },
    score: (model, mb, draw, part) => ({ logp: d1LogProbs(model, mb, draw as D1Draw, g, part) }),
    // Every token is scored in exactly one sampler state, so the trajectory loss splits into one part per forward pass
    // with the same total gradient; differentiating pass by pass bounds memory by one pass instead of S. A
    // sequence-level ratio couples the tokens, so it stays whole.
    parts: (mb, draw) => (estimator === 'trajectory' && !sequence ? trajectoryPasses(mb.numSteps, (draw as D1Draw).states) : 1),
    loss(cur, old, ref, mb, draw, part) {
      const d = draw as D1Draw;
      const split = estimator === 'trajectory' && !sequence && part !== undefined;
      const out = policyLoss(
        {
          logp: cur.logp as tf.Tensor2D, oldLogp: (old?.logp as tf.Tensor2D) ?? stopGradient(cur.logp as tf.Tensor2D), refLogp: (ref?.logp as tf.Tensor2D) ?? null,
          advantages: mb.advantages, completionMask: d.lossMask ?? mb.completionMask, part: split ? trajectoryPassMask(mb.commitStep!, part, d.states) : null,
          samplerLogp: mb.samplerLogp ?? null,
        },
        {
          epsilon: g.epsilon, epsilon_high: g.epsilon_high, beta: g.beta, loss_type: g.loss_type, max_completion_length: mb.completionMask.shape[1],
          importance_sampling_level: g.importance_sampling_level, importance_sampling_cap: g.importance_sampling_cap,
        },
      );
      const report: Record<string, tf.Scalar> = { kl: out.kl, clip_low: out.clipLow, clip_high: out.clipHigh };
      if (out.seqRatio) report.seq_ratio = out.seqRatio;
      if (out.isRatio) Object.assign(report, { is_ratio: out.isRatio, is_clipped: out.isClipped! });
      return { loss: out.loss, report };
    },
  };
}

/**
 * Per-token log-probs [n, Lg] of micro-batch `mb` under `model` with the randomness of `draw`. `part` (trajectory
 * only): that forward pass alone, 0 outside its tokens.
 */
export function d1LogProbs(model: PolicyModel, mb: MicroTensors, draw: D1Draw, g: Pick<GrpoSection, 'p_mask_prompt' | 'logp_estimator'>, part?: number): tf.Tensor2D {
  const Lg = mb.completionMask.shape[1];
  const opts = { maskId: model.cfg.mask_token_id, pMaskPrompt: g.p_mask_prompt, maskSeed: draw.seed, attentionMask: mb.attentionMask, genLength: Lg };
  const fn = (ids: tf.Tensor2D, mask: tf.Tensor2D | null) => forward(model.params, model.cfg, ids, mask);
  if (g.logp_estimator === 'trajectory') {
    if (!mb.commitStep) throw new Error("d1LogProbs: the trajectory estimator needs the rollout's commit steps");
    return trajectoryLogProbs(fn, mb.ids, mb.promptMask, mb.commitStep, mb.numSteps, { ...opts, states: draw.states, pass: part });
  }
  return g.logp_estimator === 'coupled' ? coupledLogProbs(fn, mb.ids, mb.promptMask, opts) : oneStepLogProbs(fn, mb.ids, mb.promptMask, opts);
}

/** K distinct sampler steps out of 1..S, uniformly (a partial Fisher–Yates shuffle). */
export function drawStates(S: number, K: number, rng: Rng): number[] {
  const all = Array.from({ length: S }, (_, i) => i + 1);
  for (let i = 0; i < K; i++) {
    const j = i + (rng.nextU32() % (S - i));
    [all[i], all[j]] = [all[j], all[i]];
  }
  return all.slice(0, K);
}
