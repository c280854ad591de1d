/**
 * Weighted masked cross-entropy: the one loss both objectives reduce to (see forward_process.ts for the weights).
 *   loss = sum_{b,l} w[b,l] * CE(logits[b,l], target[b,l]) / B
 * The target's log-probability is picked with a float one-hot (never tf.gather: its gradient kernel is missing on wasm).
 */
import * as tf from '@tensorflow/tfjs';
import { assertShape } from '../errors.ts';
import { oneHotF32 } from '../model/ops.ts';

/**
 * logits float32 [B, L, V]; targets int32 [B, L] (the clean ids); weights float32 [B, L]. Returns a scalar.
 * Call it inside tf.tidy (or a gradient function): it does not dispose its inputs.
 */
export function weightedCrossEntropy(logits: tf.Tensor3D, targets: tf.Tensor2D, weights: tf.Tensor2D): tf.Scalar {
  const [B, L, V] = logits.shape;
  assertShape('weightedCrossEntropy: targets', targets.shape, [B, L], `[B, L] = [${B}, ${L}]`);
  assertShape('weightedCrossEntropy: weights', weights.shape, [B, L], `[B, L] = [${B}, ${L}]`);
  const logp = tf.logSoftmax(logits.reshape([B * L, V])); // [B*L, V]
  const targetLogp = tf.sum(tf.mul(logp, oneHotF32(targets.reshape([B * L]), V)), 1); // [B*L]
  return tf.div(tf.sum(tf.mul(tf.neg(targetLogp), weights.reshape([B * L]))), B) as tf.Scalar;
}
