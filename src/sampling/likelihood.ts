/**
 * Likelihood estimators for masked-diffusion LMs (samplers.md §1 "Conditional log-likelihood" and §6).
 *
 * 1. `mcLogLikelihood`: LLaDA's Monte Carlo ELBO of log p(answer | prompt) (`get_log_likelihood.py`). Per
 *    mini-batch of b copies: k ~ U{1..L}, mask counts l_j = round(linspace(k, k + (b−1)L/b, b)) wrapped into [1, L]
 *    (stratified over levels, not i.i.d.); row j masks exactly l_j answer positions chosen by a random permutation;
 *    the prompt is never masked; score = Σ_masked log p / (l_j / L). Rows are averaged, then mini-batches.
 * `targetLogProbs` picks target log-probs with cast(oneHot) × logSoftmax, not tf.gather (no gradient kernel on wasm);
 * the RL estimators (rl/objectives/estimators.ts) use it too.
 */
import * as tf from '@tensorflow/tfjs';
import { ConfigError, assertShape } from '../errors.ts';
import type { Rng } from '../rng.ts';
import { select } from './decode_state.ts';
import type { LogitsFn } from './types.ts';

/** torch.round: halves go to the even neighbour. */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Stratified mask counts of one mini-batch: round(linspace(k, k + (b−1)L/b, b)) wrapped into [1, L]. */
export function stratifiedMaskCounts(L: number, b: number, k: number): number[] {
  return Array.from({ length: b }, (_, j) => {
    const x = roundHalfEven(k + (j * L) / b); // linspace step = ((b−1)L/b)/(b−1) = L/b
    return ((((x - 1) % L) + L) % L) + 1;
  });
}

export interface McOptions {
  maskId: number;
  rng: Rng;
  /** Monte Carlo samples (LLaDA mc_num, default 128); must be a multiple of batch_size. */
  mc_num?: number;
  /** Rows per forward pass (default 16). */
  batch_size?: number;
  /** CFG w with the prompt fully masked in the unconditional copy (default 0 = off). */
  cfg_scale?: number;
}

/**
 * Monte Carlo estimate of log p(answer | prompt). Returns the estimate and its per-answer-token parts
 * (perToken[i] = mean over samples of 1[i masked]·log p(a_i)·L/l; they sum to logLikelihood).
 */
export async function mcLogLikelihood(
  logitsFn: LogitsFn,
  prompt: number[],
  answer: number[],
  opts: McOptions,
): Promise<{ logLikelihood: number; perToken: number[] }> {
  const mc = opts.mc_num ?? 128;
  const b = opts.batch_size ?? 16;
  const w = opts.cfg_scale ?? 0;
  if (!Number.isInteger(b) || b < 1) throw new ConfigError(`mcLogLikelihood: batch_size (${b}) must be an integer >= 1`);
  if (!Number.isInteger(mc) || mc < 1 || mc % b !== 0) {
    throw new ConfigError(`mcLogLikelihood: mc_num (${mc}) must be a positive multiple of batch_size (${b})`);
  }
  const L = answer.length;
  const Lp = prompt.length;
  if (L === 0) throw new ConfigError('mcLogLikelihood: answer is empty');
  const T = Lp + L;
  const perToken = new Float64Array(L);
  const target = tf.tensor1d(answer, 'int32');
  try {
    for (let m = 0; m < mc / b; m++) {
      const counts = stratifiedMaskCounts(L, b, opts.rng.int(L) + 1); // [b]
      const ids = new Int32Array(b * T);
      const weight = new Float32Array(b * L); // L/l on masked answer positions, 0 elsewhere
      for (let j = 0; j < b; j++) {
        const perm = opts.rng.permutation(L);
        for (let i = 0; i < Lp; i++) ids[j * T + i] = prompt[i];
        for (let i = 0; i < L; i++) {
          const masked = perm[i] < counts[j];
          ids[j * T + Lp + i] = masked ? opts.maskId : answer[i];
          weight[j * L + i] = masked ? L / counts[j] : 0;
        }
      }
      const part = tf.tidy(() => {
        const x = tf.tensor2d(ids, [b, T], 'int32');
        let logits = callChecked(logitsFn, w > 0 ? tf.concat([x, maskPrompt(x, Lp, opts.maskId)], 0) : x, null);
        if (w > 0) {
          const cond = tf.slice(logits, [0, 0, 0], [b, T, -1]);
          const un = tf.slice(logits, [b, 0, 0], [b, T, -1]);
          logits = tf.add(un, tf.mul(w + 1, tf.sub(cond, un)));
        }
        const logp = targetLogProbs(tf.slice(logits, [0, Lp, 0], [b, L, -1]), tf.broadcastTo(target, [b, L])); // [b, L]
        return tf.div(tf.sum(tf.mul(logp, tf.tensor2d(weight, [b, L])), 0), b); // [L]
      });
      const v = await part.data();
      part.dispose();
      for (let i = 0; i < L; i++) perToken[i] += v[i] / (mc / b);
    }
  } finally {
    target.dispose();
  }
  const out = Array.from(perToken);
  return { logLikelihood: out.reduce((a, c) => a + c, 0), perToken: out };
}

function maskPrompt(x: tf.Tensor2D, Lp: number, maskId: number): tf.Tensor2D {
  const cols = tf.less(tf.range(0, x.shape[1], 1, 'int32'), Lp); // [L]
  return select<tf.Tensor2D>(cols, tf.scalar(maskId, 'int32'), x);
}

export function callChecked(logitsFn: LogitsFn, ids: tf.Tensor2D, am: tf.Tensor2D | null): tf.Tensor3D {
  const out = logitsFn(ids, am);
  assertShape('logitsFn output', out.shape, [ids.shape[0], ids.shape[1], null], `[${ids.shape[0]}, ${ids.shape[1]}, V]`);
  return out.dtype === 'float32' ? out : tf.cast(out, 'float32');
}

/**
 * Logits of the last Lg columns only [N, Lg, V] (a completion's, in the estimators): the LogitsFn's column-restricted
 * pass when it has one (the model's: its last block then runs on those columns only), else a slice of the whole row.
 */
export function callTail(logitsFn: LogitsFn, ids: tf.Tensor2D, am: tf.Tensor2D | null, Lg: number): tf.Tensor3D {
  const [N, L] = ids.shape;
  if (!logitsFn.cols || Lg === L) return tf.slice(callChecked(logitsFn, ids, am), [0, L - Lg, 0], [N, Lg, -1]) as tf.Tensor3D;
  const out = logitsFn.cols(ids, am, L - Lg, L);
  assertShape('logitsFn.cols output', out.shape, [N, Lg, null], `[${N}, ${Lg}, V]`);
  return out.dtype === 'float32' ? out : tf.cast(out, 'float32');
}

/** log softmax(logits)[targets]: logits [N, T, V], targets int32 [N, T] → [N, T]. Differentiable on every backend. */
export function targetLogProbs(logits: tf.Tensor3D, targets: tf.Tensor2D): tf.Tensor2D {
  const V = logits.shape[2];
  return tf.sum(tf.mul(tf.logSoftmax(logits), tf.cast(tf.oneHot(targets, V), 'float32')), -1) as tf.Tensor2D;
}
