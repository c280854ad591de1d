/**
 * Gradient checkpointing per transformer block (`training.recompute: true`).
 *
 * Under a gradient tape tfjs keeps every intermediate a block's backward pass needs (q, k, v, the attention
 * probabilities [B·H, L, L], the SwiGLU activations [B·L, mlp_hidden], ...) until the backward pass ends. A recomputed
 * block keeps only its input x [B·L, d]: its forward runs off the tape (tf.customGrad) and its backward runs the block
 * again under a fresh tape (tf.grads) to get dx and the block's weight gradients. Memory per block falls from all of
 * its activations to one [B·L, d] tensor, for one extra forward pass of each block (≈ +30% compute per step).
 * The block is a deterministic function of (x, weights), so the gradients are those of the plain pass (a test).
 *
 * One switch per thread (each data-parallel worker sets its own from its init message); it changes only passes run
 * under a gradient tape: a forward without one (sampling, evaluation) runs the same ops either way.
 */
import * as tf from '@tensorflow/tfjs';

let enabled = false;

/** Turns recomputation on or off for the forward passes of this thread (the trainers set it from the config). */
export function setRecompute(on: boolean): void {
  enabled = on;
}

export function recomputeEnabled(): boolean {
  return enabled;
}

/**
 * y = block(x, weights), with only x (and `consts`, tensors the block reads but never differentiates, e.g. the
 * attention bias and RoPE tables) kept for the backward pass. `weights` are the block's parameters (variables); their
 * gradients, and x's, come from re-running `block` in the backward pass.
 */
export function recomputed(
  block: (x: tf.Tensor2D, weights: tf.Tensor[], consts: tf.Tensor[]) => tf.Tensor2D,
  x: tf.Tensor2D,
  weights: tf.Tensor[],
  consts: tf.Tensor[],
): tf.Tensor2D {
  // tfjs types customGrad's function with a fixed arity; this one takes x, the weights and tfjs's save function.
  const f = tf.customGrad(((...args: unknown[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [xin, ...ws] = args as tf.Tensor[];
    save([xin, ...consts]); // kept only while a tape records (tfjs: saved tensors are clones, freed by the backward)
    const value = block(xin as tf.Tensor2D, ws, consts); // runs inside tfjs's own tidy, off the tape
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, ...cs] = saved;
      const g = tf.grads((...inputs: tf.Tensor[]) => block(inputs[0] as tf.Tensor2D, inputs.slice(1), cs));
      // tfjs runs this inside the outer backward pass, where a nested tf.grads replaces the engine's tape and then
      // clears it (engine.ts startTape/gradients), so the outer pass would lose its tape; keep it and put it back.
      const state = tf.engine().state;
      const outerTape = state.activeTape;
      try {
        return g([xs, ...ws], dy);
      } finally {
        state.activeTape = outerTape;
      }
    };
    return { value, gradFunc };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(x, ...weights) as tf.Tensor2D;
}
