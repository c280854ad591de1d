/**
 * Token-by-token decoding of a causal model (cfg.causal) with a KV cache: `prefill` runs the prompt rows once and
 * keeps every layer's keys and values; `decodeStep` runs one new token per row through the blocks, attending to the
 * cache, and appends its keys and values. Same weights and op order as model.ts `forward`, so the logits agree with a
 * full causal forward up to float rounding (test/model/causal.test.ts). Inference only (no gradients).
 *
 * Positions are column indices of the left-padded batch (RoPE depends only on differences of positions, and padded
 * keys are masked), as in model.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { ShapeError } from '../errors.ts';
import { headDim, type ModelConfig } from './config.ts';
import { blockName, forwardMain, lmHead, PREFIX, type Params } from './model.ts';
import { applyRope, matMul2d, rmsNorm, ropeTables, rotateHalfMatrix, silu, type Rope } from './ops.ts';

/** Additive bias on padded keys (model.ts PAD_BIAS). */
const PAD_BIAS = -1e9;

export interface KvCache {
  /** Per layer [N·H, T, dh]: keys after RoPE, and values, of the T positions seen so far. */
  keys: tf.Tensor3D[];
  values: tf.Tensor3D[];
  /** [N, T]: 0 for real keys, PAD_BIAS for left padding. */
  keyBias: tf.Tensor2D;
  /** T: positions cached. */
  length: number;
}

/** What a prefill or decode step returns: the last position's residual stream (before ln_f) [N, d] and the cache. */
export interface DecodeOutput {
  hidden: tf.Tensor2D;
  cache: KvCache;
}

function checkCausal(cfg: ModelConfig, fn: string): void {
  if (!cfg.causal) throw new ShapeError(`${fn}: the model is bidirectional (config causal is not true); a KV cache needs a causal model`);
}

/** Runs prompt rows ids [N, T] (left padding marked 0 in attentionMask [N, T], or null). The caller disposes the result. */
export function prefill(params: Params, cfg: ModelConfig, ids: tf.Tensor2D, attentionMask: tf.Tensor2D | null): DecodeOutput {
  checkCausal(cfg, 'prefill');
  const [N, T] = ids.shape;
  return tf.tidy(() => {
    const main = forwardMain(params, cfg, ids, attentionMask);
    const rows = tf.reshape(main.hidden, [N, T, cfg.d_model]);
    const hidden = tf.reshape(tf.slice(rows, [0, T - 1, 0], [N, 1, cfg.d_model]), [N, cfg.d_model]) as tf.Tensor2D; // [N, d]
    const keyBias = attentionMask ? tf.mul(tf.sub(1, tf.cast(attentionMask, 'float32')), PAD_BIAS) as tf.Tensor2D : tf.zeros([N, T]) as tf.Tensor2D;
    return { hidden, cache: { keys: main.keys, values: main.values, keyBias, length: T } };
  });
}

/** RoPE tables for the single position `pos` ([1, dh] rows). */
export function ropeAt(pos: number, dh: number, theta: number): Rope {
  const { cos, sin } = ropeTables(pos + 1, dh, theta);
  return { cos: tf.tensor2d(cos.slice(pos * dh), [1, dh]), sin: tf.tensor2d(sin.slice(pos * dh), [1, dh]), rot: tf.tensor2d(rotateHalfMatrix(dh), [dh, dh]) };
}

/**
 * Attention of Tq queries over T cached keys, no mask beyond keyBias (every cached key is at or before the queries).
 * q [N·H, Tq, dh], k and v [N·H, T, dh], keyBias [N, T] -> [N·H, Tq, dh].
 */
export function cachedAttention(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, keyBias: tf.Tensor2D): tf.Tensor3D {
  const [n, Tq, dh] = q.shape;
  const [N, T] = keyBias.shape;
  const s = tf.mul(tf.matMul(q, tf.transpose(k, [0, 2, 1])), 1 / Math.sqrt(dh)); // [N·H, Tq, T]
  const biased = tf.reshape(tf.add(tf.reshape(s, [N, n / N, Tq, T]), tf.reshape(keyBias, [N, 1, 1, T])), [n, Tq, T]);
  return tf.matMul(tf.softmax(biased), v) as tf.Tensor3D; // [N·H, Tq, dh]
}

/** [N·H, 1, dh] heads of x [N, d] @ W. */
export function headsOf(x: tf.Tensor2D, w: tf.Tensor2D, cfg: ModelConfig): tf.Tensor3D {
  const N = x.shape[0];
  const dh = headDim(cfg);
  return tf.reshape(matMul2d(x, w), [N * cfg.n_heads, 1, dh]) as tf.Tensor3D; // [N, H·dh] -> [N·H, 1, dh]
}

/**
 * One token per row, tokens int32 [N], at position cache.length. Returns the new last hidden state [N, d] and a new
 * cache (the old one is disposed). Runs in its own tidy.
 */
export function decodeStep(params: Params, cfg: ModelConfig, tokens: tf.Tensor1D, cache: KvCache): DecodeOutput {
  checkCausal(cfg, 'decodeStep');
  const N = tokens.shape[0];
  const pos = cache.length;
  if (pos >= cfg.max_seq_len) throw new ShapeError(`decodeStep: position ${pos} is past max_seq_len ${cfg.max_seq_len}`);
  const out = tf.tidy(() => {
    const rope = ropeAt(pos, headDim(cfg), cfg.rope_theta);
    const keyBias = tf.concat([cache.keyBias, tf.zeros([N, 1])], 1) as tf.Tensor2D; // [N, T+1]
    const keys: tf.Tensor3D[] = [];
    const values: tf.Tensor3D[] = [];
    let h = tf.gather(params[`${PREFIX}wte.weight`], tokens) as tf.Tensor2D; // [N, d]
    for (let i = 0; i < cfg.n_layers; i++) {
      const w = (name: string) => params[blockName(i, name)] as tf.Tensor2D;
      const x = rmsNorm(h, params[blockName(i, 'attn_norm')] as tf.Tensor1D, cfg.norm_eps); // [N, d]
      const q = applyRope(headsOf(x, w('q_proj'), cfg), rope);
      keys.push(tf.concat([cache.keys[i], applyRope(headsOf(x, w('k_proj'), cfg), rope)], 1) as tf.Tensor3D); // [N·H, T+1, dh]
      values.push(tf.concat([cache.values[i], headsOf(x, w('v_proj'), cfg)], 1) as tf.Tensor3D);
      const o = tf.reshape(cachedAttention(q, keys[i], values[i], keyBias), [N, cfg.d_model]) as tf.Tensor2D; // [N, d]
      const mid = tf.add(h, matMul2d(o, w('attn_out'))) as tf.Tensor2D;
      const nrm = rmsNorm(mid, params[blockName(i, 'ff_norm')] as tf.Tensor1D, cfg.norm_eps);
      h = tf.add(mid, matMul2d(tf.mul(silu(matMul2d(nrm, w('ff_proj'))), matMul2d(nrm, w('up_proj'))), w('ff_out'))) as tf.Tensor2D;
    }
    return { hidden: h, cache: { keys, values, keyBias, length: pos + 1 } };
  });
  disposeCache(cache);
  return out;
}

export function disposeCache(cache: KvCache): void {
  tf.dispose([...cache.keys, ...cache.values, cache.keyBias]);
}

/** The causal model as a sampling NextTokenModel (sampling/autoregressive.ts): one forward pass per token. */
export function cachedDecoder(params: Params, cfg: ModelConfig): { start(ids: tf.Tensor2D, mask: tf.Tensor2D | null): tf.Tensor2D; next(tokens: tf.Tensor1D): tf.Tensor2D; end(): void; nfe(): number } {
  let cache: KvCache | null = null;
  let calls = 0;
  const head = (o: DecodeOutput): tf.Tensor2D => {
    cache = o.cache;
    calls++;
    const logits = tf.tidy(() => lmHead(params, cfg, o.hidden));
    o.hidden.dispose();
    return logits;
  };
  return {
    start: (ids, mask) => head(prefill(params, cfg, ids, mask)),
    next: (tokens) => head(decodeStep(params, cfg, tokens, cache!)),
    end: () => {
      if (cache) disposeCache(cache);
      cache = null;
    },
    nfe: () => calls,
  };
}
