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
 * Keys (grpo.*): p_mask_prompt, logp_estimator, trajectory_states, trajectory_draw, epsilon, epsilon_high, loss_type,
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
      if (K >= mb.numSteps) return { seed, states: null, lossMask: null } satisfies D1Draw;
      if (g.trajectory_draw === 'credited') {
        const { states, weights } = creditedDraw(mb, K, rng);
        const lossMask = tf.tidy(() => tf.mul(mb.completionMask, weights) as tf.Tensor2D);
        weights.dispose();
        return { seed, states, lossMask } satisfies D1Draw;
      }
      const states = tf.tensor2d(Array.from({ length: n }, () => drawStates(mb.numSteps, K, rng)).flat(), [n, K], 'int32');
      const lossMask = tf.tidy(() => tf.mul(mb.completionMask, scoredMask(mb.commitStep!, states)) as tf.Tensor2D);
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
  return drawFrom(Array.from({ length: S }, (_, i) => i + 1), K, rng);
}

/** K distinct elements of `pool` (K ≤ pool.length), uniformly (a partial Fisher–Yates shuffle; `pool` is reordered). */
function drawFrom(pool: number[], K: number, rng: Rng): number[] {
  for (let i = 0; i < K; i++) {
    const j = i + (rng.nextU32() % (pool.length - i));
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  return pool.slice(0, K);
}

/**
 * `grpo.trajectory_draw: credited`: K of the S sampler states of one row, first among its credited steps P (those that
 * commit a completion token with a non-zero advantage), the rest from the other steps; `credited[s − 1]` says whether
 * step s is in P. Each step's weight is (K/S) / π_s, π_s its probability of being drawn (Horvitz–Thompson):
 *   s in P:      π = min(K, |P|) / |P|
 *   s not in P:  π = max(0, K − |P|) / (S − |P|)     (weight 0 when π = 0: never drawn)
 * so Σ over a draw's tokens of weight × term has the uniform draw's expectation, (K/S) × the sum over all S states, for
 * every term of the policy gradient (a zero-advantage token adds nothing to it); the KL penalty loses the tokens of the
 * never-drawn steps. With uniform draws every π is K/S and every weight 1. Returns the drawn steps and the weight per step.
 */
export function drawCreditedStates(S: number, K: number, credited: boolean[], rng: Rng): { states: number[]; weight: number[] } {
  const P = credited.flatMap((c, i) => (c ? [i + 1] : []));
  const rest = credited.flatMap((c, i) => (c ? [] : [i + 1]));
  const fromP = Math.min(K, P.length);
  const states = [...drawFrom(P, fromP, rng), ...drawFrom(rest, K - fromP, rng)];
  const piP = P.length > 0 ? fromP / P.length : 0;
  const piRest = rest.length > 0 ? (K - fromP) / rest.length : 0;
  const weight = credited.map((c) => {
    const pi = c ? piP : piRest;
    return pi > 0 ? K / S / pi : 0;
  });
  return { states, weight };
}

/**
 * The credited draw of a micro-batch: states int32 [n, K] and the per-token loss weight [n, Lg] (the drawn steps'
 * Horvitz–Thompson weights on their tokens, 0 elsewhere). Reads commit steps, advantages and the completion mask.
 */
function creditedDraw(mb: MicroTensors, K: number, rng: Rng): { states: tf.Tensor2D; weights: tf.Tensor2D } {
  const S = mb.numSteps;
  const steps = mb.commitStep!.arraySync() as number[][];
  const mask = mb.completionMask.arraySync() as number[][];
  const adv = mb.advantages.arraySync() as number[] | number[][];
  const rows = steps.map((row, i) => {
    const credited = new Array<boolean>(S).fill(false);
    row.forEach((s, l) => {
      const a = Array.isArray(adv[i]) ? (adv[i] as number[])[l] : (adv[i] as number);
      // Exactly non-zero (float rounding of a group mean can leave ~1e-17: such a state is drawn as credited, harmless
      // to the weighted estimate; kept exact so the README's runs reproduce).
      if (s >= 1 && s <= S && mask[i][l] > 0 && a !== 0) credited[s - 1] = true;
    });
    const { states, weight } = drawCreditedStates(S, K, credited, rng);
    const drawn = new Set(states);
    return { states, weights: row.map((s) => (drawn.has(s) ? weight[s - 1] : 0)) };
  });
  return {
    states: tf.tensor2d(rows.map((r) => r.states), [rows.length, K], 'int32'),
    weights: tf.tensor2d(rows.map((r) => r.weights), [rows.length, steps[0].length], 'float32'),
  };
}
