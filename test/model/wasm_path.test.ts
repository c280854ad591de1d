/**
 * Every matmul of a forward + backward pass must reach XNNPACK's fast path: batch 1, no transposes. The spy replaces
 * the shipped wasm BatchMatMul BEFORE setupBackend wraps it, so it sees exactly the calls that reach the original
 * kernel (whose other cases run a naive loop 5–10× slower).
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { expect, it } from 'vitest';
import { setupBackend } from '../../src/backend/backend.ts';
import type { ModelConfig } from '../../src/model/config.ts';
import { disposeParams, forward, initParams } from '../../src/model/model.ts';
import { oneHotF32 } from '../../src/model/ops.ts';

it('forward + backward on wasm sends only batch-1, non-transposed matmuls to the shipped kernel', async () => {
  const calls: string[] = [];
  const orig = tf.getKernel('BatchMatMul', 'wasm')!;
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel({
    ...orig,
    kernelFunc: (args) => {
      const { a, b } = args.inputs as unknown as { a: tf.TensorInfo; b: tf.TensorInfo };
      const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
      const batch = (s: number[]) => s.slice(0, -2).reduce((x, y) => x * y, 1);
      calls.push(`${a.shape}x${b.shape} tA=${transposeA} tB=${transposeB} batch=${Math.max(batch(a.shape), batch(b.shape))}`);
      return orig.kernelFunc(args);
    },
  });
  await setupBackend('wasm');
  const cfg: ModelConfig = {
    vocab_size: 13, d_model: 16, n_layers: 2, n_heads: 2, mlp_hidden: 24, max_seq_len: 6,
    rope_theta: 10000, norm_eps: 1e-5, mask_token_id: 12, eos_token_id: 1, pad_token_id: 0, init_seed: 3,
  };
  const params = initParams(cfg);
  const ids = tf.tensor2d([[1, 2, 12, 4, 5, 6], [0, 3, 12, 12, 7, 1]], [2, 6], 'int32');
  const mask = tf.tensor2d([[1, 1, 1, 1, 1, 1], [0, 1, 1, 1, 1, 1]]);
  tf.tidy(() => {
    const { grads } = tf.variableGrads(() => {
      const logits = forward(params, cfg, ids, mask); // [2, 6, 13]
      return tf.neg(tf.mean(tf.mul(tf.logSoftmax(logits), oneHotF32(ids, 13)))) as tf.Scalar;
    });
    expect(Object.keys(grads).length).toBe(Object.keys(params).length);
  });
  expect(calls.length).toBeGreaterThan(20);
  const slow = calls.filter((c) => !c.endsWith('tA=false tB=false batch=1'));
  expect(slow).toEqual([]);
  tf.dispose([ids, mask]);
  disposeParams(params);
});
