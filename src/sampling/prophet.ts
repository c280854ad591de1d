/**
 * Prophet-style early commit (Li et al., "Diffusion Language Models Know the Answer Before Decoding", arXiv
 * 2508.19982; rl-objectives.md "Rollout speed-ups"): LLaDA's low-confidence sampler (llada.ts: fixed per-step counts
 * inside semi-AR blocks) plus an all-in rule. Per step and row: gap = mean, over the row's masked positions of the
 * current block, of log p_(1) − log p_(2) (top-2 log-probabilities of softmax(logits)); when gap ≥ τ(progress) the
 * row commits every masked position of the block at once (its x0). τ follows the paper's staged thresholds over the
 * block's progress (fraction of the block already decoded in that row): prophet_gaps[0] below 1/3, [1] below 2/3,
 * [2] after. A block ends when no row has a mask left in it (fewer calls than `steps`) or after its steps.
 */
import * as tf from '@tensorflow/tfjs';
import { commitTokens, maskedIn, modelLogits, select, topKMask, type DecodeContext } from './decode_state.ts';
import { lladaScores, scheduledDecode, type LladaOptions } from './llada.ts';

export interface ProphetOptions extends LladaOptions {
  /** τ for progress in [0, 1/3), [1/3, 2/3), [2/3, 1]. */
  prophet_gaps: [number, number, number];
}

/** Decodes the generation region of x [N, L] int32; takes ownership of x and returns the final ids. */
export async function prophetDecode(ctx: DecodeContext, x: tf.Tensor2D, opts: ProphetOptions): Promise<tf.Tensor2D> {
  return scheduledDecode(ctx, x, opts, (xs, start, end, k) => prophetStep(ctx, xs, start, end, k, opts));
}

/** One step: LLaDA's top-k commit, and every masked position of the block in rows whose top-2 gap clears τ. */
function prophetStep(ctx: DecodeContext, x: tf.Tensor2D, start: number, end: number, k: number[], opts: ProphetOptions): tf.Tensor2D {
  const logits = modelLogits(ctx, x); // [N, L, V]
  const { x0, score } = lladaScores(ctx, x, logits, start, end, opts); // [N, L] each
  const candidate = maskedIn(x, ctx.maskId, start, end); // [N, L]
  const allIn = tf.expandDims(prophetAllIn(logits, candidate, end - start, opts.prophet_gaps), 1); // [N, 1]
  const commit = tf.logicalOr(topKMask(score, k), tf.logicalAnd(candidate, allIn)) as tf.Tensor2D; // [N, L]
  return commitTokens(ctx, x, x0, commit, logits, opts.temperature);
}

/**
 * [N] bool: mean top-2 log-prob gap over each row's candidates ≥ the threshold of its progress stage, where progress =
 * 1 − candidates / blockLength. Rows without candidates are false. logits [N, L, V], candidate bool [N, L].
 */
export function prophetAllIn(logits: tf.Tensor3D, candidate: tf.Tensor2D, blockLength: number, gaps: [number, number, number]): tf.Tensor1D {
  return tf.tidy(() => {
    const top2 = tf.topk(tf.logSoftmax(logits), 2, true).values; // [N, L, 2]
    const gap = tf.sub(tf.gather(top2, 0, 2), tf.gather(top2, 1, 2)) as tf.Tensor2D; // [N, L]
    const c = tf.cast(candidate, 'float32');
    const n = tf.sum(c, 1); // [N]
    const meanGap = tf.div(tf.sum(select(candidate, gap, tf.scalar(0)), 1), tf.maximum(n, 1)); // [N]
    const progress = tf.sub(1, tf.div(n, blockLength)); // [N]
    const tau = select<tf.Tensor1D>(tf.less(progress, 1 / 3), tf.scalar(gaps[0]), select(tf.less(progress, 2 / 3), tf.scalar(gaps[1]), tf.scalar(gaps[2])));
    return tf.logicalAnd(tf.greaterEqual(meanGap, tau), tf.greater(n, 0)) as tf.Tensor1D;
  });
}
