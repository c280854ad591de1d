/**
 * Inference-only forward of the bidirectional model over a WINDOW of columns, the other columns' keys and values
 * read from a cache: Fast-dLLM's block-wise KV cache (arXiv 2505.22618, samplers.md §5) for semi-autoregressive
 * decoding.
 *   prefix cache: window = [block start, L) (current block + masked suffix); cached keys/values: [0, block start).
 *   dual cache:   window = [block start, block end);                     cached keys/values: the rest.
 * The cache comes from a full pass (window [0, L), no cache) at the block's first step. It is APPROXIMATE: with
 * bidirectional attention the cached columns' keys/values of layers ≥ 1 would change as the block's tokens change.
 * It is exact when the cached columns' keys/values cannot change: always for layer 0 (they depend only on the token
 * and its position), so for a 1-layer model, and for every model at the first step of each block (test/model/block_cache.test.ts).
 *
 * The no-gradient fast path: plain tf.matMul, RMSNorm and RoPE (no customGrad wrapper, no saved tensors) and the same op order as
 * model.ts `forward`, so a window of [0, L) gives forward's logits up to float rounding.
 * Positions are column indices of the left-padded batch, as in model.ts (RoPE at absolute columns).
 */
import * as tf from '@tensorflow/tfjs';
import { ShapeError } from '../errors.ts';
import { headDim, type ModelConfig } from './config.ts';
import { cachedAttention } from './kv_cache.ts';
import { blockName, columnsOf, forward, PREFIX, type Columns, type Params } from './model.ts';
import { applyRope, makeRope, rmsNormNoGrad as rmsNorm, ropeColumns, silu, type Rope } from './ops.ts';

/** Additive bias on padded keys (model.ts PAD_BIAS). */
const PAD_BIAS = -1e9;

/** Per layer [N·H, L, dh]: keys (RoPE applied) and values of every column of the last full pass. */
export interface ColumnKv {
  keys: tf.Tensor3D[];
  values: tf.Tensor3D[];
}

/** A window pass: logits of the window's columns [N, end − start, V] (or of its logitCols) and its keys/values (per layer [N·H, end − start, dh]). */
export interface WindowOutput extends ColumnKv {
  logits: tf.Tensor3D;
}

/**
 * Runs columns [start, end) of ids int32 [N, L] (attentionMask [N, L] or null), attending to their own keys/values
 * and to `kv`'s for every other column; kv null needs the whole row (start 0, end L). Creates no tidy of its own.
 * `logitCols` [s, e) ⊆ [start, end): the logits returned are those columns' only ([N, e − s, V]) and the last block
 * runs its queries, SwiGLU and head on them alone (model.ts `Columns`); keys/values are still every window column's.
 */
export function forwardWindow(params: Params, cfg: ModelConfig, ids: tf.Tensor2D, attentionMask: tf.Tensor2D | null, start: number, end: number, kv: ColumnKv | null, logitCols: Columns | null = null): WindowOutput {
  const [N, L] = ids.shape;
  const T = end - start;
  if (!(start >= 0 && start < end && end <= L)) throw new ShapeError(`forwardWindow: window [${start}, ${end}) must lie inside [0, ${L})`);
  if (logitCols && !(logitCols[0] >= start && logitCols[0] < logitCols[1] && logitCols[1] <= end)) {
    throw new ShapeError(`forwardWindow: logit columns [${logitCols[0]}, ${logitCols[1]}) must lie inside the window [${start}, ${end})`);
  }
  if (kv === null && T !== L) throw new ShapeError(`forwardWindow: window [${start}, ${end}) of ${L} columns needs the other columns' keys and values (kv is null)`);
  if (cfg.causal) throw new ShapeError('forwardWindow: the model is causal (config causal is true); the block cache is for the bidirectional model (kv_cache.ts decodes a causal one)');
  if (L > cfg.max_seq_len) throw new ShapeError(`forwardWindow: ids length L = ${L} exceeds max_seq_len ${cfg.max_seq_len}`);
  const H = cfg.n_heads;
  const dh = headDim(cfg);
  const keyBias = (attentionMask ? tf.mul(tf.sub(1, tf.cast(attentionMask, 'float32')), PAD_BIAS) : tf.zeros([N, L])) as tf.Tensor2D; // [N, L]
  const rope = windowRope(L, start, end, dh, cfg.rope_theta);
  const W = (i: number, name: string) => params[blockName(i, name)] as tf.Tensor2D;
  const heads = (x: tf.Tensor2D, w: tf.Tensor2D, t = T): tf.Tensor3D =>
    tf.reshape(tf.transpose(tf.reshape(tf.matMul(x, w), [N, t, H, dh]), [0, 2, 1, 3]), [N * H, t, dh]) as tf.Tensor3D; // [N·H, t, dh]
  // the last block's query columns, relative to the window: [a, b) (all of it without logitCols)
  const [a, b] = logitCols ? [logitCols[0] - start, logitCols[1] - start] : [0, T];
  const Tq = b - a;
  const rowsOf = (x: tf.Tensor2D): tf.Tensor2D => columnsOf(x, N, T, [a, b]); // [N·Tq, d]
  const ropeQ = Tq === T ? rope : ropeColumns(rope, a, b);
  const splice = (cached: tf.Tensor3D, fresh: tf.Tensor3D): tf.Tensor3D => {
    const parts = [fresh];
    if (start > 0) parts.unshift(tf.slice(cached, [0, 0, 0], [-1, start, -1]));
    if (end < L) parts.push(tf.slice(cached, [0, end, 0], [-1, L - end, -1]));
    return parts.length === 1 ? fresh : (tf.concat(parts, 1) as tf.Tensor3D); // [N·H, L, dh]
  };
  const keys: tf.Tensor3D[] = [];
  const values: tf.Tensor3D[] = [];
  let h = tf.gather(params[`${PREFIX}wte.weight`], tf.reshape(tf.slice(ids, [0, start], [N, T]), [N * T])) as tf.Tensor2D; // [N·T, d]
  for (let i = 0; i < cfg.n_layers; i++) {
    const t = i === cfg.n_layers - 1 ? Tq : T; // query columns of this block
    const x = rmsNorm(h, params[blockName(i, 'attn_norm')] as tf.Tensor1D, cfg.norm_eps); // [N·T, d]
    const q = t === T ? applyRope(heads(x, W(i, 'q_proj')), rope, false) : applyRope(heads(rowsOf(x), W(i, 'q_proj'), t), ropeQ, false); // [N·H, t, dh]
    const k = applyRope(heads(x, W(i, 'k_proj')), rope, false);
    const v = heads(x, W(i, 'v_proj'));
    keys.push(k);
    values.push(v);
    const o = cachedAttention(q, kv ? splice(kv.keys[i], k) : k, kv ? splice(kv.values[i], v) : v, keyBias); // [N·H, t, dh]
    const merged = tf.reshape(tf.transpose(tf.reshape(o, [N, H, t, dh]), [0, 2, 1, 3]), [N * t, cfg.d_model]) as tf.Tensor2D; // [N·t, d]
    const mid = tf.add(t === T ? h : rowsOf(h), tf.matMul(merged, W(i, 'attn_out'))) as tf.Tensor2D; // [N·t, d]
    const nrm = rmsNorm(mid, params[blockName(i, 'ff_norm')] as tf.Tensor1D, cfg.norm_eps);
    const ff = tf.mul(silu(tf.matMul(nrm, W(i, 'ff_proj'))), tf.matMul(nrm, W(i, 'up_proj'))); // [N·T, m]
    h = tf.add(mid, tf.matMul(ff, W(i, 'ff_out'))) as tf.Tensor2D; // [N·T, d]
  }
  const hn = rmsNorm(h, params[`${PREFIX}ln_f.weight`] as tf.Tensor1D, cfg.norm_eps);
  const logits = tf.reshape(tf.matMul(hn, params[`${PREFIX}ff_out.weight`] as tf.Tensor2D), [N, Tq, cfg.vocab_size]) as tf.Tensor3D; // [N, Tq, V]
  return { logits, keys, values };
}

/** RoPE tables of columns [start, end) of an L-column row. */
function windowRope(L: number, start: number, end: number, dh: number, theta: number): Rope {
  const full = makeRope(L, dh, theta);
  if (start === 0 && end === L) return full;
  return ropeColumns(full, start, end);
}

/** The model as a sampling LogitsFn (sampling/types.ts) that also offers the windowed pass for `cache: prefix | dual`. */
export function modelDenoiser(params: Params, cfg: ModelConfig): ((ids: tf.Tensor2D, mask: tf.Tensor2D | null) => tf.Tensor3D) & {
  window: (ids: tf.Tensor2D, mask: tf.Tensor2D | null, start: number, end: number, kv: ColumnKv | null, logitCols?: Columns | null) => WindowOutput;
  cols?: (ids: tf.Tensor2D, mask: tf.Tensor2D | null, start: number, end: number) => tf.Tensor3D;
} {
  const fn = (ids: tf.Tensor2D, mask: tf.Tensor2D | null) => forward(params, cfg, ids, mask);
  return Object.assign(fn, {
    window: (ids: tf.Tensor2D, mask: tf.Tensor2D | null, start: number, end: number, kv: ColumnKv | null, logitCols: Columns | null = null) => forwardWindow(params, cfg, ids, mask, start, end, kv, logitCols),
    // a causal model has no column-restricted pass (model.ts refuses it): its samplers get whole rows
    ...(cfg.causal ? {} : { cols: (ids: tf.Tensor2D, mask: tf.Tensor2D | null, start: number, end: number) => forward(params, cfg, ids, mask, [start, end]) }),
  });
}
