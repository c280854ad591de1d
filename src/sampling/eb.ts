/**
 * EB-sampler: entropy-bounded unmasking (Ben-Hamu et al., arXiv 2505.24857; rl-objectives.md "Rollout speed-ups"),
 * inside semi-AR blocks, beside Fast-dLLM's threshold rule.
 *
 * Per step: x0 = argmax(logits/τ + Gumbel) (greedy at τ = 0); H_i = entropy of softmax(logits) at each masked
 * position of the current block. Order those positions by H ascending (the error proxy: most certain first) and
 * commit the largest prefix U with Σ_{i∈U} H_i − max_{i∈U} H_i ≤ γ. The first position always passes (its sum minus
 * max is 0), so every row with a mask commits ≥ 1 token and decoding cannot stall; γ = 0 commits one token per step
 * (plus exact ties at zero entropy), γ → ∞ the whole block. Sorted ascending, max_{U_k} H = H_(k) and the bound is
 * Σ_{j<k} H_(j) ≤ γ, non-decreasing in k, so the accepted ranks are a prefix. A block loops until it has no masks.
 */
import * as tf from '@tensorflow/tfjs';
import { commitTokens, maskedIn, modelLogits, rowsFromIndices, select, type DecodeContext } from './decode_state.ts';
import { sampleTokens } from './gumbel.ts';
import { untilUnmasked } from './threshold.ts';

export interface EbOptions {
  block_length: number;
  temperature: number;
  /** γ: the entropy budget of one step (nats). */
  gamma: number;
}

/** Decodes the generation region of x [N, L] int32; takes ownership of x and returns the final ids. */
export async function ebDecode(ctx: DecodeContext, x: tf.Tensor2D, opts: EbOptions): Promise<tf.Tensor2D> {
  return untilUnmasked(ctx, x, opts.block_length, (xs, start, end) => ebStep(ctx, xs, start, end, opts));
}

/** One step: the new ids [N, L]. */
function ebStep(ctx: DecodeContext, x: tf.Tensor2D, start: number, end: number, opts: EbOptions): tf.Tensor2D {
  const logits = modelLogits(ctx, x); // [N, L, V]
  const x0 = sampleTokens(logits, opts.temperature, ctx.rng) as tf.Tensor2D; // [N, L]
  const candidate = maskedIn(x, ctx.maskId, start, end); // [N, L]
  const H = select<tf.Tensor2D>(candidate, entropy(logits), tf.scalar(Infinity)); // [N, L], +inf off the candidates
  return commitTokens(ctx, x, x0, entropyBoundSelect(H, opts.gamma, end - start), logits, opts.temperature);
}

/** Entropy (nats) of softmax(logits) along the last axis: [N, L, V] → [N, L]; −inf logits contribute 0. */
export function entropy(logits: tf.Tensor3D): tf.Tensor2D {
  return tf.tidy(() => {
    const logp = tf.logSoftmax(logits);
    const p = tf.exp(logp);
    return tf.neg(tf.sum(select(tf.greater(p, 0), tf.mul(p, logp), tf.scalar(0)), -1)) as tf.Tensor2D;
  });
}

/**
 * [N, L] bool: per row, the positions of the largest low-entropy-first prefix U with Σ_U H − max_U H ≤ γ (at least
 * one when the row has a finite entry). H [N, L] with +inf on non-candidates; `maxCandidates` bounds the finite ones.
 */
export function entropyBoundSelect(H: tf.Tensor2D, gamma: number, maxCandidates: number): tf.Tensor2D {
  return tf.tidy(() => {
    const K = Math.min(maxCandidates, H.shape[1]);
    const { values, indices } = tf.topk(tf.neg(H), K, true); // [N, K]: −H descending = H ascending
    const sorted = tf.neg(values); // H_(1) ≤ H_(2) ≤ …, +inf past the candidates
    const finite = tf.isFinite(sorted);
    const before = tf.sub(tf.cumsum(select(finite, sorted, tf.scalar(0)), 1), select(finite, sorted, tf.scalar(0))); // Σ_{j<k} H_(j)
    const keep = tf.logicalAnd(tf.lessEqual(before, gamma), finite); // [N, K], a prefix
    return rowsFromIndices(indices as tf.Tensor2D, keep as tf.Tensor2D, H.shape[1]);
  });
}
