/**
 * LLaDA's transformer (OLMo-derived, `modeling_llada.py`; shared/research/samplers.md §1 "Architecture"):
 *   h = wte[ids]
 *   per block: h += attn_out(Attn(RoPE(q), RoPE(k), v) on attn_norm(h)), bidirectional, padding masked on keys only
 *              (cfg.causal: a causal mask too, for the autoregressive variant; kv_cache.ts decodes it token by token)
 *              h += ff_out(silu(ff_proj(n)) · up_proj(n)), n = ff_norm(h)          (SwiGLU)
 *   logits = ln_f(h) @ transformer.ff_out                                           (untied LM head, no biases)
 * Parameter names are LLaDA's (see config.ts); linear weights live in memory as [in, out] so every matmul is `x @ W`.
 */
import * as tf from '@tensorflow/tfjs';
import { ShapeError, assertShape } from '../errors.ts';
import { Rng } from '../rng.ts';
import { headDim, type ModelConfig } from './config.ts';
import { applyRope, biasedAttention, makeRope, matMul2d, rmsNorm, ropeColumns, swiglu, type Rope } from './ops.ts';
import { recomputeEnabled, recomputed } from './recompute.ts';

export type Params = Record<string, tf.Variable>;

export const PREFIX = 'model.transformer.';
/** Additive attention bias on padded keys: exp(−1e9 − max) is exactly 0 in fp32. */
const PAD_BIAS = -1e9;
/** Variable-name prefix per model instance: tfjs variable names are process-global (policy and reference coexist). */
let instanceCounter = 0;

export function blockName(i: number, what: string): string {
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

/** A forward pass's last hidden state (before ln_f) and every layer's keys and values (RoPE applied). */
export interface MainStream {
  /** [B·L, d]: the residual stream after the last block, before the final RMSNorm. */
  hidden: tf.Tensor2D;
  /** Per layer [B·H, L, dh]: the keys after RoPE and the values; a KV cache (kv_cache.ts), L2D's flow stream reads them. */
  keys: tf.Tensor3D[];
  values: tf.Tensor3D[];
  /** The attention bias the blocks used: [B, L] padding (bidirectional), [B, L, L] causal + padding, or null. */
  bias: tf.Tensor2D | tf.Tensor3D | null;
}

/**
 * Logits of every position. ids int32 [B, L] with L ≤ max_seq_len; attentionMask [B, L] (1 = real token,
 * 0 = padding; masks keys only) or null. Bidirectional unless cfg.causal, which adds the causal mask (position l
 * attends to keys ≤ l; its logits predict the token at l + 1). Returns float32 logits [B, L, V].
 * Creates no tidy of its own: call it inside tf.tidy / tf.variableGrads.
 */
export function forward(params: Params, cfg: ModelConfig, ids: tf.Tensor2D, attentionMask: tf.Tensor2D | null = null, cols: Columns | null = null): tf.Tensor3D {
  const [B, L] = ids.shape;
  const [start, end] = checkColumns(cols, L, cfg);
  const h = runBlocks(params, cfg, ids, attentionMask, false, [start, end]).hidden; // [B·(end − start), d]
  return tf.reshape(lmHead(params, cfg, h), [B, end - start, cfg.vocab_size]) as tf.Tensor3D;
}

/**
 * Columns [start, end) whose logits a caller wants (`forward`'s last argument; null = all). Every block but the last
 * still runs on every column (the last block's keys and values attend to all of them), but the last block's queries,
 * attention output, SwiGLU and the LM head run on these columns only: the samplers read one semi-autoregressive
 * block's logits, so a 32-column block of an 80-column row skips 60% of the last block's work (the same logits: a
 * test). Bidirectional models only (a causal model's cached decoding is kv_cache.ts).
 */
export type Columns = readonly [number, number];

function checkColumns(cols: Columns | null, L: number, cfg: ModelConfig): [number, number] {
  if (cols === null) return [0, L];
  const [start, end] = cols;
  if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start < end && end <= L)) {
    throw new ShapeError(`forward: columns [${start}, ${end}) must lie inside [0, ${L})`);
  }
  if (cfg.causal && (start !== 0 || end !== L)) throw new ShapeError('forward: logits of some columns only are for the bidirectional model (config causal is true)');
  return [start, end];
}

/** The same pass as `forward`, keeping its last hidden state and every layer's keys and values (MainStream). */
export function forwardMain(params: Params, cfg: ModelConfig, ids: tf.Tensor2D, attentionMask: tf.Tensor2D | null = null): MainStream {
  return runBlocks(params, cfg, ids, attentionMask, true);
}

/** hidden [N, d] (before the final norm) -> logits [N, V] = ln_f(hidden) @ ff_out. */
export function lmHead(params: Params, cfg: ModelConfig, hidden: tf.Tensor2D): tf.Tensor2D {
  const h = rmsNorm(hidden, params[`${PREFIX}ln_f.weight`] as tf.Tensor1D, cfg.norm_eps);
  return matMul2d(h, params[`${PREFIX}ff_out.weight`] as tf.Tensor2D); // [N, V]
}

/** [L, L] additive causal bias: 0 where key ≤ query, PAD_BIAS above the diagonal. */
export function causalBias(L: number): tf.Tensor2D {
  const b = new Float32Array(L * L);
  for (let q = 0; q < L; q++) for (let k = q + 1; k < L; k++) b[q * L + k] = PAD_BIAS;
  return tf.tensor2d(b, [L, L]);
}

/** cols: the columns the LAST block computes its output for (forward's `Columns`); the default, and with keep, all. */
function runBlocks(params: Params, cfg: ModelConfig, ids: tf.Tensor2D, attentionMask: tf.Tensor2D | null, keep: boolean, cols: Columns | null = null): MainStream {
  assertShape('forward: ids', ids.shape, [null, null], '[B, L]');
  if (ids.dtype !== 'int32') throw new ShapeError(`forward: ids must be int32, got ${ids.dtype}`);
  const [B, L] = ids.shape;
  if (L > cfg.max_seq_len) throw new ShapeError(`forward: ids length L = ${L} exceeds max_seq_len ${cfg.max_seq_len}`);
  if (attentionMask) assertShape('forward: attentionMask', attentionMask.shape, [B, L], `[B, L] = [${B}, ${L}]`);
  checkConfig(cfg);
  checkParams(params, cfg);
  const dh = headDim(cfg);
  const keyBias = attentionMask ? tf.mul(tf.sub(1, tf.cast(attentionMask, 'float32')), PAD_BIAS) as tf.Tensor2D : null; // [B, L]
  // Causal: bias[b, q, k] = causal[q, k] + keyBias[b, k]  ([1, L, L] without padding).
  const bias = !cfg.causal ? keyBias
    : keyBias ? tf.add(tf.reshape(causalBias(L), [1, L, L]), tf.reshape(keyBias, [B, 1, L])) as tf.Tensor3D : tf.reshape(causalBias(L), [1, L, L]) as tf.Tensor3D;
  const rope = makeRope(L, dh, cfg.rope_theta);
  const keys: tf.Tensor3D[] = [];
  const values: tf.Tensor3D[] = [];
  let h = tf.gather(params[`${PREFIX}wte.weight`], tf.reshape(ids, [B * L])) as tf.Tensor2D; // [B·L, d]
  const recompute = !keep && recomputeEnabled();
  // The tensors a recomputed block reads but never differentiates; its backward pass gets them back as saved copies
  // (the originals are freed when the forward pass's tidy ends, before any backward pass runs).
  const consts: tf.Tensor[] = [rope.cos, rope.sin, rope.rot, ...(bias ? [bias] : [])];
  const narrow = !keep && cols !== null && (cols[0] !== 0 || cols[1] !== L) ? cols : null; // the last block's columns
  for (let i = 0; i < cfg.n_layers; i++) {
    const x = h;
    if (narrow && i === cfg.n_layers - 1) {
      // not recomputed: on a few columns the last block's activations are the small part of the pass
      h = tf.tidy(() => blockForward(params, cfg, i, x, B, L, bias, rope, narrow).next);
      continue;
    }
    if (recompute) {
      // Gradient checkpointing (recompute.ts): only x is kept for the backward pass, which runs the block again.
      const names = BLOCK_WEIGHTS.map((w) => blockName(i, w));
      h = recomputed((xin, ws, [cos, sin, rot, b]) => tf.tidy(() => {
        const weights = Object.fromEntries(names.map((n, j) => [n, ws[j]]));
        return blockForward(weights, cfg, i, xin, B, L, (b ?? null) as tf.Tensor2D | tf.Tensor3D | null, { cos, sin, rot } as Rope).next;
      }), x, names.map((n) => params[n]), consts);
      continue;
    }
    // One tidy per block: the block's intermediates are freed as soon as it ends, except the ones a gradient tape
    // saved for the backward pass (tfjs keeps those). Without it a forward held every layer's intermediates until the
    // caller's tidy ended (≈ 55 MB per block at 64 × 34 tokens; GRPO's 5-state trajectory estimate peaked at 1.1 GB).
    const out = tf.tidy(() => {
      const b = blockForward(params, cfg, i, x, B, L, bias, rope);
      return keep ? [b.next, b.k, b.v] : [b.next];
    });
    h = out[0] as tf.Tensor2D;
    if (keep) {
      keys.push(out[1] as tf.Tensor3D);
      values.push(out[2] as tf.Tensor3D);
    }
  }
  return { hidden: h, keys, values, bias };
}

/** The weights of block i, by their name's last part (blockName). */
const BLOCK_WEIGHTS = ['attn_norm', 'q_proj', 'k_proj', 'v_proj', 'attn_out', 'ff_norm', 'ff_proj', 'up_proj', 'ff_out'];

/**
 * Block i: x [B·L, d] -> the next residual stream [B·T, d], with the layer's keys (after RoPE) and values of all L
 * columns. cols: the output's columns [start, end), T = end − start (null: all, T = L).
 */
function blockForward(params: Record<string, tf.Tensor>, cfg: ModelConfig, i: number, x: tf.Tensor2D, B: number, L: number, bias: tf.Tensor2D | tf.Tensor3D | null, rope: Rope, cols: Columns | null = null): { next: tf.Tensor2D; k: tf.Tensor3D; v: tf.Tensor3D } {
  const a = attentionBlock(params, cfg, i, rmsNorm(x, params[blockName(i, 'attn_norm')] as tf.Tensor1D, cfg.norm_eps), B, L, bias, rope, cols);
  const mid = tf.add(cols ? columnsOf(x, B, L, cols) : x, a.out) as tf.Tensor2D; // [B·T, d]
  const nrm = rmsNorm(mid, params[blockName(i, 'ff_norm')] as tf.Tensor1D, cfg.norm_eps); // [B·T, d]
  const gate = matMul2d(nrm, params[blockName(i, 'ff_proj')] as tf.Tensor2D); // [B·T, m]
  const up = matMul2d(nrm, params[blockName(i, 'up_proj')] as tf.Tensor2D); // [B·T, m]
  const next = tf.add(mid, matMul2d(swiglu(gate, up), params[blockName(i, 'ff_out')] as tf.Tensor2D)) as tf.Tensor2D; // [B·T, d]
  return { next, k: a.k, v: a.v };
}

/** Rows of columns [start, end) of x [B·L, d] -> [B·(end − start), d]. */
export function columnsOf(x: tf.Tensor2D, B: number, L: number, [start, end]: Columns): tf.Tensor2D {
  const d = x.shape[1];
  return tf.reshape(tf.slice(tf.reshape(x, [B, L, d]), [0, start, 0], [B, end - start, d]), [B * (end - start), d]) as tf.Tensor2D;
}

/**
 * x [B·L, d] (already attn_norm'ed) -> attn_out(attention) [B·T, d] for the queries of columns `cols` (null: all,
 * T = L), with the keys (after RoPE) and values of every column [B·H, L, dh].
 */
function attentionBlock(params: Record<string, tf.Tensor>, cfg: ModelConfig, i: number, x: tf.Tensor2D, B: number, L: number, bias: tf.Tensor2D | tf.Tensor3D | null, rope: Rope, cols: Columns | null = null): { out: tf.Tensor2D; k: tf.Tensor3D; v: tf.Tensor3D } {
  const H = cfg.n_heads;
  const dh = headDim(cfg);
  const heads = (rows: tf.Tensor2D, T: number, w: string): tf.Tensor3D => {
    const y = tf.reshape(matMul2d(rows, params[blockName(i, w)] as tf.Tensor2D), [B, T, H, dh]); // [B, T, H, dh]
    return tf.reshape(tf.transpose(y, [0, 2, 1, 3]), [B * H, T, dh]) as tf.Tensor3D; // [B·H, T, dh]
  };
  const T = cols ? cols[1] - cols[0] : L;
  const q = applyRope(heads(cols ? columnsOf(x, B, L, cols) : x, T, 'q_proj'), cols ? ropeColumns(rope, cols[0], cols[1]) : rope); // [B·H, T, dh]
  const k = applyRope(heads(x, L, 'k_proj'), rope); // [B·H, L, dh]
  const v = heads(x, L, 'v_proj');
  const o = biasedAttention(q, k, v, bias, 1 / Math.sqrt(dh)); // [B·H, T, dh]
  const merged = tf.reshape(tf.transpose(tf.reshape(o, [B, H, T, dh]), [0, 2, 1, 3]), [B * T, cfg.d_model]) as tf.Tensor2D; // [B·T, d]
  return { out: matMul2d(merged, params[blockName(i, 'attn_out')] as tf.Tensor2D), k, v };
}
