import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { setupBackend } from '../../src/backend/backend.ts';
import type { ModelConfig } from '../../src/model/config.ts';
import { disposeParams, forward, initParams, type Params } from '../../src/model/model.ts';
import { setRecompute } from '../../src/model/recompute.ts';

const cfg: ModelConfig = {
  vocab_size: 13, d_model: 16, n_layers: 3, n_heads: 2, mlp_hidden: 48, max_seq_len: 24,
  rope_theta: 10000, norm_eps: 1e-5, mask_token_id: 12, eos_token_id: 1, pad_token_id: 0, init_seed: 3,
};
const B = 6;
const L = 24;
const ids = () => tf.tensor2d(Array.from({ length: B * L }, (_, i) => (i * 7 + 3) % 13), [B, L], 'int32');
const mask = () => tf.tensor2d(Array.from({ length: B * L }, (_, i) => (i % L < (i / L | 0) ? 0 : 1)), [B, L], 'int32'); // row b: b padded keys

/** A loss that touches every logit with a different weight, so every parameter gets a gradient. */
function loss(params: Params, x: tf.Tensor2D, m: tf.Tensor2D | null): tf.Scalar {
  const logits = forward(params, cfg, x, m); // [B, L, V]
  const w = tf.reshape(tf.sin(tf.range(0, B * L * cfg.vocab_size)), [B, L, cfg.vocab_size]);
  return tf.sum(tf.mul(tf.logSoftmax(logits), w)) as tf.Scalar;
}

function grads(params: Params, m: boolean): { value: number; g: Record<string, Float32Array> } {
  const x = ids();
  const am = m ? mask() : null;
  const { value, grads } = tf.variableGrads(() => loss(params, x, am));
  const out = { value: value.dataSync()[0], g: Object.fromEntries(Object.entries(grads).map(([k, v]) => [k, v.dataSync() as Float32Array])) };
  tf.dispose([x, ...(am ? [am] : []), value, ...Object.values(grads)]);
  return out;
}

describe('gradient checkpointing (training.recompute)', () => {
  beforeAll(async () => {
    await setupBackend('cpu');
  });
  afterEach(() => setRecompute(false));

  it('gives the plain pass gradients for every parameter, with and without padding', () => {
    const params = initParams(cfg);
    for (const m of [false, true]) {
      setRecompute(false);
      const plain = grads(params, m);
      setRecompute(true);
      const re = grads(params, m);
      expect(re.value).toBeCloseTo(plain.value, 4);
      expect(Object.keys(re.g).sort()).toEqual(Object.keys(plain.g).sort());
      expect(Object.keys(re.g).length).toBe(Object.keys(params).length);
      for (const [k, a] of Object.entries(plain.g)) {
        const b = re.g[k];
        let maxAbs = 0;
        let maxDiff = 0;
        for (let i = 0; i < a.length; i++) {
          maxAbs = Math.max(maxAbs, Math.abs(a[i]));
          maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
        }
        expect(maxAbs, k).toBeGreaterThan(0);
        expect(maxDiff / maxAbs, k).toBeLessThan(1e-5);
      }
    }
    disposeParams(params);
  });

  it('keeps less memory at the gradient peak, and leaks no tensor across steps', async () => {
    const params = initParams(cfg);
    const peak = async (on: boolean) => {
      setRecompute(on);
      const x = ids();
      const info = await tf.profile(() => {
        const { value, grads } = tf.variableGrads(() => loss(params, x, null));
        tf.dispose([value, ...Object.values(grads)]);
      });
      x.dispose();
      return info.peakBytes;
    };
    const plain = await peak(false);
    const re = await peak(true);
    expect(re).toBeLessThan(0.75 * plain);
    setRecompute(true);
    const before = tf.memory().numTensors;
    for (let s = 0; s < 3; s++) grads(params, s % 2 === 1);
    expect(tf.memory().numTensors).toBe(before);
    disposeParams(params);
  });

  it('changes nothing outside a gradient tape (sampling, evaluation)', () => {
    const params = initParams(cfg);
    const x = ids();
    setRecompute(false);
    const a = tf.tidy(() => forward(params, cfg, x, null));
    setRecompute(true);
    const before = tf.memory().numTensors;
    const b = tf.tidy(() => forward(params, cfg, x, null));
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    tf.dispose([a, b, x]);
    disposeParams(params);
  });
});
