/**
 * Tensor helpers that keep tfjs-wasm on its fast path (shared/research/tfjs-backends.md §2–3):
 * XNNPACK serves BatchMatMul only when it is 2-D (batch 1) and non-transposed; everything else runs a naive loop
 * 5–10× slower. tf.matMul's own gradient uses transposeA/B, so matMul2d is a customGrad whose backward transposes
 * explicitly; attention is ONE customGrad with a hand-written backward made of batched non-transposed products, which
 * backend/wasm_kernels.ts runs slice by slice on the fast path. RMSNorm, SwiGLU and RoPE's rotation have hand-written
 * backwards too (fewer kernels than tf's autodiff; no JS-built ones tensors, no gradient for constants).
 * All functions are pure tensor code: call them inside tf.tidy (or a gradient function).
 */
import * as tf from '@tensorflow/tfjs';
import { ShapeError, assertShape } from '../errors.ts';

type Saver = tf.GradSaveFunc;
type GradFunc = Parameters<typeof tf.customGrad>[0];

const matMul2dGrad = tf.customGrad(((a: tf.Tensor2D, b: tf.Tensor2D, save: Saver) => {
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: tf.Tensor2D, [sa, sb]: tf.Tensor[]) => [tf.matMul(dy, tf.transpose(sb)), weightGrad(sa as tf.Tensor2D, dy)],
  };
}) as unknown as GradFunc);

/**
 * dB = Aᵀ dY for A [N, K], dY [N, M]. XNNPACK repacks its right operand on every call (several ns/element), so the
 * [N, ·] operand that gets packed should be the narrower one: Aᵀ dY packs dY (N·M), (dYᵀ A)ᵀ packs A (N·K).
 */
function weightGrad(a: tf.Tensor2D, dy: tf.Tensor2D): tf.Tensor2D {
  if (dy.shape[1] > a.shape[1]) return tf.transpose(tf.matMul(tf.transpose(dy), a)) as tf.Tensor2D; // [K, M]
  return tf.matMul(tf.transpose(a), dy); // [K, M]
}

/** a float32 [N, K] @ b float32 [K, M] -> [N, M], with a backward made of non-transposed 2-D matmuls. */
export function matMul2d(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  if (a.rank !== 2 || b.rank !== 2 || a.shape[1] !== b.shape[0]) {
    throw new ShapeError(`matMul2d: expected a [N, K] and b [K, M], got [${a.shape.join(', ')}] and [${b.shape.join(', ')}]`);
  }
  return matMul2dGrad(a, b) as tf.Tensor2D;
}

/**
 * Batched non-transposed matmul [n, a, k] × [n, k, b] -> [n, a, b]: one 2-D product per (batch·head) slice. On wasm
 * the BatchMatMul fix in backend/wasm_kernels.ts runs each slice on XNNPACK's fast path through heap views, which
 * is ~50 ms per training step faster than slicing here with tf.slice + 2-D tf.matMul (thousands of engine ops).
 */
function bmm(x: tf.Tensor, y: tf.Tensor): tf.Tensor3D {
  return tf.matMul(x as tf.Tensor3D, y as tf.Tensor3D);
}

function transpose3d(x: tf.Tensor): tf.Tensor {
  return tf.transpose(x, [0, 2, 1]);
}

/**
 * Softmax attention over n = B·H independent slices (no causal mask of its own: a causal model passes it as a bias):
 *   p = softmax(q kᵀ · scale + keyBias), o = p v.
 * q, k, v float32 [n, T, dh] with slice i = b·H + h; keyBias float32 [B, T] (0 for real keys, large negative for
 * padding) or null (biasedAttention also takes [B, T, T]). Returns o [n, T, dh]. Gradients flow to q, k, v (keyBias is a constant).
 */
export function attention(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, keyBias: tf.Tensor2D | null, scale: number): tf.Tensor3D {
  return biasedAttention(q, k, v, keyBias, scale);
}

/**
 * `attention` with the bias also [B, T, T], one per query and key (the causal model: its mask plus padding).
 * The scale is applied to q ([n, T, dh]) rather than to the scores ([n, T, T]), and the core's backward is written by
 * hand, every matmul batched and non-transposed after explicit transposes (FlashAttention's D = rowsum(dO ⊙ o) replaces
 * rowsum(dp ⊙ p): the same number, from [n, T, dh] instead of [n, T, T]). With qs = q · scale:
 *   dv = pᵀ dO, dp = dO vᵀ, dS = p ⊙ (dp − D), dqs = dS k, dk = dSᵀ qs.
 */
export function biasedAttention(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, keyBias: tf.Tensor2D | tf.Tensor3D | null, scale: number): tf.Tensor3D {
  // Tq queries against T keys: Tq < T when only some positions' outputs are wanted (model.ts, the last block's `cols`)
  const [n, Tq, dh] = q.shape;
  const T = k.shape[1];
  assertShape('attention: q', q.shape, [null, null, null], '[n, Tq, dh]');
  assertShape('attention: k', k.shape, [n, null, dh], `[n, T, dh] = [${n}, T, ${dh}]`);
  assertShape('attention: v', v.shape, [n, T, dh], `[n, T, dh] = [${n}, ${T}, ${dh}]`);
  let bias: tf.Tensor | null = null;
  if (keyBias) {
    const B = keyBias.shape[0];
    if (keyBias.rank === 3) assertShape('attention: bias', keyBias.shape, [B, Tq, T], `[B, Tq, T] with Tq = ${Tq}, T = ${T}`); // per query (causal)
    else assertShape('attention: keyBias', keyBias.shape, [B, T], `[B, T] with T = ${T}`);
    if (B < 1 || n % B !== 0) throw new ShapeError(`attention: keyBias batch ${B} does not divide n = B·H = ${n}`);
    bias = keyBias.rank === 3 ? tf.reshape(keyBias, [B, 1, Tq, T]) : tf.reshape(keyBias, [B, 1, 1, T]);
  }
  const core = tf.customGrad(((qq: tf.Tensor3D, kk: tf.Tensor3D, vv: tf.Tensor3D, save: Saver) => {
    let s = bmm(qq, transpose3d(kk)); // [n, Tq, T]
    if (bias) s = tf.reshape(tf.add(tf.reshape(s, [bias.shape[0], -1, Tq, T]), bias), [n, Tq, T]);
    const p = tf.softmax(s); // [n, Tq, T]
    const o = bmm(p, vv); // [n, T, dh]
    save([qq, kk, vv, p, o]);
    return {
      value: o,
      gradFunc: (dO: tf.Tensor3D, saved: tf.Tensor[]) => {
        const [sq, sk, sv, sp, so] = saved;
        const dv = bmm(transpose3d(sp), dO); // [n, T, dh]
        const dp = bmm(dO, transpose3d(sv)); // [n, Tq, T]
        const D = tf.sum(tf.mul(dO, so), -1, true); // [n, Tq, 1] = rowsum(dp ⊙ p)
        const dS = tf.mul(sp, tf.sub(dp, D)); // [n, Tq, T]
        const dq = bmm(dS, sk); // [n, Tq, dh]
        const dk = bmm(transpose3d(dS), sq); // [n, T, dh]
        return [dq, dk, dv];
      },
    };
  }) as unknown as GradFunc);
  return core(tf.mul(q, scale), k, v) as tf.Tensor3D;
}

/** One-hot as float32. NEVER tf.oneHot(..., 'float32'): on wasm it returns int32 bit patterns labelled float32. */
export function oneHotF32(indices: tf.Tensor, depth: number): tf.Tensor {
  return tf.cast(tf.oneHot(tf.cast(indices, 'int32') as tf.Tensor1D, depth), 'float32');
}

/**
 * RMSNorm in fp32: y = x · r · w with r = rsqrt(mean(x², −1) + eps). x [N, d], w [d] -> [N, d].
 * Backward by hand (tf's Mean gradient builds a ones tensor in JS on every call): with x̂ = x · r and g = dy · w,
 *   dw = Σ_rows dy · x̂,   dx = r · (g − x̂ · mean(g · x̂, −1)).
 * Σ_rows is a [1, N] × [N, d] matmul: wasm's Sum over axis 0 transposes its input first (~10× slower).
 */
export function rmsNorm(x: tf.Tensor2D, w: tf.Tensor1D, eps: number): tf.Tensor2D {
  const f = tf.customGrad(((xx: tf.Tensor2D, ww: tf.Tensor1D, save: Saver) => {
    const r = tf.rsqrt(tf.add(tf.mean(tf.square(xx), -1, true), eps)); // [N, 1]
    const xhat = tf.mul(xx, r); // [N, d]
    save([ww, r, xhat]);
    return {
      value: tf.mul(xhat, ww),
      gradFunc: (dy: tf.Tensor2D, [sw, sr, sx]: tf.Tensor[]) => {
        const g = tf.mul(dy, sw); // [N, d]
        const dx = tf.mul(sr, tf.sub(g, tf.mul(sx, tf.mean(tf.mul(g, sx), -1, true))));
        return [dx, columnSum(tf.mul(dy, sx) as tf.Tensor2D)];
      },
    };
  }) as unknown as GradFunc);
  return f(x, w) as tf.Tensor2D;
}

/**
 * rmsNorm's forward without its customGrad wrapper, for passes that are never differentiated (the sampler's cached
 * window pass, block_cache.ts): the same ops in the same order, so the same values, without a gradient scope per call.
 */
export function rmsNormNoGrad(x: tf.Tensor2D, w: tf.Tensor1D, eps: number): tf.Tensor2D {
  const r = tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), eps)); // [N, 1]
  return tf.mul(tf.mul(x, r), w);
}

/** x [N, d] -> Σ over rows [d], as ones [1, N] @ x (a fast-path matmul on wasm). No gradient: for backward passes. */
function columnSum(x: tf.Tensor2D): tf.Tensor1D {
  const [N, d] = x.shape;
  return tf.reshape(tf.matMul(tf.ones([1, N]), x), [d]) as tf.Tensor1D;
}

/** SiLU (swish): x · sigmoid(x). */
export function silu<T extends tf.Tensor>(x: T): T {
  return tf.mul(x, tf.sigmoid(x));
}

/**
 * SwiGLU's gated product silu(gate) · up, gate and up [N, m] -> [N, m], with a backward by hand (6 elementwise
 * kernels instead of autodiff's 8): with s = σ(gate) and a = gate · s,
 *   dup = dy · a,   dgate = dy · up · (s + a · (1 − s)).
 */
export function swiglu(gate: tf.Tensor2D, up: tf.Tensor2D): tf.Tensor2D {
  const f = tf.customGrad(((g: tf.Tensor2D, u: tf.Tensor2D, save: Saver) => {
    const s = tf.sigmoid(g); // [N, m]
    const a = tf.mul(g, s); // [N, m] silu(gate)
    save([u, s, a]);
    return {
      value: tf.mul(a, u),
      gradFunc: (dy: tf.Tensor2D, [su, ss, sa]: tf.Tensor[]) => {
        const dsilu = tf.add(ss, tf.mul(sa, tf.sub(1, ss))); // [N, m] d silu / d gate
        return [tf.mul(tf.mul(dy, su), dsilu), tf.mul(dy, sa)];
      },
    };
  }) as unknown as GradFunc);
  return f(gate, up) as tf.Tensor2D;
}

/** RoPE tables for positions 0..T−1: cos, sin [T, dh] = cat(f, f) with f[t, j] = t · theta^(−2j/dh), j < dh/2. */
export function ropeTables(T: number, dh: number, theta: number): { cos: Float32Array; sin: Float32Array } {
  if (dh % 2 !== 0) throw new ShapeError(`ropeTables: head_dim must be even, got ${dh}`);
  const half = dh / 2;
  const cos = new Float32Array(T * dh);
  const sin = new Float32Array(T * dh);
  for (let j = 0; j < half; j++) {
    const invFreq = 1 / Math.pow(theta, (2 * j) / dh);
    for (let t = 0; t < T; t++) {
      const a = t * invFreq;
      cos[t * dh + j] = cos[t * dh + j + half] = Math.cos(a);
      sin[t * dh + j] = sin[t * dh + j + half] = Math.sin(a);
    }
  }
  return { cos, sin };
}

/** R [dh, dh] with x @ R = rotate_half(x) = cat(−x2, x1) (NeoX half split): exact in fp32, and a fast-path matmul. */
export function rotateHalfMatrix(dh: number): Float32Array {
  const half = dh / 2;
  const r = new Float32Array(dh * dh);
  for (let j = 0; j < half; j++) {
    r[(j + half) * dh + j] = -1; // out[j] = −x[j + half]
    r[j * dh + j + half] = 1; // out[j + half] = x[j]
  }
  return r;
}

export interface Rope {
  cos: tf.Tensor2D; // [T, dh]
  sin: tf.Tensor2D; // [T, dh]
  rot: tf.Tensor2D; // [dh, dh]
}

/** Creates the RoPE constants for one forward pass (dispose them, or create them inside tf.tidy). */
export function makeRope(T: number, dh: number, theta: number): Rope {
  const { cos, sin } = ropeTables(T, dh, theta);
  return { cos: tf.tensor2d(cos, [T, dh]), sin: tf.tensor2d(sin, [T, dh]), rot: tf.tensor2d(rotateHalfMatrix(dh), [dh, dh]) };
}

/** The RoPE tables of columns [start, end) of `rope` (the same rotation matrix). */
export function ropeColumns(rope: Rope, start: number, end: number): Rope {
  const dh = rope.cos.shape[1];
  return { cos: tf.slice(rope.cos, [start, 0], [end - start, dh]), sin: tf.slice(rope.sin, [start, 0], [end - start, dh]), rot: rope.rot };
}

/** rotate_half as x @ R with R constant: its gradient is dy @ Rᵀ = −(dy @ R) (R is a signed permutation, R² = −I). */
const rotateHalfGrad = tf.customGrad(((x: tf.Tensor2D, rot: tf.Tensor2D, save: Saver) => {
  save([rot]);
  return {
    value: tf.matMul(x, rot),
    gradFunc: (dy: tf.Tensor2D, [r]: tf.Tensor[]) => [tf.neg(tf.matMul(dy, r)), tf.zerosLike(r)],
  };
}) as unknown as GradFunc);

/** x [n, T, dh] -> x · cos + rotate_half(x) · sin (LLaDA's apply_rotary_pos_emb, positions 0..T−1). */
export function applyRope(x: tf.Tensor3D, rope: Rope, grad = true): tf.Tensor3D {
  const [n, T, dh] = x.shape;
  assertShape('applyRope: cos', rope.cos.shape, [T, dh], `[T, dh] = [${T}, ${dh}]`);
  const flat = tf.reshape(x, [n * T, dh]) as tf.Tensor2D;
  // grad false: the same matmul without the customGrad wrapper (passes that are never differentiated)
  const rotated = tf.reshape(grad ? rotateHalfGrad(flat, rope.rot) : tf.matMul(flat, rope.rot), [n, T, dh]); // [n, T, dh]
  return tf.add(tf.mul(x, rope.cos), tf.mul(rotated, rope.sin));
}
