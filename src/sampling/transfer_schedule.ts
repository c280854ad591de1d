/**
 * How many tokens each step commits, and how steps split over semi-autoregressive blocks
 * (LLaDA `generate.py: get_num_transfer_tokens`, samplers.md §1).
 */
import { ConfigError } from '../errors.ts';

/**
 * Tokens to commit at each of `steps` steps when `maskedCount` positions are masked: base = ⌊n/s⌋, and the first
 * n mod s steps get one more (front-loaded remainder). Sums to `maskedCount`.
 * numTransferTokens(10, 4) = [3, 3, 2, 2].
 */
export function numTransferTokens(maskedCount: number, steps: number): number[] {
  if (!Number.isInteger(maskedCount) || maskedCount < 0) {
    throw new ConfigError(`numTransferTokens: maskedCount must be an integer >= 0, got ${maskedCount}`);
  }
  if (!Number.isInteger(steps) || steps < 1) throw new ConfigError(`numTransferTokens: steps must be an integer >= 1, got ${steps}`);
  const base = Math.floor(maskedCount / steps);
  const rem = maskedCount % steps;
  return Array.from({ length: steps }, (_, i) => base + (i < rem ? 1 : 0));
}

export interface BlockPlan {
  numBlocks: number;
  blockLength: number;
  /** Steps inside each block (null when the sampler does not use `steps`). */
  stepsPerBlock: number | null;
}

/**
 * Checks gen_length % block_length == 0 and (when `steps` is given) steps % num_blocks == 0, as LLaDA asserts,
 * with an error naming the options and their values.
 */
export function blockPlan(gen_length: number, block_length: number, steps: number | null): BlockPlan {
  positiveInt('gen_length', gen_length);
  positiveInt('block_length', block_length);
  if (gen_length % block_length !== 0) {
    throw new ConfigError(`sampling: gen_length (${gen_length}) must be a multiple of block_length (${block_length})`);
  }
  const numBlocks = gen_length / block_length;
  if (steps === null) return { numBlocks, blockLength: block_length, stepsPerBlock: null };
  positiveInt('steps', steps);
  if (steps % numBlocks !== 0) {
    throw new ConfigError(
      `sampling: steps (${steps}) must be a multiple of the number of blocks gen_length / block_length = ` +
        `${gen_length} / ${block_length} = ${numBlocks}`,
    );
  }
  return { numBlocks, blockLength: block_length, stepsPerBlock: steps / numBlocks };
}

function positiveInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new ConfigError(`sampling: ${name} must be an integer >= 1, got ${v}`);
}
