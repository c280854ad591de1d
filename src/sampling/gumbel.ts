/**
 * Temperature sampling by the Gumbel-max trick (samplers.md §1, pitfall 4).
 *
 * argmax(logits/τ + G), G = −log(−log U) standard Gumbel, is an exact sample from softmax(logits/τ). LLaDA writes it
 * as exp(logits) / (−log U)^τ in float64; exp(logits) overflows float32 above ~88, so here it stays in log space and
 * U is clamped to (0, 1) so neither log can see 0. U comes from `tf.randomUniform` with a seed drawn from the Rng:
 * tfjs generates it in JS, so the noise is identical on every backend.
 */
import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../errors.ts';
import type { Rng } from '../rng.ts';

/** Smallest and largest U: keeps −log(−log U) finite (≈ −3.1 and ≈ 16.6). 1 − 2^-24 is the float32 just below 1. */
const U_MIN = 1e-10;
const U_MAX = 1 - 2 ** -24;

/** A tf op seed from the stream; tfjs treats seed 0 as "unseeded", so 0 is mapped to 1. */
export function opSeed(rng: Rng): number {
  return rng.seed() || 1;
}

/** Standard Gumbel noise of `shape`, float32. */
export function gumbelNoise(shape: number[], seed: number): tf.Tensor {
  return tf.tidy(() => {
    const u = tf.clipByValue(tf.randomUniform(shape, 0, 1, 'float32', seed), U_MIN, U_MAX);
    return tf.neg(tf.log(tf.neg(tf.log(u))));
  });
}

/**
 * argmax over the last axis of `scores` + Gumbel noise: a sample from softmax(scores). Entries at −inf are never
 * chosen. Returns int32 with the last axis removed.
 */
export function gumbelArgmax(scores: tf.Tensor, rng: Rng): tf.Tensor {
  const seed = opSeed(rng);
  return tf.tidy(() => tf.argMax(tf.add(scores, gumbelNoise(scores.shape, seed)), -1));
}

/**
 * Samples token ids from softmax(logits/τ) along the last axis: logits [..., V] → int32 [...].
 * τ = 0 is greedy argmax and draws nothing from the Rng.
 */
export function sampleTokens(logits: tf.Tensor, temperature: number, rng: Rng): tf.Tensor {
  if (!(temperature >= 0)) throw new ConfigError(`sampling: temperature must be >= 0, got ${temperature}`);
  if (temperature === 0) return tf.argMax(logits, -1);
  return tf.tidy(() => gumbelArgmax(tf.div(logits, temperature), rng));
}
