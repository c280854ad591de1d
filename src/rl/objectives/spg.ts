/**
 * SPG, Sandwiched Policy Gradient (Wang et al. 2025, arXiv 2510.09541; facebookresearch/SPG `spg/spg_trainer.py`,
 * read at a1c7120). Sequence-level REINFORCE on a bound of log π(o_i | prompt) chosen by the sign of the advantage:
 * a lower bound (ELBO) is pushed up where A_i > 0, an upper bound (EUBO) pushed down where A_i ≤ 0, so both
 * directions move the true likelihood the intended way. No ratio, no clipping, no old or reference policy
 * (spg_trainer.py l.116–124: β ≠ 0 raises there); μ > 1 simply takes μ steps on the same completions.
 *
 * The masks (`forward_type: block_random`, l.334–378), num_t = T draws per completion i, draw j:
 *   pick a block c_ij of `block_length` tokens among the blocks that hold completion tokens (a permutation of all
 *   blocks mod the completion's block count, first T), mask u ~ U{1..m} random positions of its m completion tokens
 *   (min_t 0, max_t 1), mask every later block and every token after the first EOS; the earlier blocks and the
 *   prompt are kept, each token masked with prob p_mask_prompt (SPG applies d1's prompt noise to both).
 *   M_ijk = 1 on masked completion tokens (inside the completion mask), len_i = Σ_k completion mask,
 *   t_ij = Σ_k M_ijk / len_i (the empirical mask ratio).
 *
 * The bounds per completion, logp_ijk = log π(o_ik | masked input ij) (l.516–548):
 *   ELBO_i = mean_j Σ_k M_ijk·logp_ijk / Σ_k M_ijk                                (× len_i below: the 1/t weight)
 *   q_ik   = mean_j M_ijk·π_ijk^β / t_ij                                            β = eubo_beta
 *   EUBO_i = (1/β) · mean over {k : q_ik > 0} of log q_ik                         (Rényi-style upper bound)
 *   neg_i  = mix: w·EUBO_i + (1 − w)·ELBO_i | eubo: EUBO_i | elbo: ELBO_i | zero: 0   (logp_estimation, w = mix_weight)
 *   ℓ_i    = ELBO_i if A_i > 0 else neg_i
 * Loss of a micro-batch (l.115–118): −Σ_i A_i·len_i·ℓ_i / Σ_i len_i, A = r − group mean (d1's advantages).
 * log q is computed as a log-sum-exp over the draws (same value as SPG's product form, no underflow of π^β).
 *
 * Cost per inner update: one forward + backward of T·n rows (T = num_t = 2: twice d1's update); nothing is cached in
 * the rollout (no old, no reference scores), so phase 3 costs nothing but the draws.
 *
 * Keys: grpo.spg.{logp_estimation, eubo_beta, mix_weight, num_t, block_length} (config/schema.ts, with the sources
 * of the defaults), grpo.p_mask_prompt, grpo.num_iterations (SPG's scripts: μ 4, β 0 — OBJECTIVE_DEFAULTS).
 * Metrics (objective/…): elbo_pos (mean ELBO_i over A_i > 0), eubo_neg (mean EUBO_i over A_i < 0), neg (mean neg_i
 * over A_i < 0); a micro-batch without such rows counts 0.
 */
import * as tf from '@tensorflow/tfjs';
import { ConfigError, assertShape } from '../../backend/errors.ts';
import type { Rng } from '../../backend/rng.ts';
import type { GrpoSection } from '../../config/schema.ts';
import { forward } from '../../model/model.ts';
import { select } from '../../sampling/decode_state.ts';
import { targetLogProbs } from '../../sampling/likelihood.ts';
import { promptMaskHits } from './estimators.ts';
import type { Draw, MicroTensors, Objective, PolicyModel } from './types.ts';

export type SpgOptions = GrpoSection['spg'];

/** One inner update's masks: row j·n + i is draw j of completion i. */
export interface SpgDraw extends Draw {
  isMask: tf.Tensor2D; // bool [T·n, L]: positions replaced by [MASK]
  scored: tf.Tensor2D; // float32 [T·n, Lg]: M, the masked completion tokens inside the completion mask
}

export function spgObjective(g: GrpoSection): Objective {
  return {
    name: 'spg',
    cachesOld: () => false, // no ratio: SPG never reads the sampling policy's scores
    cachesRef: () => false, // no KL: SPG runs with β = 0 (spg_trainer.py l.123–124)
    draw: (mb, rng) => spgDraw(mb, rng, g.spg, g.p_mask_prompt),
    score: (model, mb, draw) => ({ logp: spgLogProbs(model, mb, draw as SpgDraw, g.spg.num_t) }),
    parts: () => 1, // the EUBO couples the T draws of a token (log of their mean): one forward of T·n rows
    loss(cur, _old, _ref, mb, draw) {
      if (mb.advantages.rank !== 1) throw new ConfigError('grpo.objective spg takes one advantage per completion (grpo.credit: outcome)');
      const out = spgLoss({ logp: cur.logp as tf.Tensor2D, scored: (draw as SpgDraw).scored, completionMask: mb.completionMask, advantages: mb.advantages as tf.Tensor1D }, g.spg);
      return { loss: out.loss, report: { elbo_pos: out.elboPos, eubo_neg: out.euboNeg, neg: out.neg } };
    },
  };
}

/**
 * SPG's block-wise masks for micro-batch `mb` (see the header), T = opts.num_t draws per completion, from `rng` (the
 * blocks, counts and positions) and one tf op seed from it (the prompt / earlier-block noise, prob pMaskPrompt).
 */
export function spgDraw(mb: MicroTensors, rng: Rng, opts: SpgOptions, pMaskPrompt: number): SpgDraw {
  const [n, L] = mb.ids.shape;
  const Lg = mb.completionMask.shape[1];
  const { num_t: T, block_length: b } = opts;
  if (Lg % b !== 0) throw new ConfigError(`grpo.spg.block_length (${b}) must divide sampler.gen_length (${Lg})`);
  const numBlocks = Lg / b;
  if (T > numBlocks) throw new ConfigError(`grpo.spg.num_t (${T}) must be at most sampler.gen_length / grpo.spg.block_length (${Lg} / ${b} = ${numBlocks}): each draw masks a different block`);
  const seed = (rng.nextU32() % 2147483646) + 1; // non-zero: tfjs treats seed 0 as "unseeded"
  const cm = mb.completionMask.arraySync();
  const pm = mb.promptMask.arraySync();
  const structural = new Int32Array(T * n * L); // 1 = masked by the block scheme
  const context = new Int32Array(T * n * L); // 1 = kept context the prompt noise may mask (prompt, earlier blocks)
  for (let i = 0; i < n; i++) {
    const len = cm[i].reduce((a, c) => a + (c > 0 ? 1 : 0), 0); // ≥ 1: the mask holds up to the first EOS
    const completionBlocks = Math.floor((len - 1) / b) + 1;
    const blocks = rng.permutation(numBlocks).slice(0, T).map((c) => c % completionBlocks);
    for (let j = 0; j < T; j++) {
      const row = (j * n + i) * L;
      const start = blocks[j] * b; // first completion position of the chosen block
      const m = Math.min(b, len - start); // its completion tokens (≥ 1)
      const u = 1 + rng.int(m); // U{1..m}
      const order = rng.permutation(m);
      for (let l = 0; l < L - Lg; l++) context[row + l] = pm[i][l];
      for (let k = 0; k < Lg; k++) {
        const inBlock = k >= start && k < start + m;
        const masked = k >= start + b || k >= len || (inBlock && order[k - start] < u);
        structural[row + L - Lg + k] = masked ? 1 : 0;
        context[row + L - Lg + k] = k < start ? 1 : 0;
      }
    }
  }
  return tf.tidy(() => {
    const am = tf.tile(mb.attentionMask, [T, 1]) as tf.Tensor2D; // [T·n, L]
    const noise = promptMaskHits(tf.tensor2d(context, [T * n, L], 'int32'), am, T * n, L, pMaskPrompt, seed, 'grpo.spg draw'); // [T·n, L]
    const isMask = tf.logicalOr(tf.greater(tf.tensor2d(structural, [T * n, L], 'int32'), 0), noise) as tf.Tensor2D; // [T·n, L]
    const tail = tf.slice(isMask, [0, L - Lg], [T * n, Lg]); // [T·n, Lg]
    const scored = tf.mul(tf.cast(tail, 'float32'), tf.tile(mb.completionMask, [T, 1])) as tf.Tensor2D; // [T·n, Lg]
    return { isMask, scored };
  });
}

/** log π of every completion token under each of the T masked copies, differentiable: float32 [T·n, Lg]. */
export function spgLogProbs(model: PolicyModel, mb: MicroTensors, draw: SpgDraw, T: number): tf.Tensor2D {
  const [n, L] = mb.ids.shape;
  const Lg = mb.completionMask.shape[1];
  assertShape('spgLogProbs: draw.isMask', draw.isMask.shape, [T * n, L], `[T·n, L] = [${T * n}, ${L}]`);
  return tf.tidy(() => {
    const ids = tf.tile(mb.ids, [T, 1]) as tf.Tensor2D; // [T·n, L]
    const noisy = select<tf.Tensor2D>(draw.isMask, tf.scalar(model.cfg.mask_token_id, 'int32'), ids); // [T·n, L]
    const logits = forward(model.params, model.cfg, noisy, tf.tile(mb.attentionMask, [T, 1]) as tf.Tensor2D); // [T·n, L, V]
    const tail = tf.slice(logits, [0, L - Lg, 0], [T * n, Lg, -1]); // [T·n, Lg, V]
    return targetLogProbs(tail, tf.slice(ids, [0, L - Lg], [T * n, Lg])); // [T·n, Lg]
  });
}

export interface SpgLossInputs {
  logp: tf.Tensor2D; // [T·n, Lg] current policy, row j·n + i
  scored: tf.Tensor2D; // [T·n, Lg] M: 1 on the masked completion tokens
  completionMask: tf.Tensor2D; // [n, Lg]
  advantages: tf.Tensor1D; // [n]
}

export interface SpgLoss {
  loss: tf.Scalar;
  elboPos: tf.Scalar;
  euboNeg: tf.Scalar;
  neg: tf.Scalar;
  /** Per completion [n] (for tests and logging): the two bounds and the term ℓ_i the loss weights. */
  elbo: tf.Tensor1D;
  eubo: tf.Tensor1D;
  term: tf.Tensor1D;
}

/** SPG's micro-batch loss (the header's formula). Call inside tf.tidy / tf.variableGrads. */
export function spgLoss(x: SpgLossInputs, o: Pick<SpgOptions, 'num_t' | 'eubo_beta' | 'mix_weight' | 'logp_estimation'>): SpgLoss {
  const [n, Lg] = x.completionMask.shape;
  const T = o.num_t;
  assertShape('spgLoss: logp', x.logp.shape, [T * n, Lg], `[T·n, Lg] = [${T * n}, ${Lg}]`);
  assertShape('spgLoss: scored', x.scored.shape, [T * n, Lg], `[T·n, Lg] = [${T * n}, ${Lg}]`);
  assertShape('spgLoss: advantages', x.advantages.shape, [n], `[n] = [${n}]`);
  const logp = tf.reshape(x.logp, [T, n, Lg]); // [T, n, Lg]
  const M = tf.reshape(x.scored, [T, n, Lg]); // [T, n, Lg]
  const len = tf.maximum(tf.sum(x.completionMask, 1), 1); // [n]
  const count = tf.maximum(tf.sum(M, 2), 1); // [T, n]: masked tokens per draw (≥ 1 by construction)
  const elbo = tf.mean(tf.div(tf.sum(tf.mul(logp, M), 2), count), 0) as tf.Tensor1D; // [n]

  // log q_ik = log mean_j M·exp(β·logp − log t_ij): a log-sum-exp over the draws that masked token k.
  const logT = tf.log(tf.div(count, len)); // [T, n]
  const masked = tf.greater(M, 0); // [T, n, Lg]
  const z = tf.where(masked, tf.sub(tf.mul(o.eubo_beta, logp), tf.expandDims(logT, 2)), tf.fill([T, n, Lg], -1e9)); // [T, n, Lg]
  const logQ = tf.sub(tf.logSumExp(z, 0), Math.log(T)); // [n, Lg]
  const covered = tf.max(M, 0); // [n, Lg]: masked in at least one draw
  const eubo = tf.div(tf.div(tf.sum(tf.mul(logQ, covered), 1), tf.maximum(tf.sum(covered, 1), 1)), o.eubo_beta) as tf.Tensor1D; // [n]

  const negTerm = negativeTerm(o.logp_estimation, elbo, eubo, o.mix_weight); // [n]
  const pos = tf.greater(x.advantages, 0); // [n]
  const term = tf.where(pos, elbo, negTerm) as tf.Tensor1D; // [n]
  const loss = tf.neg(tf.div(tf.sum(tf.mul(tf.mul(x.advantages, len), term)), tf.sum(len))) as tf.Scalar;

  const rowMean = (v: tf.Tensor1D, rows: tf.Tensor1D) => tf.div(tf.sum(tf.mul(v, rows)), tf.maximum(tf.sum(rows), 1)) as tf.Scalar;
  const posRows = tf.cast(pos, 'float32') as tf.Tensor1D;
  const negRows = tf.cast(tf.less(x.advantages, 0), 'float32') as tf.Tensor1D;
  return { loss, elboPos: rowMean(elbo, posRows), euboNeg: rowMean(eubo, negRows), neg: rowMean(negTerm, negRows), elbo, eubo, term };
}

function negativeTerm(kind: SpgOptions['logp_estimation'], elbo: tf.Tensor1D, eubo: tf.Tensor1D, w: number): tf.Tensor1D {
  switch (kind) {
    case 'mix':
      return tf.add(tf.mul(w, eubo), tf.mul(1 - w, elbo)) as tf.Tensor1D;
    case 'eubo':
      return eubo;
    case 'elbo':
      return elbo;
    case 'zero':
      return tf.zerosLike(elbo);
    default:
      throw new ConfigError(`grpo.spg.logp_estimation '${String(kind)}' is not one of mix, eubo, elbo, zero`);
  }
}
