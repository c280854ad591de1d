/**
 * Left-to-right generation for a causal LM with a KV cache (model/kv_cache.ts) or any next-token model built on one
 * (L2D's flow stream, src/l2d/): the prompt rows are run once (`start`), then one token per row per `next` call.
 * Greedy at temperature 0, else a sample from softmax(logits / T) (Gumbel-max, gumbel.ts). [MASK] and padding are
 * never generated. A row that produced EOS keeps producing EOS (the SFT data pads answers with EOS); the loop stops
 * early once every row has.
 */
import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../errors.ts';
import type { Rng } from '../rng.ts';
import { sampleTokens } from './gumbel.ts';
import type { GenerateResult } from './types.ts';

/** A model that predicts the next token with a cache of the rows seen so far. */
export interface NextTokenModel {
  /**
   * Runs prompt rows ids int32 [N, Lp] (left padding 0 in attentionMask, or null); returns next-token logits [N, V].
   * start and next keep their cache themselves (not in the caller's tidy); the caller disposes the logits.
   */
  start(ids: tf.Tensor2D, attentionMask: tf.Tensor2D | null): tf.Tensor2D;
  /** Appends one token per row (int32 [N]); returns the next-token logits [N, V]. */
  next(tokens: tf.Tensor1D): tf.Tensor2D;
  /** Frees the cache. */
  end(): void;
  /** Forward passes so far, counted the model's way (an L2D token costs 1 + its ODE's flow-stream passes). */
  nfe(): number;
}

export interface ArOptions {
  /** Prompt ids, one array per prompt (rows are left-padded with padId). */
  prompts: number[][];
  /** G: copies of each prompt, adjacent (row = prompt·G + g). Default 1. */
  num_generations?: number;
  gen_length: number;
  /** 0 = greedy. Default 0. */
  temperature?: number;
  maskId: number;
  eosId: number;
  padId: number;
  rng: Rng;
}

export async function generateAutoregressive(model: NextTokenModel, o: ArOptions): Promise<GenerateResult> {
  const G = o.num_generations ?? 1;
  const T = o.temperature ?? 0;
  if (!Number.isInteger(o.gen_length) || o.gen_length < 1) throw new ConfigError(`autoregressive: gen_length must be an integer >= 1, got ${o.gen_length}`);
  const rows = o.prompts.flatMap((p) => Array.from({ length: G }, () => p)); // [N][Lp_n]
  const N = rows.length;
  const Lp = Math.max(...rows.map((p) => p.length));
  if (rows.some((p) => p.length === 0)) throw new ConfigError('autoregressive: every prompt needs at least one token');
  const ids = new Int32Array(N * Lp);
  const am = new Float32Array(N * Lp);
  rows.forEach((p, n) => p.forEach((t, j) => {
    ids[n * Lp + Lp - p.length + j] = t;
    am[n * Lp + Lp - p.length + j] = 1;
  }));
  for (let n = 0; n < N; n++) for (let l = 0; l < Lp - rows[n].length; l++) ids[n * Lp + l] = o.padId;
  const padded = rows.some((p) => p.length < Lp);
  const out: number[][] = Array.from({ length: N }, () => []);
  const done = new Array<boolean>(N).fill(false);
  // Logit offsets that keep [MASK] and padding from being generated: [V], -inf at both ids.
  const choose = (logits: tf.Tensor2D): Int32Array => {
    const V = logits.shape[1];
    const ban = new Float32Array(V);
    ban[o.maskId] = -Infinity;
    if (o.padId !== o.eosId) ban[o.padId] = -Infinity;
    const picked = tf.tidy(() => sampleTokens(tf.add(logits, tf.tensor1d(ban)), T, o.rng));
    const data = picked.dataSync() as Int32Array;
    picked.dispose();
    return Int32Array.from(data);
  };
  try {
    // start/next manage their own memory (the cache outlives each call): the inputs are freed here.
    const input = [tf.tensor2d(ids, [N, Lp], 'int32'), padded ? tf.tensor2d(am, [N, Lp]) : null] as const;
    let logits = model.start(input[0], input[1]);
    tf.dispose(input.filter((x) => x !== null));
    for (let k = 0; k < o.gen_length; k++) {
      const tokens = choose(logits);
      logits.dispose();
      for (let n = 0; n < N; n++) {
        const t = done[n] ? o.eosId : tokens[n];
        out[n].push(t);
        if (t === o.eosId) done[n] = true;
        tokens[n] = t;
      }
      if (k === o.gen_length - 1 || done.every(Boolean)) break;
      const step = tf.tensor1d(tokens, 'int32');
      logits = model.next(step);
      step.dispose();
      await Promise.resolve(); // let timers and progress output run between tokens
    }
  } finally {
    model.end();
  }
  for (const row of out) while (row.length < o.gen_length) row.push(o.eosId);
  const full = rows.map((p, n) => [...new Array<number>(Lp - p.length).fill(o.padId), ...p, ...out[n]]);
  return { sequences: out, full, nfe: model.nfe(), promptLengths: rows.map((p) => p.length) };
}
