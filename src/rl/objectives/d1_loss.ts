/**
 * The diffu-GRPO loss (d1 `compute_loss`, TRL GRPOTrainer), per completion token t of completion i:
 *
 *   ρ_it   = exp(logp_it − old_it)                                     importance ratio to the sampling policy
 *            (importance_sampling_level: sequence, GSPO / TRL: ρ_i = exp(mean_t (logp_it − old_it)) for every t)
 *   pg_it  = −min(ρ_it·A_i, clip(ρ_it, 1 − ε, 1 + ε_high)·A_i)          clipped surrogate (ε = epsilon; A_it per token
 *                                                                      with credit: process)
 *   kl_it  = exp(ref_it − logp_it) − (ref_it − logp_it) − 1             k3 estimator of KL(π‖π_ref), ≥ 0
 *   w_it   = min(exp(old_it − s_it), cap)                              truncated importance weight (importance_sampling_cap,
 *            TRL vllm_importance_sampling_cap: s = the rollout sampler's log-prob, constants; w = 1 when off)
 *   l_it   = w_it·pg_it + β·kl_it                                      (TRL weights the policy term only)
 *
 * aggregated over the completion mask m (tokens up to and including the first EOS) by `loss_type`:
 *   bnpo    Σ l·m / Σ m                                   (d1: token mean over the micro-batch)
 *   grpo    mean_i ( Σ_t l·m / Σ_t m )                     (per-sequence token mean, then mean)
 *   dr_grpo Σ l·m / (N · max_completion_length)            (Dr. GRPO: no length normalisation)
 *
 * With `part` (a 0/1 subset of the tokens) only those tokens' l_it enter the sum, the normaliser is unchanged: the
 * losses of disjoint parts covering the mask sum to the full loss (the trajectory estimator is differentiated state by
 * state this way, see d1.ts). Outside the part logp and ref are replaced by the constant oldLogp. A sequence-level ratio
 * couples every token of a completion, so it takes no part.
 *
 * logp, old and ref are per-token estimates under one shared mask (estimators.ts; d1's one-step by default). They are
 * not ELBOs: there is no 1/t weight.
 */
import * as tf from '@tensorflow/tfjs';
import { assertShape } from '../../errors.ts';

export type LossType = 'bnpo' | 'grpo' | 'dr_grpo';

export interface PolicyLossOptions {
  /** Lower clip ε (d1: 0.5). */
  epsilon: number;
  /** Upper clip ε_high (DAPO); defaults to ε. */
  epsilon_high?: number | null;
  /** KL coefficient β (d1: 0.04). 0 skips the reference model. */
  beta: number;
  loss_type: LossType;
  /** dr_grpo's constant denominator per completion (the generation length). */
  max_completion_length: number;
  /** token: one ratio per token (d1); sequence: the completion's mean log-ratio, one ratio per completion (GSPO). */
  importance_sampling_level?: 'token' | 'sequence';
  /** Truncated importance sampling: the policy term × min(exp(old − samplerLogp), cap). null/absent = off. */
  importance_sampling_cap?: number | null;
}

export interface PolicyLossInputs {
  /** [N, Lg] current policy log-probs (carries the gradient). */
  logp: tf.Tensor2D;
  /** [N, Lg] sampling-policy log-probs (constants). */
  oldLogp: tf.Tensor2D;
  /** [N, Lg] reference log-probs (constants), or null when β = 0. */
  refLogp: tf.Tensor2D | null;
  /** [N] advantages, one per completion, or [N, Lg] one per token (credit: process). */
  advantages: tf.Tensor1D | tf.Tensor2D;
  /** [N, Lg] 1 on completion tokens up to and including the first EOS, else 0. */
  completionMask: tf.Tensor2D;
  /** [N, Lg] 0/1: only these tokens' terms are summed (normaliser from completionMask); null/absent = all. */
  part?: tf.Tensor2D | null;
  /** [N, Lg] the rollout sampler's log-prob of each token (constants); needed with importance_sampling_cap. */
  samplerLogp?: tf.Tensor2D | null;
}

export interface PolicyLoss {
  loss: tf.Scalar;
  /** Masked token means, for logging (no gradient needed). */
  kl: tf.Scalar;
  /** Fraction of tokens clipped below (ρ < 1 − ε with A < 0) and above (ρ > 1 + ε_high with A > 0). */
  clipLow: tf.Scalar;
  clipHigh: tf.Scalar;
  /** importance_sampling_level: sequence only: the mean sequence ratio ρ_i over the completions. */
  seqRatio?: tf.Scalar;
  /** importance_sampling_cap only: masked token means of the weight w and of the share truncated at the cap. */
  isRatio?: tf.Scalar;
  isClipped?: tf.Scalar;
}

/** Call inside tf.tidy / tf.variableGrads. */
export function policyLoss(x: PolicyLossInputs, o: PolicyLossOptions): PolicyLoss {
  const [N, Lg] = x.logp.shape;
  const cap = o.importance_sampling_cap ?? null;
  if (cap !== null && !x.samplerLogp) throw new Error("policyLoss: importance_sampling_cap needs the rollout sampler's log-probs (samplerLogp)");
  for (const [name, t] of [['oldLogp', x.oldLogp], ['completionMask', x.completionMask], ['refLogp', x.refLogp], ['part', x.part ?? null], ['samplerLogp', x.samplerLogp ?? null]] as const) {
    if (t) assertShape(`policyLoss: ${name}`, t.shape, [N, Lg], `[N, Lg] = [${N}, ${Lg}]`);
  }
  if (x.advantages.rank === 2) assertShape('policyLoss: advantages', x.advantages.shape, [N, Lg], `[N, Lg] = [${N}, ${Lg}]`);
  else assertShape('policyLoss: advantages', x.advantages.shape, [N], `[N] = [${N}]`);
  const epsHigh = o.epsilon_high ?? o.epsilon;
  const A = x.advantages.rank === 2 ? x.advantages : x.advantages.reshape([N, 1]); // [N, Lg] or [N, 1]
  const full = x.completionMask; // [N, Lg]: the normaliser's tokens
  const m = x.part ? tf.mul(full, x.part) : full; // [N, Lg]: the summed tokens
  // Outside the part logp and ref are replaced by the constant oldLogp (ratio 1, KL 0): a pass's logp is 0 there, so
  // a ratio or KL could be Inf, and the mask's 0 · Inf = NaN (tf.where's gradient multiplies by the condition too).
  const inPart = x.part ? tf.greater(x.part, 0) : null;
  const logp = inPart ? (tf.where(inPart, x.logp, x.oldLogp) as tf.Tensor2D) : x.logp;
  const refLogp = inPart && x.refLogp ? (tf.where(inPart, x.refLogp, x.oldLogp) as tf.Tensor2D) : x.refLogp;

  const sequence = o.importance_sampling_level === 'sequence';
  if (sequence && x.part) throw new Error('policyLoss: a sequence-level ratio couples all tokens and takes no part');
  const logRatio = tf.sub(logp, x.oldLogp); // [N, Lg]
  const ratio = sequence
    ? tf.exp(tf.div(tf.sum(tf.mul(logRatio, full), 1, true), tf.maximum(tf.sum(full, 1, true), 1))) // [N, 1]
    : tf.exp(logRatio); // [N, Lg]
  const clipped = tf.clipByValue(ratio, 1 - o.epsilon, 1 + epsHigh);
  let pg = tf.neg(tf.minimum(tf.mul(ratio, A), tf.mul(clipped, A))); // [N, Lg]
  // Truncated IS: the old policy's log-prob against the sampler's (old is a constant or stop-gradient: w is detached).
  const isLogRatio = cap !== null ? tf.sub(x.oldLogp, x.samplerLogp!) : null; // [N, Lg]
  const w = isLogRatio ? tf.minimum(tf.exp(isLogRatio), cap!) : null; // [N, Lg]
  if (w) pg = tf.mul(pg, w);

  let kl: tf.Tensor2D = tf.zerosLike(logp);
  if (o.beta !== 0) {
    if (!refLogp) throw new Error('policyLoss: beta > 0 needs refLogp');
    const d = tf.sub(refLogp, logp); // ref − logp
    kl = tf.sub(tf.sub(tf.exp(d), d), 1) as tf.Tensor2D;
  }
  const perToken = o.beta !== 0 ? tf.add(pg, tf.mul(o.beta, kl)) : pg; // [N, Lg]

  const tokens = tf.maximum(tf.sum(full), 1);
  let loss: tf.Scalar;
  if (o.loss_type === 'bnpo') {
    loss = tf.div(tf.sum(tf.mul(perToken, m)), tokens);
  } else if (o.loss_type === 'grpo') {
    const perSeq = tf.div(tf.sum(tf.mul(perToken, m), 1), tf.maximum(tf.sum(full, 1), 1)); // [N]
    loss = tf.mean(perSeq);
  } else if (o.loss_type === 'dr_grpo') {
    loss = tf.div(tf.sum(tf.mul(perToken, m)), N * o.max_completion_length);
  } else {
    throw new Error(`policyLoss: unknown loss_type '${String(o.loss_type)}' (expected bnpo, grpo or dr_grpo)`);
  }

  const maskedMean = (t: tf.Tensor) => tf.div(tf.sum(tf.mul(t, m)), tokens) as tf.Scalar;
  const low = tf.logicalAnd(tf.less(ratio, 1 - o.epsilon), tf.less(A, 0)); // [N, Lg] (broadcast)
  const high = tf.logicalAnd(tf.greater(ratio, 1 + epsHigh), tf.greater(A, 0));
  return {
    loss: loss as tf.Scalar,
    kl: maskedMean(kl),
    clipLow: maskedMean(tf.cast(low, 'float32')),
    clipHigh: maskedMean(tf.cast(high, 'float32')),
    ...(sequence ? { seqRatio: tf.mean(ratio) as tf.Scalar } : {}),
    ...(w ? { isRatio: maskedMean(w), isClipped: maskedMean(tf.cast(tf.greater(isLogRatio!, Math.log(cap!)), 'float32')) } : {}),
  };
}

/** [N, Lg] 1 up to and including the first EOS of each row (d1's completion_mask), from plain arrays. */
export function completionMask(completions: number[][], eosId: number): Float32Array[] {
  return completions.map((row) => {
    const m = new Float32Array(row.length);
    const eos = row.indexOf(eosId);
    const end = eos === -1 ? row.length : eos + 1;
    m.fill(1, 0, end);
    return m;
  });
}

/** Identity whose gradient is zero (torch's `.detach()`): the old policy when μ = 1, where old = current. */
export const stopGradient = tf.customGrad(((x: tf.Tensor) => ({
  value: tf.clone(x),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
})) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor2D) => tf.Tensor2D;
