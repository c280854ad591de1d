/**
 * LLaDA's sampler (`generate.py: generate`; samplers.md §1): semi-autoregressive blocks left to right; inside a block
 * a fixed number of steps, each predicting every position and committing the k most confident masked ones.
 *
 * Per step: x0 = argmax(logits/τ + Gumbel) (greedy at τ = 0); confidence = softmax(logits)[x0], the un-noised
 * temperature-1 probability of the SAMPLED token (not the max prob), or U(0,1) for `random`; −inf outside the current
 * block and on committed positions; per row commit the top-k (k from `numTransferTokens`, per row, so rows with
 * different masked counts are fine). Unchosen predictions are discarded: those positions stay [MASK].
 */
import * as tf from '@tensorflow/tfjs';
import { advance, commitTokens, countMasked, maskedIn, modelLogits, probOf, select, startBlock, topKMask, type DecodeContext } from './decode_state.ts';
import { opSeed, sampleTokens } from './gumbel.ts';
import { numTransferTokens } from './transfer_schedule.ts';

export interface LladaOptions {
  block_length: number;
  /** Steps inside each block (= steps / num_blocks). */
  stepsPerBlock: number;
  temperature: number;
  remasking: 'low_confidence' | 'random';
}

/** Decodes the generation region of x [N, L] int32; takes ownership of x and returns the final ids. */
export async function lladaDecode(ctx: DecodeContext, x: tf.Tensor2D, opts: LladaOptions): Promise<tf.Tensor2D> {
  return scheduledDecode(ctx, x, opts, (xs, start, end, k) => lladaStep(ctx, xs, start, end, k, opts));
}

/**
 * The loop of the fixed-schedule samplers (llada, prophet): blocks left to right, stepsPerBlock steps each, step s of
 * row n committing k[n] = numTransferTokens(masked in the block, steps)[s]. A block ends early when no row has a mask
 * left in it (eos_fill, prophet's all-in). `step` runs in a tidy. Takes ownership of x and returns the final ids.
 */
export async function scheduledDecode(ctx: DecodeContext, x: tf.Tensor2D, opts: Pick<LladaOptions, 'block_length' | 'stepsPerBlock'>, step: (x: tf.Tensor2D, start: number, end: number, k: number[]) => tf.Tensor2D): Promise<tf.Tensor2D> {
  const B = opts.block_length;
  const numBlocks = ctx.genLength / B;
  for (let b = 0; b < numBlocks; b++) {
    const start = ctx.genStart + b * B;
    const end = start + B;
    startBlock(ctx, start, end);
    let counts = await countMasked(x, ctx.maskId, start, end); // [N]
    const schedule = counts.map((n) => numTransferTokens(n, opts.stepsPerBlock)); // [N][steps]
    for (let s = 0; s < opts.stepsPerBlock && counts.some((n) => n > 0); s++) {
      const k = schedule.map((row) => row[s]); // [N]
      const next = tf.tidy(() => step(x, start, end, k));
      x = await advance(ctx, x, next, b);
      counts = await countMasked(x, ctx.maskId, start, end);
    }
  }
  return x;
}

/** One step: returns the new ids [N, L] with k[n] positions of row n committed inside [start, end). */
export function lladaStep(ctx: DecodeContext, x: tf.Tensor2D, start: number, end: number, k: number[], opts: LladaOptions): tf.Tensor2D {
  const logits = modelLogits(ctx, x); // [N, L, V]
  const { x0, score } = lladaScores(ctx, x, logits, start, end, opts);
  const commit = topKMask(score, k); // [N, L]
  return commitTokens(ctx, x, x0, commit, logits, opts.temperature);
}

/** x0 [N, L] int32 (sampled) and its score [N, L]: confidence (or U(0,1)) on the block's masked positions, −inf elsewhere. */
export function lladaScores(ctx: DecodeContext, x: tf.Tensor2D, logits: tf.Tensor3D, start: number, end: number, opts: Pick<LladaOptions, 'temperature' | 'remasking'>): { x0: tf.Tensor2D; score: tf.Tensor2D } {
  const x0 = sampleTokens(logits, opts.temperature, ctx.rng) as tf.Tensor2D; // [N, L] int32
  const conf =
    opts.remasking === 'low_confidence'
      ? probOf(logits, x0) // [N, L]
      : (tf.randomUniform(x.shape, 0, 1, 'float32', opSeed(ctx.rng)) as tf.Tensor2D);
  const candidate = maskedIn(x, ctx.maskId, start, end); // [N, L]
  return { x0, score: select<tf.Tensor2D>(candidate, conf, tf.scalar(-Infinity)) };
}
