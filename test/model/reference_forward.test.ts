/**
 * The training forward (model.ts: attention with the scale on q and FlashAttention's rowsum(dO ⊙ o), RMSNorm and
 * SwiGLU with hand-written backwards) against the plain formulation it replaced, written here with tf's own ops and
 * autodiff only: rotate_half by slice/concat, scores scaled after q kᵀ, silu(gate) · up, tf.sum for the norm weights.
 * Logits and every parameter's gradient agree to 1e-5 (relative to the largest entry), with padding and causal, on
 * cpu and on wasm.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { setupBackend } from '../../src/backend/backend.ts';
import { headDim, type ModelConfig } from '../../src/model/config.ts';
import { blockName, causalBias, disposeParams, forward, initParams, PREFIX, type Params } from '../../src/model/model.ts';
import { ropeTables } from '../../src/model/ops.ts';

const base: ModelConfig = {
  vocab_size: 11, d_model: 12, n_layers: 2, n_heads: 3, mlp_hidden: 20, max_seq_len: 7,
  rope_theta: 10000, norm_eps: 1e-5, mask_token_id: 10, eos_token_id: 1, pad_token_id: 0, init_seed: 5,
};
const [B, L] = [3, 7];

/** The previous formulation, plain tf ops: ids [B, L] -> logits [B, L, V]. */
function referenceForward(p: Params, cfg: ModelConfig, ids: tf.Tensor2D, mask: tf.Tensor2D | null = null): tf.Tensor3D {
  const H = cfg.n_heads;
  const dh = headDim(cfg);
  const d = cfg.d_model;
  const norm = (x: tf.Tensor, w: tf.Tensor) => tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), cfg.norm_eps))), w);
  const { cos, sin } = ropeTables(L, dh, cfg.rope_theta);
  const [c, s] = [tf.tensor2d(cos, [L, dh]), tf.tensor2d(sin, [L, dh])];
  const rope = (x: tf.Tensor) => {
    const [x1, x2] = tf.split(x, 2, -1);
    return tf.add(tf.mul(x, c), tf.mul(tf.concat([tf.neg(x2), x1], -1), s));
  };
  const heads = (x: tf.Tensor) => tf.transpose(tf.reshape(x, [B, L, H, dh]), [0, 2, 1, 3]); // [B, H, L, dh]
  let bias: tf.Tensor = tf.zeros([B, 1, 1, L]);
  if (mask) bias = tf.reshape(tf.mul(tf.sub(1, mask), -1e9), [B, 1, 1, L]);
  if (cfg.causal) bias = tf.add(bias, tf.reshape(causalBias(L), [1, 1, L, L]));
  let h: tf.Tensor = tf.gather(p[`${PREFIX}wte.weight`], tf.reshape(ids, [B * L])); // [B·L, d]
  for (let i = 0; i < cfg.n_layers; i++) {
    const W = (n: string) => p[blockName(i, n)];
    const x = norm(h, W('attn_norm'));
    const q = rope(heads(tf.matMul(x, W('q_proj'))));
    const k = rope(heads(tf.matMul(x, W('k_proj'))));
    const v = heads(tf.matMul(x, W('v_proj')));
    const att = tf.softmax(tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(dh)), bias)); // [B, H, L, L]
    const o = tf.reshape(tf.transpose(tf.matMul(att, v), [0, 2, 1, 3]), [B * L, d]);
    h = tf.add(h, tf.matMul(o, W('attn_out')));
    const n = norm(h, W('ff_norm'));
    const g = tf.matMul(n, W('ff_proj'));
    h = tf.add(h, tf.matMul(tf.mul(tf.mul(g, tf.sigmoid(g)), tf.matMul(n, W('up_proj'))), W('ff_out')));
  }
  const logits = tf.matMul(norm(h, p[`${PREFIX}ln_f.weight`]), p[`${PREFIX}ff_out.weight`]);
  return tf.reshape(logits, [B, L, cfg.vocab_size]) as tf.Tensor3D;
}

/** Largest |a − b| over the largest |a|. */
function relErr(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] / Math.max(tf.max(tf.abs(a)).dataSync()[0], 1e-30));
}

function compare(cfg: ModelConfig, padded: boolean): void {
  const params = initParams(cfg);
  const ids = tf.tensor2d(Array.from({ length: B * L }, (_, j) => (j * 5 + 2) % cfg.vocab_size), [B, L], 'int32');
  const mask = padded ? tf.tensor2d(Array.from({ length: B * L }, (_, j) => (j % L < (j / L | 0) ? 0 : 1)), [B, L]) : null;
  const w = tf.tidy(() => tf.reshape(tf.sin(tf.range(0, B * L * cfg.vocab_size)), [B, L, cfg.vocab_size])); // touches every logit
  const run = (f: typeof forward) => tf.variableGrads(() => tf.sum(tf.mul(tf.logSoftmax(f(params, cfg, ids, mask)), w)) as tf.Scalar);
  tf.tidy(() => {
    expect(relErr(referenceForward(params, cfg, ids, mask), forward(params, cfg, ids, mask))).toBeLessThan(1e-5);
    const ref = run(referenceForward);
    const mine = run(forward);
    expect(Math.abs(mine.value.dataSync()[0] - ref.value.dataSync()[0])).toBeLessThan(1e-4);
    expect(Object.keys(mine.grads).sort()).toEqual(Object.keys(ref.grads).sort());
    for (const [name, g] of Object.entries(ref.grads)) expect(relErr(g, mine.grads[name]), name).toBeLessThan(1e-5);
  });
  tf.dispose([ids, w, ...(mask ? [mask] : [])]);
  disposeParams(params);
}

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`training forward equals the plain formulation (${backend})`, () => {
    afterAll(async () => {
      await setupBackend('cpu');
    });
    it('bidirectional, with and without padding; causal with padding', async () => {
      await setupBackend(backend);
      const before = tf.memory().numTensors;
      compare(base, false);
      compare(base, true);
      compare({ ...base, causal: true }, true);
      expect(tf.memory().numTensors).toBe(before);
    });
  });
}
