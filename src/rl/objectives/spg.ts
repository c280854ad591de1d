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
 * Cost per inner update: forward + backward of T·n rows (T = num_t = 2: twice d1's update), in T parts of n/T
 * completions each (the loss is a sum over completions with a fixed normaliser, so the parts' gradients add up to the
 * whole; each pass is d1-sized: all T·n rows at once crashed wasm on the bench shape, 'memory access out of bounds');
 * nothing is cached in the rollout (no old, no reference scores), so phase 3 costs nothing but the draws.
 *
 * Keys: grpo.spg.{logp_estimation, eubo_beta, mix_weight, num_t, block_length} (config/schema.ts, with the sources
 * of the defaults), grpo.p_mask_prompt, grpo.num_iterations (SPG's scripts: μ 4, β 0 — OBJECTIVE_DEFAULTS).
 * Metrics (objective/…): elbo_pos (mean ELBO_i over A_i > 0), eubo_neg (mean EUBO_i over A_i < 0), neg (mean neg_i
 * over A_i < 0); a micro-batch without such rows counts 0.
 */
import * as tf from '@tensorflow/tfjs';
import { ConfigError, assertShape } from '../../errors.ts';
import type { Rng } from '../../rng.ts';
import { resolveSpg, type GrpoSection, type SpgOptions } from '../../config/schema.ts';
import { forward } from '../../model/model.ts';
import { select } from '../../sampling/decode_state.ts';
import { targetLogProbs } from '../../sampling/likelihood.ts';
import { promptMaskHits } from './estimators.ts';
import type { Draw, MicroTensors, Objective, PolicyModel } from './types.ts';

export type { SpgOptions };

/** One inner update's masks: row i·T + j is draw j of completion i (a completion's draws are adjacent). */
export interface SpgDraw extends Draw {
  isMask: tf.Tensor2D; // bool [n·T, L]: positions replaced by [MASK]
  scored: tf.Tensor2D; // float32 [n·T, Lg]: M, the masked completion tokens inside the completion mask
}

export function spgObjective(g: GrpoSection, sampler: { gen_length: number; block_length?: number }): Objective {
  const spg = resolveSpg(g.spg, sampler);
  return {
    name: 'spg',
    cachesOld: () => false, // no ratio: SPG never reads the sampling policy's scores
    cachesRef: () => false, // no KL: SPG runs with β = 0 (spg_trainer.py l.123–124)
    draw: (mb, rng) => spgDraw(mb, rng, spg, g.p_mask_prompt),
    score: (model, mb, draw, part) => ({ logp: spgLogProbs(model, mb, draw as SpgDraw, spg.num_t, partRows(mb, spg.num_t, part)) }),
    // The EUBO couples the T draws of a token (log of their mean), so parts split completions, not draws.
    parts: (mb) => spgParts(mb.end - mb.start, spg.num_t).length,
    loss(cur, _old, _ref, mb, draw, part) {
      if (mb.advantages.rank !== 1) throw new ConfigError('grpo.objective spg takes one advantage per completion (grpo.credit: outcome)');
      const T = spg.num_t;
      const [r0, r1] = partRows(mb, T, part);
      const n = r1 - r0;
      const rows = <R extends tf.Tensor>(t: R, per: number) => tf.slice(t, [r0 * per], [n * per]) as R; // completions r0..r1 of a [n·per, ...] tensor
      const out = spgLoss(
        { logp: cur.logp as tf.Tensor2D, scored: rows((draw as SpgDraw).scored, T), completionMask: rows(mb.completionMask, 1), advantages: rows(mb.advantages as tf.Tensor1D, 1) },
        spg,
        wholeBatch(mb.completionMask, mb.advantages as tf.Tensor1D),
      );
      return { loss: out.loss, report: { elbo_pos: out.elboPos, eubo_neg: out.euboNeg, neg: out.neg } };
    },
  };
}

/** Completion ranges [r0, r1) of the parts: T parts of ⌈n/T⌉ completions (fewer when n < T). */
export function spgParts(n: number, T: number): [number, number][] {
  const size = Math.ceil(n / T);
  return Array.from({ length: Math.ceil(n / size) }, (_, p) => [p * size, Math.min(n, (p + 1) * size)] as [number, number]);
}

function partRows(mb: MicroTensors, T: number, part?: number): [number, number] {
  const n = mb.end - mb.start;
  if (part === undefined) return [0, n];
  const parts = spgParts(n, T);
  if (!(Number.isInteger(part) && part >= 0 && part < parts.length)) throw new Error(`spg: part ${part} is not one of 0..${parts.length - 1}`);
  return parts[part];
}

/** The micro-batch-wide normalisers a part's loss and reports divide by, so the parts add up to the whole. */
function wholeBatch(completionMask: tf.Tensor2D, advantages: tf.Tensor1D): SpgWhole {
  return {
    lenSum: tf.sum(tf.maximum(tf.sum(completionMask, 1), 1)) as tf.Scalar,
    posRows: tf.sum(tf.cast(tf.greater(advantages, 0), 'float32')) as tf.Scalar,
    negRows: tf.sum(tf.cast(tf.less(advantages, 0), 'float32')) as tf.Scalar,
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
  const structural = new Int32Array(n * T * L); // 1 = masked by the block scheme
  const context = new Int32Array(n * T * L); // 1 = kept context the prompt noise may mask (prompt, earlier blocks)
  for (let i = 0; i < n; i++) {
    const len = cm[i].reduce((a, c) => a + (c > 0 ? 1 : 0), 0); // ≥ 1: the mask holds up to the first EOS
    const completionBlocks = Math.floor((len - 1) / b) + 1;
    const blocks = rng.permutation(numBlocks).slice(0, T).map((c) => c % completionBlocks);
    for (let j = 0; j < T; j++) {
      const row = (i * T + j) * L;
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
    const am = repeatRows(mb.attentionMask, T); // [n·T, L]
    const noise = promptMaskHits(tf.tensor2d(context, [n * T, L], 'int32'), am, n * T, L, pMaskPrompt, seed, 'grpo.spg draw'); // [n·T, L]
    const isMask = tf.logicalOr(tf.greater(tf.tensor2d(structural, [n * T, L], 'int32'), 0), noise) as tf.Tensor2D; // [n·T, L]
    const tail = tf.slice(isMask, [0, L - Lg], [n * T, Lg]); // [n·T, Lg]
    const scored = tf.mul(tf.cast(tail, 'float32'), repeatRows(mb.completionMask, T)) as tf.Tensor2D; // [n·T, Lg]
    return { isMask, scored };
  });
}

/**
 * log π of every completion token under each of the T masked copies, differentiable: float32 [c·T, Lg] for the
 * completions [r0, r1) of the micro-batch (c = r1 − r0; all of them by default), rows (i − r0)·T + j.
 */
export function spgLogProbs(model: PolicyModel, mb: MicroTensors, draw: SpgDraw, T: number, [r0, r1]: [number, number] = [0, mb.end - mb.start]): tf.Tensor2D {
  const [n, L] = mb.ids.shape;
  const Lg = mb.completionMask.shape[1];
  const c = r1 - r0;
  assertShape('spgLogProbs: draw.isMask', draw.isMask.shape, [n * T, L], `[n·T, L] = [${n * T}, ${L}]`);
  return tf.tidy(() => {
    const ids = repeatRows(tf.slice(mb.ids, [r0, 0], [c, L]), T); // [c·T, L]
    const isMask = tf.slice(draw.isMask, [r0 * T, 0], [c * T, L]); // [c·T, L]
    const noisy = select<tf.Tensor2D>(isMask, tf.scalar(model.cfg.mask_token_id, 'int32'), ids); // [c·T, L]
    const am = repeatRows(tf.slice(mb.attentionMask, [r0, 0], [c, L]), T); // [c·T, L]
    // the completion's logits only (model.ts Columns: the last block on those columns); a causal model has no such pass
    const tail = model.cfg.causal
      ? tf.slice(forward(model.params, model.cfg, noisy, am), [0, L - Lg, 0], [c * T, Lg, -1]) as tf.Tensor3D
      : forward(model.params, model.cfg, noisy, am, [L - Lg, L]); // [c·T, Lg, V]
    return targetLogProbs(tail, tf.slice(ids, [0, L - Lg], [c * T, Lg])); // [c·T, Lg]
  });
}

/** Each row T times in a row: [n, L] → [n·T, L]. */
function repeatRows(x: tf.Tensor2D, T: number): tf.Tensor2D {
  const [n, L] = x.shape;
  return tf.reshape(tf.tile(tf.expandDims(x, 1), [1, T, 1]), [n * T, L]); // [n, T, L] → [n·T, L]
}

export interface SpgLossInputs {
  logp: tf.Tensor2D; // [n·T, Lg] current policy, row i·T + j
  scored: tf.Tensor2D; // [n·T, Lg] M: 1 on the masked completion tokens
  completionMask: tf.Tensor2D; // [n, Lg]
  advantages: tf.Tensor1D; // [n]
}

/** Normalisers over the whole micro-batch when `x` holds only some of its completions (a part). */
export interface SpgWhole {
  lenSum: tf.Scalar; // Σ_i len_i
  posRows: tf.Scalar; // #{A_i > 0}
  negRows: tf.Scalar; // #{A_i < 0}
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

/**
 * SPG's micro-batch loss (the header's formula) and its reports, or with `whole` one part's share of them (the
 * parts' values add up to the micro-batch's). Call inside tf.tidy / tf.variableGrads.
 */
export function spgLoss(x: SpgLossInputs, o: Pick<SpgOptions, 'num_t' | 'eubo_beta' | 'mix_weight' | 'logp_estimation'>, whole?: SpgWhole): SpgLoss {
  const [n, Lg] = x.completionMask.shape;
  const T = o.num_t;
  assertShape('spgLoss: logp', x.logp.shape, [n * T, Lg], `[n·T, Lg] = [${n * T}, ${Lg}]`);
  assertShape('spgLoss: scored', x.scored.shape, [n * T, Lg], `[n·T, Lg] = [${n * T}, ${Lg}]`);
  assertShape('spgLoss: advantages', x.advantages.shape, [n], `[n] = [${n}]`);
  const logp = tf.reshape(x.logp, [n, T, Lg]); // [n, T, Lg]
  const M = tf.reshape(x.scored, [n, T, Lg]); // [n, T, Lg]
  const len = tf.maximum(tf.sum(x.completionMask, 1), 1); // [n]
  const count = tf.maximum(tf.sum(M, 2), 1); // [n, T]: masked tokens per draw (≥ 1 by construction)
  const elbo = tf.mean(tf.div(tf.sum(tf.mul(logp, M), 2), count), 1) as tf.Tensor1D; // [n]

  // log q_ik = log mean_j M·exp(β·logp − log t_ij): a log-sum-exp over the draws that masked token k.
  const logT = tf.log(tf.div(count, tf.expandDims(len, 1))); // [n, T]
  const z = tf.where(tf.greater(M, 0), tf.sub(tf.mul(o.eubo_beta, logp), tf.expandDims(logT, 2)), tf.fill([n, T, Lg], -1e9)); // [n, T, Lg]
  const logQ = tf.sub(tf.logSumExp(z, 1), Math.log(T)); // [n, Lg]
  const covered = tf.max(M, 1); // [n, Lg]: masked in at least one draw
  const eubo = tf.div(tf.div(tf.sum(tf.mul(logQ, covered), 1), tf.maximum(tf.sum(covered, 1), 1)), o.eubo_beta) as tf.Tensor1D; // [n]

  const negTerm = negativeTerm(o.logp_estimation, elbo, eubo, o.mix_weight); // [n]
  const pos = tf.greater(x.advantages, 0); // [n]
  const term = tf.where(pos, elbo, negTerm) as tf.Tensor1D; // [n]
  const posRows = tf.cast(pos, 'float32') as tf.Tensor1D;
  const negRows = tf.cast(tf.less(x.advantages, 0), 'float32') as tf.Tensor1D;
  const w = whole ?? { lenSum: tf.sum(len) as tf.Scalar, posRows: tf.sum(posRows) as tf.Scalar, negRows: tf.sum(negRows) as tf.Scalar };
  const loss = tf.neg(tf.div(tf.sum(tf.mul(tf.mul(x.advantages, len), term)), w.lenSum)) as tf.Scalar;
  const rowMean = (v: tf.Tensor1D, rows: tf.Tensor1D, total: tf.Scalar) => tf.div(tf.sum(tf.mul(v, rows)), tf.maximum(total, 1)) as tf.Scalar;
  return { loss, elboPos: rowMean(elbo, posRows, w.posRows), euboNeg: rowMean(eubo, negRows, w.negRows), neg: rowMean(negTerm, negRows, w.negRows), elbo, eubo, term };
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
