/**
 * Dilated Unmasking Scheduler (DUS, arXiv 2506.19037; samplers.md §3): a fixed, model-free plan of which positions of
 * a semi-AR block to reveal in each denoiser call, spreading each round's tokens apart to lower their dependence.
 *
 * Block size B, base 2, R = ⌈log2 B⌉ rounds. Round t (1-based) has stride s_t = max(1, ⌊B / 2^t⌋) and reveals every
 * still-masked 1-based position k with (k − 1) mod s_t = 0; the last round reveals everything left.
 * B = 8: {1,5}, {3,7}, {2,4,6,8}. When B is not a power of two the stride reaches 1 before round R, which then reveals
 * everything, and the remaining rounds would be empty: empty rounds are dropped (no model call), e.g. B = 6 gives
 * {1,4}, {2,3,5,6}. The tokens of a round are the argmax (or Gumbel sample at τ > 0) of that round's single call.
 * `steps` is not used: NFE = number of rounds per block × number of blocks. The optional confidence-skip heuristic of
 * the paper's code is not implemented.
 */
import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../errors.ts';
import { advance, commitTokens, maskedIn, modelLogits, startBlock, type DecodeContext } from './decode_state.ts';
import { sampleTokens } from './gumbel.ts';

/**
 * The DUS plan for a block of B positions: one array per round of 0-BASED offsets inside the block (1-based k in
 * the paper = offset + 1). Every offset appears exactly once. dusRounds(8) = [[0, 4], [2, 6], [1, 3, 5, 7]].
 */
export function dusRounds(B: number): number[][] {
  if (!Number.isInteger(B) || B < 1) throw new ConfigError(`dus: block_length must be an integer >= 1, got ${B}`);
  const R = Math.max(1, Math.ceil(Math.log2(B)));
  const revealed = new Array<boolean>(B).fill(false);
  const rounds: number[][] = [];
  for (let t = 1; t <= R; t++) {
    const stride = t === R ? 1 : Math.max(1, Math.floor(B / 2 ** t));
    const round: number[] = [];
    for (let o = 0; o < B; o++) {
      if (!revealed[o] && o % stride === 0) {
        round.push(o);
        revealed[o] = true;
      }
    }
    if (round.length > 0) rounds.push(round);
  }
  return rounds;
}

export interface DusOptions {
  block_length: number;
  temperature: number;
}

/** Decodes the generation region of x [N, L] int32 with the DUS plan; takes ownership of x, returns the final ids. */
export async function dusDecode(ctx: DecodeContext, x: tf.Tensor2D, opts: DusOptions): Promise<tf.Tensor2D> {
  const B = opts.block_length;
  const rounds = dusRounds(B);
  const numBlocks = ctx.genLength / B;
  for (let b = 0; b < numBlocks; b++) {
    const start = ctx.genStart + b * B;
    startBlock(ctx, start, start + B);
    for (const round of rounds) {
      const cols = round.map((o) => start + o);
      const next = tf.tidy(() => dusStep(ctx, x, start, start + B, cols, opts.temperature));
      x = await advance(ctx, x, next, b);
    }
  }
  return x;
}

/** One round: every still-masked position among `cols` (absolute columns) takes this call's token. */
function dusStep(ctx: DecodeContext, x: tf.Tensor2D, start: number, end: number, cols: number[], temperature: number): tf.Tensor2D {
  const L = ctx.L;
  const logits = modelLogits(ctx, x); // [N, L, V]
  const x0 = sampleTokens(logits, temperature, ctx.rng) as tf.Tensor2D; // [N, L]
  const planned = tf.reshape(tf.greater(tf.sum(tf.oneHot(tf.tensor1d(cols, 'int32'), L), 0), 0), [1, L]); // [1, L]
  const reveal = tf.logicalAnd(maskedIn(x, ctx.maskId, start, end), planned) as tf.Tensor2D; // [N, L]
  return commitTokens(ctx, x, x0, reveal, logits, temperature);
}
