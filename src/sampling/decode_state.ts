/**
 * State and tensor helpers shared by the samplers: one model call with CFG and banned tokens, masked-position masks,
 * per-row top-k commit, step bookkeeping. Every helper returning a tensor is meant to run inside the caller's tf.tidy.
 */
import * as tf from '@tensorflow/tfjs';
import { assertShape } from '../errors.ts';
import type { Rng } from '../rng.ts';
import type { CacheMode, KvColumns, LogitsFn, StepState } from './types.ts';

/** The block cache of a decode (Fast-dLLM prefix / dual; model/block_cache.ts): keys/values of the block's first pass. */
export interface BlockCacheState {
  mode: Exclude<CacheMode, 'none'>;
  /** Keys/values of every column from the current block's first (full) pass; null until that pass ran. */
  kv: KvColumns | null;
  /** The batch rows kv holds, in order (null until the block's first call). */
  rows: number[] | null;
  /** The current block's columns [start, end). */
  start: number;
  end: number;
}

/** One batch being decoded: rows [N, L] = left padding ++ prompt ++ generation region [genStart, L). */
export interface DecodeContext {
  logitsFn: LogitsFn;
  N: number;
  L: number;
  /** First column of the generation region (= longest prompt); generation is [genStart, genStart + genLength). */
  genStart: number;
  genLength: number;
  /** [N, L] float32 1 = real token, 0 = left pad; null when no row is padded. */
  attentionMask: tf.Tensor2D | null;
  /** [N, L] bool, true on real prompt tokens (what the unconditional CFG copy masks). */
  promptMask: tf.Tensor2D;
  /** [N, L] bool, true on generation-region tokens fixed before sampling (GenerateOptions.fixed); null = none. */
  fixedMask?: tf.Tensor2D | null;
  maskId: number;
  eosId: number;
  cfgScale: number;
  suppressEos: boolean;
  rng: Rng;
  /** Block cache (GenerateOptions.cache), null = every call is a full pass. */
  cache: BlockCacheState | null;
  /** The current semi-autoregressive block's columns [start, end) (set by startBlock), null before the first. */
  block?: [number, number] | null;
  /**
   * Rows that still have a [MASK] in the generation region, or null = all: the model runs on these rows only
   * (finished rows of a batch cost nothing). Null for samplers that can re-mask (ReMDM). Updated by `advance`.
   */
  live: number[] | null;
  /** GenerateOptions.eos_fill: after each step, [MASK]s after a row's first committed EOS become EOS. */
  eosFill: boolean;
  /** Row-positions run through the model so far: Σ over calls of rows × columns computed (CFG rows count twice). */
  positions: number;
  /** Forward passes so far (CFG pair = 2). */
  nfe: number;
  /** Sampler steps so far (one per model call). */
  step: number;
  /**
   * GenerateOptions.record_logps: [N, L] float32 (kept), per position the log-prob of the token its last commit drew
   * under the distribution it was drawn from (commitTokens, recordLogps); 0 where nothing was drawn. null = not asked.
   */
  logps?: tf.Tensor2D | null;
  onStep?: (state: StepState) => void;
}

/**
 * logits [N, L, V] for the current ids x [N, L], with classifier-free guidance when cfg_scale > 0: the unconditional
 * copy has every prompt token replaced by [MASK] (the response keeps its current state), both copies go through ONE
 * batched call, and logits = un + (w+1)(cond − un). The [MASK] logit (and EOS when suppress_eos) is set to −inf so
 * [MASK] is never sampled.
 */
export function modelLogits(ctx: DecodeContext, x: tf.Tensor2D): tf.Tensor3D {
  const { N, L } = ctx;
  let logits: tf.Tensor3D;
  if (ctx.cfgScale > 0) {
    const un = select<tf.Tensor2D>(ctx.promptMask, tf.scalar(ctx.maskId, 'int32'), x); // [N, L]
    const am = ctx.attentionMask ? tf.concat([ctx.attentionMask, ctx.attentionMask], 0) : null; // [2N, L]
    const out = callChecked(ctx, tf.concat([x, un], 0), am, 2 * N); // [2N, L, V]
    const cond = tf.slice(out, [0, 0, 0], [N, L, -1]); // [N, L, V]
    const unc = tf.slice(out, [N, 0, 0], [N, L, -1]); // [N, L, V]
    logits = tf.add(unc, tf.mul(ctx.cfgScale + 1, tf.sub(cond, unc)));
    ctx.nfe += 2;
  } else {
    logits = callChecked(ctx, x, ctx.attentionMask, N);
    ctx.nfe += 1;
  }
  const banned = ctx.suppressEos ? [ctx.maskId, ctx.eosId] : [ctx.maskId];
  return banTokens(logits, banned);
}

function callChecked(ctx: DecodeContext, ids: tf.Tensor2D, am: tf.Tensor2D | null, rows: number): tf.Tensor3D {
  // CFG's doubled batch and a batch with nothing left to decode run whole
  const live = ctx.live !== null && ctx.live.length > 0 && ctx.live.length < ctx.N && ctx.cfgScale === 0 ? ctx.live : null;
  const index = live ? tf.tensor1d(live, 'int32') : null;
  const pick = <T extends tf.Tensor>(t: T): T => (index ? (tf.gather(t, index) as T) : t);
  let out = runModel(ctx, pick(ids), am ? pick(am) : null, live ? live.length : rows, live);
  assertShape('logitsFn output', out.shape, [live ? live.length : rows, ctx.L, null], `[${live ? live.length : rows}, ${ctx.L}, V]`);
  if (out.dtype !== 'float32') out = tf.cast(out, 'float32');
  if (!live) return out;
  // scatter back: finished rows get zero logits (they have no [MASK] left, so no sampler reads them)
  const slot = new Int32Array(ctx.N).fill(live.length);
  live.forEach((n, j) => (slot[n] = j));
  const padded = tf.concat([out, tf.zeros([1, ctx.L, out.shape[2]])], 0);
  return tf.gather(padded, tf.tensor1d(slot, 'int32')) as tf.Tensor3D; // [N, L, V]
}

/**
 * One model call on `rows` rows: a full pass, or with the block cache a full pass at the block's first call (its
 * keys/values kept, for the rows it ran) and afterwards only the window (prefix: [start, L), dual: [start, end)).
 * The samplers read only the current block's logits, so every pass asks for those alone (the last transformer block
 * runs on the block's columns, model.ts `Columns`) and pads them with zeros to [rows, L, V]. `live`: which batch rows
 * these are (null = all); a row finished at the block's first call never comes back, so the cache always holds the rows asked.
 */
function runModel(ctx: DecodeContext, ids: tf.Tensor2D, am: tf.Tensor2D | null, rows: number, live: number[] | null): tf.Tensor3D {
  const c = ctx.cache;
  const windowFn = ctx.logitsFn.window;
  if (c === null || !windowFn) {
    ctx.positions += rows * ctx.L; // every column through every block but the last (model.ts Columns)
    const cols = ctx.logitsFn.cols;
    if (!cols || !ctx.block || (ctx.block[0] === 0 && ctx.block[1] === ctx.L)) return ctx.logitsFn(ids, am);
    // only the current block's logits, zero elsewhere (the samplers read only the block): the same numbers there
    const [start, end] = ctx.block;
    const inBlock = cols(ids, am, start, end); // [rows, end − start, V]
    return padColumns(inBlock, rows, ctx.L, start, end);
  }
  if (c.kv === null) {
    const full = windowFn(ids, am, 0, ctx.L, null, [c.start, c.end]); // every column's keys/values, the block's logits
    c.kv = { keys: full.keys.map((k) => tf.keep(k)), values: full.values.map((v) => tf.keep(v)) };
    c.rows = live ?? Array.from({ length: rows }, (_, n) => n);
    ctx.positions += rows * ctx.L;
    return padColumns(full.logits, rows, ctx.L, c.start, c.end);
  }
  const end = c.mode === 'prefix' ? ctx.L : c.end;
  const held = c.rows!;
  const heads = c.kv.keys[0].shape[0] / held.length;
  const at = (live ?? Array.from({ length: rows }, (_, n) => n)).map((n) => held.indexOf(n)); // each row's slot in the cache
  const same = at.length === held.length && at.every((j, i) => j === i);
  const kvRows = same ? null : tf.tensor1d(at.flatMap((j) => Array.from({ length: heads }, (_, h) => j * heads + h)), 'int32'); // [rows·H]
  const pick = (t: tf.Tensor3D): tf.Tensor3D => (kvRows ? (tf.gather(t, kvRows) as tf.Tensor3D) : t);
  const out = windowFn(ids, am, c.start, end, { keys: c.kv.keys.map(pick), values: c.kv.values.map(pick) }, [c.start, c.end]);
  ctx.positions += rows * (end - c.start);
  return padColumns(out.logits, rows, ctx.L, c.start, c.end);
}

/** logits [rows, end − start, V] of columns [start, end) -> [rows, L, V], zeros in the other columns. */
function padColumns(logits: tf.Tensor3D, rows: number, L: number, start: number, end: number): tf.Tensor3D {
  const V = logits.shape[2];
  const parts = [logits];
  if (start > 0) parts.unshift(tf.zeros([rows, start, V]) as tf.Tensor3D);
  if (end < L) parts.push(tf.zeros([rows, L - end, V]) as tf.Tensor3D);
  return parts.length === 1 ? logits : (tf.concat(parts, 1) as tf.Tensor3D); // [rows, L, V]
}

/** Starts block [start, end): drops the previous block's cache, so the next call is a full pass that refills it. */
export function startBlock(ctx: DecodeContext, start: number, end: number): void {
  ctx.block = [start, end];
  if (ctx.cache === null) return;
  disposeCache(ctx);
  ctx.cache.start = start;
  ctx.cache.end = end;
}

export function disposeCache(ctx: DecodeContext): void {
  if (ctx.cache?.kv) tf.dispose([...ctx.cache.kv.keys, ...ctx.cache.kv.values]);
  if (ctx.cache) ctx.cache.kv = null;
}

/** tf.where(cond, a, b) with broadcasting across ranks (tfjs 4 broadcasts; its typings want equal types). */
export function select<T extends tf.Tensor = tf.Tensor>(cond: tf.Tensor, a: tf.Tensor, b: tf.Tensor): T {
  return tf.where(cond, a as tf.Tensor2D, b as tf.Tensor2D) as unknown as T;
}

/** Sets the logits of `tokens` to −inf along the last axis. logits [..., V]. */
export function banTokens<T extends tf.Tensor>(logits: T, tokens: number[]): T {
  const V = logits.shape[logits.shape.length - 1];
  const cols = tokens.filter((t) => t >= 0 && t < V);
  if (cols.length === 0) return logits;
  // An additive [V] bias (0, or −inf on the banned columns): the same values as a select, but a broadcast Add, where
  // wasm's Select tiles its [V] condition to the logits' shape first (0.44 of 6.7 s of a 16-step cached rollout).
  const bias = new Float32Array(V);
  for (const t of cols) bias[t] = -Infinity;
  return tf.add(logits, tf.tensor1d(bias)) as T;
}

/**
 * One step's commit: x0 where `commit`, x elsewhere ([N, L] each). With record_logps it also records each committed
 * position's log_softmax(logits/τ)[x0], the distribution the Gumbel-max draw of x0 sampled (logits as the step saw
 * them: cached/windowed, CFG-combined, banned tokens at −inf); at τ = 0 the draw is deterministic and 0 stays.
 */
export function commitTokens(ctx: DecodeContext, x: tf.Tensor2D, x0: tf.Tensor2D, commit: tf.Tensor2D, logits: tf.Tensor3D, temperature: number): tf.Tensor2D {
  if (ctx.logps && temperature > 0) recordLogps(ctx, commit, drawnLogProb(logits, x0, temperature));
  return select<tf.Tensor2D>(commit, x0, x);
}

/** log_softmax(logits/τ)[ids] per position: logits [N, L, V], ids int32 [N, L] → float32 [N, L]. */
export function drawnLogProb(logits: tf.Tensor3D, ids: tf.Tensor2D, temperature: number): tf.Tensor2D {
  const scaled = tf.div(logits, temperature) as tf.Tensor3D; // [N, L, V]
  return tf.sub(pickLast(scaled, ids), tf.logSumExp(scaled, -1)) as tf.Tensor2D; // log_softmax(scaled)[ids]
}

/** ctx.logps ← logp [N, L] where `commit`, unchanged elsewhere (no-op without record_logps). Inside the step's tidy. */
export function recordLogps(ctx: DecodeContext, commit: tf.Tensor2D, logp: tf.Tensor2D): void {
  if (!ctx.logps) return;
  const next = tf.keep(select<tf.Tensor2D>(commit, logp, ctx.logps)); // outlives the step's tidy
  ctx.logps.dispose();
  ctx.logps = next;
}

/** [1, L] bool: start <= column < end. */
export function columnRange(L: number, start: number, end: number): tf.Tensor2D {
  const c = tf.range(0, L, 1, 'int32');
  return tf.reshape(tf.logicalAnd(tf.greaterEqual(c, start), tf.less(c, end)), [1, L]);
}

/** [N, L] bool: x == maskId inside columns [start, end). */
export function maskedIn(x: tf.Tensor2D, maskId: number, start: number, end: number): tf.Tensor2D {
  return tf.logicalAnd(tf.equal(x, maskId), columnRange(x.shape[1], start, end));
}

/** Number of [MASK] per row inside [start, end), read back ([N] numbers). */
export async function countMasked(x: tf.Tensor2D, maskId: number, start: number, end: number): Promise<number[]> {
  const counts = tf.tidy(() => tf.sum(tf.cast(maskedIn(x, maskId, start, end), 'int32'), 1)); // [N]
  const out = Array.from(await counts.data());
  counts.dispose();
  return out;
}

/** softmax(logits)[ids] per position: logits [N, L, V], ids int32 [N, L] → float32 [N, L]. */
export function probOf(logits: tf.Tensor3D, ids: tf.Tensor): tf.Tensor2D {
  return tf.exp(tf.sub(pickLast(logits, ids as tf.Tensor2D), tf.logSumExp(logits, -1))) as tf.Tensor2D;
}

/**
 * logits[n, l, ids[n, l]]: logits [N, L, V], ids int32 [N, L] → [N, L], as one gather from the flattened logits (a
 * one-hot product builds and reads an [N, L, V] mask: ~4× the time of the whole pick at 96 × 80 × 40).
 */
export function pickLast(logits: tf.Tensor3D, ids: tf.Tensor2D): tf.Tensor2D {
  const [N, L, V] = logits.shape;
  const flat = tf.add(tf.mul(tf.range(0, N * L, 1, 'int32'), tf.scalar(V, 'int32')), tf.reshape(tf.cast(ids, 'int32'), [N * L])); // [N·L]
  return tf.reshape(tf.gather(tf.reshape(logits, [N * L * V]), flat), [N, L]) as tf.Tensor2D;
}

/**
 * [N, L] bool selecting, in each row n, the k[n] positions of largest `score` [N, L]; −inf scores are never selected
 * (so a row with fewer finite scores than k[n] selects fewer). k: numbers, or an int32 tensor [N].
 */
export function topKMask(score: tf.Tensor2D, k: number[] | tf.Tensor1D): tf.Tensor2D {
  const [N, L] = score.shape;
  const kMax = Array.isArray(k) ? Math.min(L, Math.max(0, ...k)) : L;
  if (kMax === 0) return tf.zeros([N, L], 'bool') as tf.Tensor2D;
  const { values, indices } = tf.topk(score, kMax, true); // [N, kMax]
  const rank = tf.range(0, kMax, 1, 'int32').reshape([1, kMax]);
  const kCol = Array.isArray(k) ? tf.tensor2d(k, [N, 1], 'int32') : tf.reshape(tf.cast(k, 'int32'), [N, 1]);
  const keep = tf.logicalAnd(tf.less(rank, kCol), tf.isFinite(values)); // [N, kMax]
  return rowsFromIndices(indices as tf.Tensor2D, keep as tf.Tensor2D, L);
}

/** Scatter: [N, L] bool true at indices[n, j] where keep[n, j]. indices int32 [N, K], keep bool [N, K]. */
export function rowsFromIndices(indices: tf.Tensor2D, keep: tf.Tensor2D, L: number): tf.Tensor2D {
  const hits = tf.mul(tf.cast(tf.oneHot(indices, L), 'float32'), tf.expandDims(tf.cast(keep, 'float32'), 2)); // [N, K, L]
  return tf.greater(tf.sum(hits, 1), 0) as tf.Tensor2D; // [N, L]
}

/** Swaps in the new state, frees the old one, counts the step, updates the live rows and calls onStep. */
export async function advance(ctx: DecodeContext, x: tf.Tensor2D, next: tf.Tensor2D, block: number): Promise<tf.Tensor2D> {
  x.dispose();
  if (ctx.eosFill) {
    const filled = tf.tidy(() => fillAfterEos(ctx, next));
    next.dispose();
    next = filled;
  }
  ctx.step += 1;
  if (ctx.live !== null) {
    const left = await countMasked(next, ctx.maskId, ctx.genStart, ctx.genStart + ctx.genLength); // [N]
    ctx.live = left.flatMap((n, row) => (n > 0 ? [row] : []));
  }
  if (ctx.onStep) ctx.onStep({ step: ctx.step, block, ids: (await next.array()) as number[][], nfe: ctx.nfe });
  return next;
}

/** x [N, L] with every [MASK] of the generation region that lies after the row's first EOS there set to EOS. */
export function fillAfterEos(ctx: DecodeContext, x: tf.Tensor2D): tf.Tensor2D {
  const eos = tf.cast(tf.logicalAnd(tf.equal(x, ctx.eosId), columnRange(ctx.L, ctx.genStart, ctx.genStart + ctx.genLength)), 'float32'); // [N, L]
  const after = tf.greater(tf.sub(tf.cumsum(eos, 1), eos), 0); // strictly after the first EOS
  return select<tf.Tensor2D>(tf.logicalAnd(after, tf.equal(x, ctx.maskId)), tf.scalar(ctx.eosId, 'int32'), x);
}
