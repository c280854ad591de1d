/**
 * Fast-dLLM confidence-aware parallel decoding (`get_transfer_index`; samplers.md §5), inside semi-AR blocks.
 *
 * Per step: x0 = argmax(logits/τ + Gumbel) (greedy at τ = 0), confidence c = softmax(logits)[x0] on the masked
 * positions of the current block. Threshold rule: commit every position with c ≥ threshold, and always the most
 * confident one, so every row that still has masks commits ≥ 1 token per step and decoding cannot stall.
 * Factor rule: sort c descending; commit the n most confident for the largest n with (n+1)(1 − c_(n)) ≤ factor
 * (n ≥ 1 always). A block loops until it has no masks (at most block_length steps); `steps` is not used.
 * With `cache: prefix | dual` only the first step of a block is a full pass (decode_state.ts runModel).
 */
import * as tf from '@tensorflow/tfjs';
import { advance, commitTokens, countMasked, maskedIn, modelLogits, probOf, rowsFromIndices, select, startBlock, type DecodeContext } from './decode_state.ts';
import { sampleTokens } from './gumbel.ts';

export interface ThresholdOptions {
  block_length: number;
  temperature: number;
  /** τ: commit positions with confidence ≥ threshold. */
  threshold: number;
  /** If set, the factor rule replaces the threshold rule. */
  factor?: number;
}

/** Decodes the generation region of x [N, L] int32; takes ownership of x and returns the final ids. */
export async function thresholdDecode(ctx: DecodeContext, x: tf.Tensor2D, opts: ThresholdOptions): Promise<tf.Tensor2D> {
  return untilUnmasked(ctx, x, opts.block_length, (xs, start, end) => thresholdStep(ctx, xs, start, end, opts));
}

/**
 * The loop of the adaptive samplers (threshold, eb): blocks left to right, each stepped until it has no [MASK] left;
 * `step` (run in a tidy) must commit ≥ 1 token in every row that still has a mask in the block, so a block takes at
 * most block_length steps. Takes ownership of x and returns the final ids.
 */
export async function untilUnmasked(ctx: DecodeContext, x: tf.Tensor2D, B: number, step: (x: tf.Tensor2D, start: number, end: number) => tf.Tensor2D): Promise<tf.Tensor2D> {
  const numBlocks = ctx.genLength / B;
  for (let b = 0; b < numBlocks; b++) {
    const start = ctx.genStart + b * B;
    const end = start + B;
    startBlock(ctx, start, end);
    for (let s = 0; ; s++) {
      const remaining = (await countMasked(x, ctx.maskId, start, end)).reduce((a, c) => a + c, 0);
      if (remaining === 0) break;
      if (s >= B) throw new Error(`block ${b} still has ${remaining} masks after ${B} steps (a step committed nothing)`);
      const next = tf.tidy(() => step(x, start, end));
      x = await advance(ctx, x, next, b);
    }
  }
  return x;
}

/** One step: the new ids [N, L]. */
export function thresholdStep(ctx: DecodeContext, x: tf.Tensor2D, start: number, end: number, opts: ThresholdOptions): tf.Tensor2D {
  const logits = modelLogits(ctx, x); // [N, L, V]
  const x0 = sampleTokens(logits, opts.temperature, ctx.rng) as tf.Tensor2D; // [N, L]
  const candidate = maskedIn(x, ctx.maskId, start, end); // [N, L]
  const conf = select<tf.Tensor2D>(candidate, probOf(logits, x0), tf.scalar(-Infinity)); // [N, L]
  const commit = opts.factor === undefined ? thresholdSelect(conf, opts.threshold) : factorSelect(conf, opts.factor, end - start);
  return commitTokens(ctx, x, x0, commit, logits, opts.temperature);
}

/** [N, L] bool: finite conf ≥ threshold, plus each row's maximum (ties at the maximum are all taken). conf [N, L]. */
export function thresholdSelect(conf: tf.Tensor2D, threshold: number): tf.Tensor2D {
  return tf.tidy(() => {
    const rowMax = tf.max(conf, 1, true); // [N, 1]
    const pick = tf.logicalOr(tf.greaterEqual(conf, threshold), tf.equal(conf, rowMax));
    return tf.logicalAnd(pick, tf.isFinite(conf)) as tf.Tensor2D;
  });
}

/**
 * [N, L] bool: per row the n most confident finite entries, n = largest with (n+1)(1 − c_(n)) ≤ factor, at least 1
 * when the row has any finite entry. `maxCandidates` bounds how many entries can be finite (the block length).
 */
export function factorSelect(conf: tf.Tensor2D, factor: number, maxCandidates: number): tf.Tensor2D {
  return tf.tidy(() => {
    const K = Math.min(maxCandidates, conf.shape[1]);
    const { values, indices } = tf.topk(conf, K, true); // [N, K] descending
    const n = tf.range(1, K + 1, 1, 'float32').reshape([1, K]); // rank n of c_(n)
    const ok = tf.lessEqual(tf.mul(tf.add(n, 1), tf.sub(1, values)), factor); // [N, K]
    const first = tf.equal(tf.range(0, K, 1, 'int32').reshape([1, K]), 0); // rank 1 always accepted
    // (n+1)(1 − c_(n)) increases with n for sorted c, so the accepted ranks form a prefix and counting them is enough.
    const count = tf.sum(tf.cast(tf.logicalOr(ok, first), 'int32'), 1, true); // [N, 1]
    const keep = tf.logicalAnd(tf.less(tf.range(0, K, 1, 'int32').reshape([1, K]), count), tf.isFinite(values));
    return rowsFromIndices(indices as tf.Tensor2D, keep as tf.Tensor2D, conf.shape[1]);
  });
}
