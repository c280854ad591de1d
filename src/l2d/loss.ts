/**
 * L2D's training loss (`FlowLlamaForCausalLM.forward` with labels): at every position, independently,
 *   t ~ U(0, 1),  ε ~ N(0, I),  x_t = (1 − t)·σ·ε + t·e(y)        (y = the next token, e = representation, flow.ts)
 * then the ordinary next-token cross-entropy of the flow stream's logits, with the SFT weights of the causal base
 * (diffusion/next_token.ts: answer tokens only, per-row mean, then / B). The identity noise schedule and σ are L2D's
 * (`noise_schedule: identity`, `noise_rescaling`). With guidance classes each position's label is dropped to the
 * "no label" class with probability `guidance_modulation_training_dropout` (L2D draws the drop per position).
 * t, ε and the drops come from a JS Rng stream, so they are the same on every backend and resume exactly.
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../rng.ts';
import { weightedCrossEntropy } from '../diffusion/loss.ts';
import type { NextTokenBatch } from '../diffusion/next_token.ts';
import type { FlowOptions } from './config.ts';
import { flowLogits, representation, type FlowModel, type MainView } from './flow.ts';

export interface FlowNoise {
  /** [B·L] flow time per position. */
  t: Float32Array;
  /** [B·L·d_f] standard normal noise. */
  eps: Float32Array;
  /** [B·L] guidance label per position (0, or K = no label), or null without guidance. */
  labels: Int32Array | null;
}

/** Draws t, ε and the label drops for B rows of L positions. */
export function drawFlowNoise(rng: Rng, B: number, L: number, f: FlowOptions): FlowNoise {
  const R = B * L;
  const t = new Float32Array(R);
  for (let i = 0; i < R; i++) t[i] = rng.random();
  const eps = new Float32Array(R * f.flow_representation_dim);
  for (let i = 0; i < eps.length; i++) eps[i] = rng.normal();
  const K = f.guidance_modulation_num_classes;
  const labels = K > 0 ? Int32Array.from({ length: R }, () => (rng.random() < f.guidance_modulation_training_dropout ? K : 0)) : null;
  return { t, eps, labels };
}

/** x_t = (1 − t)·σ·ε + t·e: e and ε [R, d_f], t [R] -> [R, d_f]. */
export function interpolate(e: tf.Tensor2D, eps: tf.Tensor2D, t: tf.Tensor1D, sigma: number): tf.Tensor2D {
  const tc = tf.reshape(t, [-1, 1]);
  return tf.add(tf.mul(tf.mul(tf.sub(1, tc), sigma), eps), tf.mul(tc, e)) as tf.Tensor2D;
}

/**
 * The loss of B rows of L tokens (the frozen pass `view`, with Lq = L). Call inside a gradient function.
 * Returns the scalar sum(w · CE) / B.
 */
export function l2dLoss(m: FlowModel, view: MainView, batch: NextTokenBatch, noise: FlowNoise): tf.Scalar {
  const { B, Lq: L } = view;
  const R = B * L;
  const targets = tf.tensor1d(batch.targets, 'int32');
  const t = tf.tensor1d(noise.t);
  const x = interpolate(representation(m, targets), tf.tensor2d(noise.eps, [R, m.f.flow_representation_dim]), t, m.f.noise_rescaling);
  const logits = flowLogits(m, view, x, t, noise.labels ? tf.tensor1d(noise.labels, 'int32') : null); // [R, V]
  return weightedCrossEntropy(tf.reshape(logits, [B, L, -1]) as tf.Tensor3D, tf.reshape(targets, [B, L]) as tf.Tensor2D, tf.tensor2d(batch.weights, [B, L]));
}
