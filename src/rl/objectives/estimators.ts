/**
 * Per-token log-prob estimators of a completion under a masked-diffusion policy, for the RL objectives
 * (objectives/*.ts). Each runs under gradient and returns float32 [N, Lg] for ids [N, L] = (left-padded) prompt ++
 * completion (the last Lg columns):
 *
 * - `oneStepLogProbs` (d1): ONE forward pass with the whole completion masked; log π(o_k) = log softmax(logits_k)[o_k],
 *   no 1/t weight. The prompt is kept, or randomly masked by `promptMaskHits`.
 * - `coupledLogProbs` (DiffuCoder's coupled-GRPO): a complementary pair of partial completion masks, one pass of 2N rows.
 * - `trajectoryLogProbs`: each token scored in the sampler state it was drawn from, one pass per sampler step.
 *
 * The prompt mask (d1's p_mask_prompt) is written once, in `promptMaskHits`: a tf op seed draws it, so the old,
 * reference and current policy of one inner update see the same mask.
 */
import * as tf from '@tensorflow/tfjs';
import { ConfigError, ShapeError, assertShape } from '../../errors.ts';
import { select } from '../../sampling/decode_state.ts';
import { callTail, targetLogProbs } from '../../sampling/likelihood.ts';
import type { LogitsFn } from '../../sampling/types.ts';

/**
 * d1's random prompt mask, bool [N, L]: each maskable token (`maskable` nonzero [N or 1, L], and not padding where
 * `attentionMask` is 0) is masked with prob p, drawn from the tf op seed `maskSeed` (required when p > 0). All false
 * when p = 0. Call inside tf.tidy.
 */
export function promptMaskHits(maskable: tf.Tensor, attentionMask: tf.Tensor2D | null, N: number, L: number, p: number, maskSeed: number | undefined, who: string): tf.Tensor2D {
  if (!(p >= 0 && p <= 1)) throw new ConfigError(`${who}: p_mask_prompt (${p}) must be in [0, 1]`);
  if (p === 0) return tf.zeros([N, L], 'bool');
  if (!maskSeed) throw new ConfigError(`${who}: p_mask_prompt > 0 needs a non-zero maskSeed`);
  let m = tf.notEqual(maskable, 0); // [., L]
  if (attentionMask) m = tf.logicalAnd(m, tf.greater(attentionMask, 0));
  return tf.logicalAnd(m, tf.less(tf.randomUniform([N, L], 0, 1, 'float32', maskSeed), p)) as tf.Tensor2D; // [N, L]
}

export interface OneStepOptions {
  maskId: number;
  /** d1 p_mask_prompt: each real prompt token is masked with this prob (default 0: prompt kept). */
  pMaskPrompt?: number;
  /** tf op seed (non-zero) for the prompt mask: reuse it for old/ref/current within one GRPO iteration. */
  maskSeed?: number;
  /** [N, L] 1 = real, 0 = left pad; passed to the LogitsFn. Padding is never masked. */
  attentionMask?: tf.Tensor2D | null;
  /** Lg when `prompt` is a promptMask (the completion is always the last Lg columns). */
  genLength?: number;
}

/**
 * Per-token log-probs of the true completion in ONE forward pass (d1's estimator), differentiable.
 * ids int32 [N, L] = (left-padded) prompt ++ completion; `prompt` is either Lp, the number of leading prompt columns
 * (completion = ids[:, Lp:]), or a promptMask [N, L] (nonzero on the prompt tokens that p_mask_prompt may mask) with
 * opts.genLength = Lg (completion = last Lg columns). Returns float32 [N, Lg].
 */
export function oneStepLogProbs(logitsFn: LogitsFn, ids: tf.Tensor2D, prompt: number | tf.Tensor2D, opts: OneStepOptions): tf.Tensor2D {
  assertShape('oneStepLogProbs: ids', ids.shape, [null, null], '[N, L]');
  const [N, L] = ids.shape;
  const Lg = typeof prompt === 'number' ? L - prompt : opts.genLength;
  if (Lg === undefined || !Number.isInteger(Lg) || Lg < 1 || Lg > L) {
    throw new ShapeError(`oneStepLogProbs: completion length Lg (${Lg}) must be in [1, L = ${L}] (give promptLen < L, or opts.genLength)`);
  }
  const p = opts.pMaskPrompt ?? 0;
  const am = opts.attentionMask ?? null;
  return tf.tidy(() => {
    const completion = tf.greaterEqual(tf.range(0, L, 1, 'int32'), L - Lg).reshape([1, L]); // [1, L]
    const maskable = typeof prompt === 'number' ? tf.logicalNot(completion) : prompt; // [., L]
    const isMask = tf.logicalOr(completion, promptMaskHits(maskable, am, N, L, p, opts.maskSeed, 'oneStepLogProbs')); // [N, L]
    const noisy = select<tf.Tensor2D>(isMask, tf.scalar(opts.maskId, 'int32'), ids); // [N, L]
    const tail = callTail(logitsFn, noisy, am, Lg); // [N, Lg, V]
    return targetLogProbs(tail, tf.slice(ids, [0, L - Lg], [N, Lg])); // [N, Lg]
  });
}

/**
 * DiffuCoder's coupled estimate (coupled-GRPO), differentiable: per sequence a mask ratio t ~ U(0.2, 0.8); each
 * completion token is masked in view A with prob t, else in view B (the complement), so every token is scored exactly
 * once, with the rest of the sampled completion visible as context — closer to what the sampler conditions on than
 * the fully masked one-step view. The prompt mask (p_mask_prompt) is the same in both views. Both views go through one
 * forward pass of 2N rows. DiffuCoder also averages in the fully masked view; this keeps only the pair (no 1/t weight:
 * these are per-token log-probs, not an ELBO). Same arguments and output [N, Lg] as oneStepLogProbs; maskSeed required.
 */
export function coupledLogProbs(logitsFn: LogitsFn, ids: tf.Tensor2D, promptMask: tf.Tensor2D, opts: OneStepOptions & { genLength: number; maskSeed: number }): tf.Tensor2D {
  const [N, L] = ids.shape;
  const Lg = opts.genLength;
  const p = opts.pMaskPrompt ?? 0;
  const am = opts.attentionMask ?? null;
  return tf.tidy(() => {
    const completion = tf.greaterEqual(tf.range(0, L, 1, 'int32'), L - Lg).reshape([1, L]); // [1, L]
    const promptHit = promptMaskHits(promptMask, am, N, L, p, opts.maskSeed, 'coupledLogProbs'); // [N, L]
    const t = tf.randomUniform([N, 1], 0.2, 0.8, 'float32', opts.maskSeed + 1); // [N, 1]
    const inA = tf.less(tf.randomUniform([N, L], 0, 1, 'float32', opts.maskSeed + 2), t); // [N, L]
    const maskA = tf.logicalOr(promptHit, tf.logicalAnd(completion, inA));
    const maskB = tf.logicalOr(promptHit, tf.logicalAnd(completion, tf.logicalNot(inA)));
    const mId = tf.scalar(opts.maskId, 'int32');
    const noisy = tf.concat([select<tf.Tensor2D>(maskA, mId, ids), select<tf.Tensor2D>(maskB, mId, ids)], 0); // [2N, L]
    const tail = callTail(logitsFn, noisy, am ? tf.concat([am, am], 0) : null, Lg); // [2N, Lg, V]
    const target = tf.slice(ids, [0, L - Lg], [N, Lg]); // [N, Lg]
    const lp = targetLogProbs(tail, tf.concat([target, target], 0)); // [2N, Lg]
    const [lpA, lpB] = tf.split(lp, 2, 0) as [tf.Tensor2D, tf.Tensor2D];
    return tf.where(tf.slice(inA, [0, L - Lg], [N, Lg]), lpA, lpB) as tf.Tensor2D; // [N, Lg]
  });
}

/**
 * Log-probs of the completion along the sampler's own trajectory, differentiable: token i was committed at sampler step
 * s_i (1-based, `commitStep` [N, Lg]); its log-prob is taken from the state just before that step (prompt + the tokens
 * committed at steps < s_i, the rest [MASK]) — the distribution the sampler actually drew it from (which positions got
 * committed is treated as given). The S = max s_i states take S forward passes of N rows: S times the one-step
 * estimate's cost. With steps = 1 it equals the one-step estimate. The prompt mask (p_mask_prompt) is
 * shared by all states. Output [N, Lg]; maskSeed required when p_mask_prompt > 0.
 *
 * `states` (int32 [N, K], values in 1..S) scores only K states per row instead of all S: pass j puts row n in state
 * states[n, j] and keeps the tokens committed at that step; every other token's entry is 0 (the caller drops them
 * from the loss with `scoredMask`). K passes instead of S.
 *
 * `pass` (0-based, < trajectoryPasses) runs that pass alone: the entries of its tokens (`trajectoryPassMask`), 0
 * elsewhere. The passes' outputs sum to the full output, so a loss that is a sum over tokens can be differentiated
 * pass by pass (rollout.ts `microLosses`: one pass's activations alive at a time).
 */
export function trajectoryLogProbs(
  logitsFn: LogitsFn,
  ids: tf.Tensor2D,
  promptMask: tf.Tensor2D,
  commitStep: tf.Tensor2D,
  numSteps: number,
  opts: OneStepOptions & { genLength: number; states?: tf.Tensor2D | null; pass?: number },
): tf.Tensor2D {
  const [N, L] = ids.shape;
  const Lg = opts.genLength;
  const S = numSteps;
  assertShape('trajectoryLogProbs: commitStep', commitStep.shape, [N, Lg], `[${N}, ${Lg}]`);
  const states = opts.states ?? null;
  if (states && states.shape[0] !== N) throw new ShapeError(`trajectoryLogProbs: states has shape [${states.shape}], expected [${N}, K]`);
  const p = opts.pMaskPrompt ?? 0;
  const am = opts.attentionMask ?? null;
  return tf.tidy(() => {
    const promptHit = promptMaskHits(promptMask, am, N, L, p, opts.maskSeed, 'trajectoryLogProbs'); // [N, L]
    const stepFull = tf.concat([tf.zeros([N, L - Lg], 'int32'), tf.cast(commitStep, 'int32')], 1); // [N, L], 0 on the prompt
    const mId = tf.scalar(opts.maskId, 'int32');
    const target = tf.slice(ids, [0, L - Lg], [N, Lg]); // [N, Lg]
    const step = tf.cast(commitStep, 'int32'); // [N, Lg]
    let out: tf.Tensor2D = tf.zeros([N, Lg]);
    // One forward pass per state (S calls of N rows: the same work as S batched rows, without a huge batch), or per
    // column of `states`; st is a scalar step or the per-row steps [N, 1].
    const n = trajectoryPasses(S, states);
    const only = opts.pass ?? null;
    if (only !== null && !(Number.isInteger(only) && only >= 0 && only < n)) throw new ShapeError(`trajectoryLogProbs: pass ${only} is not one of 0..${n - 1}`);
    for (let j = only ?? 0; j < (only === null ? n : only + 1); j++) {
      const st = passStep(j, states); // scalar step, or per-row steps [N, 1]
      const state = select<tf.Tensor2D>(tf.logicalOr(promptHit, tf.greaterEqual(stepFull, st)), mId, ids); // [N, L]
      const lp = targetLogProbs(callTail(logitsFn, state, am, Lg), target); // [N, Lg]
      out = tf.add(out, tf.mul(lp, tf.cast(tf.equal(step, st), 'float32'))); // keep the tokens committed at this step
    }
    return out;
  });
}

/** Number of forward passes of trajectoryLogProbs: one per sampler step, or one per column of `states`. */
export function trajectoryPasses(numSteps: number, states: tf.Tensor2D | null): number {
  return states ? states.shape[1] : numSteps;
}

/** Pass j's sampler step: j + 1, or the rows' own steps states[:, j] as int32 [N, 1]. */
function passStep(j: number, states: tf.Tensor2D | null): number | tf.Tensor2D {
  return states ? (tf.slice(tf.cast(states, 'int32'), [0, j], [states.shape[0], 1]) as tf.Tensor2D) : j + 1;
}

/** float32 [N, Lg]: 1 on the tokens that pass j of trajectoryLogProbs scores (committed at that pass's step). */
export function trajectoryPassMask(commitStep: tf.Tensor2D, j: number, states: tf.Tensor2D | null): tf.Tensor2D {
  return tf.tidy(() => tf.cast(tf.equal(tf.cast(commitStep, 'int32'), passStep(j, states)), 'float32') as tf.Tensor2D);
}

/** 1 where a completion token's commit step is one of its row's scored states: commitStep [N, Lg], states [N, K] → [N, Lg]. */
export function scoredMask(commitStep: tf.Tensor2D, states: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const hit = tf.equal(tf.expandDims(tf.cast(commitStep, 'int32'), 2), tf.expandDims(tf.cast(states, 'int32'), 1)); // [N, Lg, K]
    return tf.max(tf.cast(hit, 'float32'), 2) as tf.Tensor2D;
  });
}

/**
 * Number-returning wrapper of oneStepLogProbs for token arrays: prompts are left-padded with padId; rows are grouped
 * by completion length (one forward pass per distinct length). Returns log p per completion token and their sums.
 */
export async function oneStepLogLikelihood(
  logitsFn: LogitsFn,
  prompts: number[][],
  completions: number[][],
  opts: { maskId: number; padId: number; pMaskPrompt?: number; maskSeed?: number },
): Promise<{ perToken: number[][]; total: number[] }> {
  if (prompts.length !== completions.length) {
    throw new ShapeError(`oneStepLogLikelihood: ${prompts.length} prompts but ${completions.length} completions`);
  }
  const perToken: number[][] = new Array(prompts.length);
  const byLength = new Map<number, number[]>();
  completions.forEach((c, i) => byLength.set(c.length, [...(byLength.get(c.length) ?? []), i]));
  for (const [Lg, rows] of byLength) {
    if (Lg === 0) {
      for (const r of rows) perToken[r] = [];
      continue;
    }
    const Lp = Math.max(...rows.map((r) => prompts[r].length));
    const L = Lp + Lg;
    const ids = new Int32Array(rows.length * L);
    const am = new Float32Array(rows.length * L).fill(1);
    rows.forEach((r, n) => {
      const pad = Lp - prompts[r].length;
      for (let l = 0; l < L; l++) {
        ids[n * L + l] = l < pad ? opts.padId : l < Lp ? prompts[r][l - pad] : completions[r][l - Lp];
        if (l < pad) am[n * L + l] = 0;
      }
    });
    const padded = rows.some((r) => prompts[r].length < Lp);
    const x = tf.tensor2d(ids, [rows.length, L], 'int32');
    const mask = padded ? tf.tensor2d(am, [rows.length, L]) : null;
    try {
      const lp = oneStepLogProbs(logitsFn, x, Lp, { ...opts, attentionMask: mask });
      const vals = (await lp.array()) as number[][];
      lp.dispose();
      rows.forEach((r, n) => (perToken[r] = vals[n]));
    } finally {
      x.dispose();
      mask?.dispose();
    }
  }
  return { perToken, total: perToken.map((v) => v.reduce((a, c) => a + c, 0)) };
}
