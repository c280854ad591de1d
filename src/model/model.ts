/**
 * LLaDA's transformer (OLMo-derived, `modeling_llada.py`; shared/research/samplers.md §1 "Architecture"):
 *   h = wte[ids]
 *   per block: h += attn_out(Attn(RoPE(q), RoPE(k), v) on attn_norm(h)), bidirectional, padding masked on keys only
 *              h += ff_out(silu(ff_proj(n)) · up_proj(n)), n = ff_norm(h)          (SwiGLU)
 *   logits = ln_f(h) @ transformer.ff_out                                           (untied LM head, no biases)
 * Parameter names are LLaDA's (see config.ts); linear weights live in memory as [in, out] so every matmul is `x @ W`.
 */
import * as tf from '@tensorflow/tfjs';
import { ShapeError, assertShape } from '../errors.ts';
import { Rng } from '../rng.ts';
import { headDim, type ModelConfig } from './config.ts';
import { applyRope, attention, makeRope, matMul2d, rmsNorm, silu, type Rope } from './ops.ts';

export type Params = Record<string, tf.Variable>;

const PREFIX = 'model.transformer.';
/** Additive attention bias on padded keys: exp(−1e9 − max) is exactly 0 in fp32. */
const PAD_BIAS = -1e9;
/** Variable-name prefix per model instance: tfjs variable names are process-global (policy and reference coexist). */
let instanceCounter = 0;

function blockName(i: number, what: string): string {
  return `${PREFIX}blocks.${i}.${what}.weight`;
}

/** In-memory shapes of every parameter, in LLaDA's order. Linear weights are [in, out]. */
export function paramShapes(cfg: ModelConfig): Record<string, number[]> {
  const { vocab_size: V, d_model: d, mlp_hidden: m } = cfg;
  const shapes: Record<string, number[]> = { [`${PREFIX}wte.weight`]: [V, d] };
  for (let i = 0; i < cfg.n_layers; i++) {
    shapes[blockName(i, 'attn_norm')] = [d];
    for (const p of ['q_proj', 'k_proj', 'v_proj', 'attn_out']) shapes[blockName(i, p)] = [d, d];
    shapes[blockName(i, 'ff_norm')] = [d];
    shapes[blockName(i, 'ff_proj')] = [d, m];
    shapes[blockName(i, 'up_proj')] = [d, m];
    shapes[blockName(i, 'ff_out')] = [m, d];
  }
  shapes[`${PREFIX}ln_f.weight`] = [d];
  shapes[`${PREFIX}ff_out.weight`] = [d, V];
  return shapes;
}

function checkConfig(cfg: ModelConfig): void {
  if (cfg.d_model % cfg.n_heads !== 0) throw new ShapeError(`model: d_model ${cfg.d_model} is not divisible by n_heads ${cfg.n_heads}`);
  if (headDim(cfg) % 2 !== 0) throw new ShapeError(`model: head_dim d_model/n_heads = ${headDim(cfg)} must be even for RoPE`);
}

/**
 * Fresh parameters: normal(0, 0.02) for the embedding and linears; the residual output projections (attn_out,
 * blocks.*.ff_out) use 0.02/sqrt(2·n_layers) (GPT-2 style); norm weights 1. Each tensor draws from its own Rng
 * stream `init/<name>` of cfg.init_seed, so the values depend only on (seed, name, shape), not on the backend.
 */
export function initParams(cfg: ModelConfig): Params {
  checkConfig(cfg);
  const tag = `m${instanceCounter++}/`;
  const outStd = 0.02 / Math.sqrt(2 * cfg.n_layers);
  const params: Params = {};
  for (const [name, shape] of Object.entries(paramShapes(cfg))) {
    const size = shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(size);
    if (/_norm\.weight$|ln_f\.weight$/.test(name)) values.fill(1);
    else {
      const std = /blocks\.\d+\.(attn_out|ff_out)\.weight$/.test(name) ? outStd : 0.02; // not the LM head
      const rng = new Rng(cfg.init_seed, `init/${name}`);
      for (let i = 0; i < size; i++) values[i] = std * rng.normal();
    }
    const t = tf.tensor(values, shape, 'float32');
    params[name] = tf.variable(t, true, tag + name);
    t.dispose();
  }
  return params;
}

/** Total number of scalars. */
export function countParams(params: Params): number {
  return Object.values(params).reduce((s, v) => s + v.size, 0);
}

export function disposeParams(params: Params): void {
  for (const v of Object.values(params)) v.dispose();
}

/** Deep copy (new buffers, new variable names) with its own trainable flag. */
export function cloneParams(params: Params, trainable: boolean): Params {
  const tag = `m${instanceCounter++}/`;
  const out: Params = {};
  for (const [name, v] of Object.entries(params)) {
    const copy = tf.tidy(() => tf.mul(v, tf.scalar(1, v.dtype)));
    out[name] = tf.variable(copy, trainable, tag + name);
    copy.dispose();
  }
  return out;
}

function checkParams(params: Params, cfg: ModelConfig): void {
  for (const [name, shape] of Object.entries(paramShapes(cfg))) {
    const p = params[name];
    if (!p) throw new ShapeError(`forward: parameter ${name} is missing`);
    assertShape(`forward: parameter ${name}`, p.shape, shape);
  }
}

/**
 * Logits of every position. ids int32 [B, L] with L ≤ max_seq_len; attentionMask [B, L] (1 = real token,
 * 0 = padding; masks keys only, there is no causal mask) or null. Returns float32 logits [B, L, V].
 * Creates no tidy of its own: call it inside tf.tidy / tf.variableGrads.
 */
export function forward(params: Params, cfg: ModelConfig, ids: tf.Tensor2D, attentionMask: tf.Tensor2D | null = null): tf.Tensor3D {
  assertShape('forward: ids', ids.shape, [null, null], '[B, L]');
  if (ids.dtype !== 'int32') throw new ShapeError(`forward: ids must be int32, got ${ids.dtype}`);
  const [B, L] = ids.shape;
  if (L > cfg.max_seq_len) throw new ShapeError(`forward: ids length L = ${L} exceeds max_seq_len ${cfg.max_seq_len}`);
  if (attentionMask) assertShape('forward: attentionMask', attentionMask.shape, [B, L], `[B, L] = [${B}, ${L}]`);
  checkConfig(cfg);
  checkParams(params, cfg);
  const dh = headDim(cfg);
  const keyBias = attentionMask ? tf.mul(tf.sub(1, tf.cast(attentionMask, 'float32')), PAD_BIAS) as tf.Tensor2D : null; // [B, L]
  const rope = makeRope(L, dh, cfg.rope_theta);
  let h = tf.gather(params[`${PREFIX}wte.weight`], tf.reshape(ids, [B * L])) as tf.Tensor2D; // [B·L, d]
  for (let i = 0; i < cfg.n_layers; i++) {
    // One tidy per block: the block's intermediates are freed as soon as it ends, except the ones a gradient tape
    // saved for the backward pass (tfjs keeps those). Without it a forward held every layer's intermediates until the
    // caller's tidy ended (≈ 55 MB per block at 64 × 34 tokens; GRPO's 5-state trajectory estimate peaked at 1.1 GB).
    const x = h;
    h = tf.tidy(() => {
      const a = attentionBlock(params, cfg, i, rmsNorm(x, params[blockName(i, 'attn_norm')] as tf.Tensor1D, cfg.norm_eps), B, L, keyBias, rope);
      const mid = tf.add(x, a) as tf.Tensor2D; // [B·L, d]
      const nrm = rmsNorm(mid, params[blockName(i, 'ff_norm')] as tf.Tensor1D, cfg.norm_eps); // [B·L, d]
      const gate = silu(matMul2d(nrm, params[blockName(i, 'ff_proj')] as tf.Tensor2D)); // [B·L, m]
      const up = matMul2d(nrm, params[blockName(i, 'up_proj')] as tf.Tensor2D); // [B·L, m]
      return tf.add(mid, matMul2d(tf.mul(gate, up), params[blockName(i, 'ff_out')] as tf.Tensor2D)) as tf.Tensor2D; // [B·L, d]
    });
  }
  h = rmsNorm(h, params[`${PREFIX}ln_f.weight`] as tf.Tensor1D, cfg.norm_eps);
  const logits = matMul2d(h, params[`${PREFIX}ff_out.weight`] as tf.Tensor2D); // [B·L, V]
  return tf.reshape(logits, [B, L, cfg.vocab_size]) as tf.Tensor3D;
}

/** x [B·L, d] (already attn_norm'ed) -> attn_out(attention) [B·L, d]. */
function attentionBlock(params: Params, cfg: ModelConfig, i: number, x: tf.Tensor2D, B: number, L: number, keyBias: tf.Tensor2D | null, rope: Rope): tf.Tensor2D {
  const H = cfg.n_heads;
  const dh = headDim(cfg);
  const heads = (w: string): tf.Tensor3D => {
    const y = tf.reshape(matMul2d(x, params[blockName(i, w)] as tf.Tensor2D), [B, L, H, dh]); // [B, L, H, dh]
    return tf.reshape(tf.transpose(y, [0, 2, 1, 3]), [B * H, L, dh]) as tf.Tensor3D; // [B·H, L, dh]
  };
  const q = applyRope(heads('q_proj'), rope);
  const k = applyRope(heads('k_proj'), rope);
  const v = heads('v_proj');
  const o = attention(q, k, v, keyBias, 1 / Math.sqrt(dh)); // [B·H, L, dh]
  const merged = tf.reshape(tf.transpose(tf.reshape(o, [B, H, L, dh]), [0, 2, 1, 3]), [B * L, cfg.d_model]) as tf.Tensor2D; // [B·L, d]
  return matMul2d(merged, params[blockName(i, 'attn_out')] as tf.Tensor2D);
}
