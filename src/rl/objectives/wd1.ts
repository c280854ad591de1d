/**
 * wd1 (Tang et al., ICLR 2026; xiaohangt/wd1 `wd1/trainers/rev_grpo_trainer.py` RevDiffuGRPOTrainer, run with
 * `--trainer_type wll_d1_neg` by run/wll_NP_*.sh): ratio-free weighted likelihood, no old and no reference policy.
 * Per group of G completions with advantages A_i (r_i − group mean, as d1):
 *
 *   s_i   = Σ_t m_it · log π(o_it)             d1's one-step per-token log-probs (estimators.ts), summed over the
 *                                              completion mask m (tokens up to and including the first EOS)
 *   w⁺_i  = softmax(A)_i,  w⁻_i = softmax(−A)_i      over the G completions of the group
 *   l_grp = −Σ_i w⁺_i · s_i + Σ_i w⁻_i · s_i
 *
 * and the micro-batch loss is the mean of l_grp over its groups. Equal rewards give w⁺ = w⁻ = 1/G: loss and gradient 0.
 *
 * Choices, from the code (rev_grpo_trainer.py at 0898985):
 * - The softmax set. compute_loss (l.144–157) takes `torch.softmax(advantages, dim=0)` over the per-device batch,
 *   which train.yaml (l.37, l.43: num_generations 6, per_device_train_batch_size 6) makes exactly one group; the
 *   paper's formula is over the group. Here: over each group, whatever the micro-batch size.
 * - log π is the SUM over completion tokens (`(per_token_logps * completion_mask).sum(-1)`, l.152), no length
 *   normalisation; the per-device losses are averaged over gradient accumulation and devices (HF Trainer, DDP), so
 *   the mean over groups here.
 * - The prompt is masked with p_mask_prompt as in d1 (`forward_process`, l.319–346; train.yaml p_mask_prompt 0.15),
 *   a fresh mask per inner update (random_masking: True), indexed here by the inner update k rather than by wd1's
 *   running `_step % num_iterations` (d1-grpo.md "Quirks").
 * - A = r − group mean without std (l.638); grpo.scale_rewards still applies if set. μ: 12 GSM8K/MATH, 8 Sudoku/
 *   Countdown (run/wll_NP_*.sh NUM_ITER). wd1 does not read epsilon, beta or loss_type.
 *
 * Draw of inner update k: one tf op seed for the prompt mask. Cost per inner update: nothing cached in phase 3
 * (cachesOld and cachesRef are false; no reference model is loaded), the update scores the current policy once,
 * one forward + backward of n rows: d1's one-step update without d1's old/ref passes.
 * Report: pos_logp = Σ w⁺·s and neg_logp = Σ w⁻·s (group means, nats).
 */
import * as tf from '@tensorflow/tfjs';
import { assertShape, ShapeError } from '../../errors.ts';
import type { GrpoSection } from '../../config/schema.ts';
import { d1LogProbs } from './d1.ts';
import type { Draw, MicroTensors, Objective } from './types.ts';

export interface Wd1Draw extends Draw {
  seed: number;
}

export function wd1Objective(g: GrpoSection): Objective {
  const G = g.num_generations;
  return {
    name: 'wd1',
    cachesOld: () => false,
    cachesRef: () => false,
    draw: (_mb, rng) => ({ seed: (rng.nextU32() % 2147483646) + 1 }) satisfies Wd1Draw, // non-zero: tfjs reads 0 as unseeded
    score: (model, mb, draw) => ({
      logp: d1LogProbs(model, mb, { seed: (draw as Wd1Draw).seed, states: null, lossMask: null }, { p_mask_prompt: g.p_mask_prompt, logp_estimator: 'one_step' }),
    }),
    parts: () => 1,
    loss(cur, _old, _ref, mb) {
      const out = wd1Loss(cur.logp as tf.Tensor2D, mb.completionMask, advantages1d(mb), G);
      return { loss: out.loss, report: { pos_logp: out.posLogp, neg_logp: out.negLogp } };
    },
  };
}

function advantages1d(mb: MicroTensors): tf.Tensor1D {
  if (mb.advantages.rank !== 1) throw new ShapeError(`wd1: advantages must be one per completion [n], got [${mb.advantages.shape}] (grpo.credit: process is d1 only)`);
  return mb.advantages as tf.Tensor1D;
}

/**
 * The wd1 loss on per-token log-probs logp [n, Lg] (differentiable), completion mask [n, Lg], advantages [n]
 * (constants), for n = groups · G rows, consecutive groups of G. Call inside tf.tidy / tf.variableGrads.
 */
export function wd1Loss(logp: tf.Tensor2D, completionMask: tf.Tensor2D, advantages: tf.Tensor1D, G: number): { loss: tf.Scalar; posLogp: tf.Scalar; negLogp: tf.Scalar } {
  const [n, Lg] = logp.shape;
  assertShape('wd1Loss: completionMask', completionMask.shape, [n, Lg], `[n, Lg] = [${n}, ${Lg}]`);
  assertShape('wd1Loss: advantages', advantages.shape, [n], `[n] = [${n}]`);
  if (!(Number.isInteger(G) && G >= 1 && n % G === 0)) throw new ShapeError(`wd1Loss: ${n} rows are not whole groups of grpo.num_generations (${G})`);
  const groups = n / G;
  const s = tf.sum(tf.mul(logp, completionMask), 1).reshape([groups, G]); // [groups, G]: sequence log π
  const A = advantages.reshape([groups, G]); // [groups, G]
  const pos = tf.sum(tf.mul(tf.softmax(A), s), 1); // [groups]: Σ w⁺·s
  const neg = tf.sum(tf.mul(tf.softmax(tf.neg(A)), s), 1); // [groups]: Σ w⁻·s
  return { loss: tf.mean(tf.sub(neg, pos)) as tf.Scalar, posLogp: tf.mean(pos) as tf.Scalar, negLogp: tf.mean(neg) as tf.Scalar };
}
