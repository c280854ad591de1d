/**
 * ReMDM: remasking diffusion sampler (arXiv 2503.00307, kuleshov-group/remdm `_ddpm_caching_update`; samplers.md §2).
 *
 * Log-linear schedule α_t = 1 − t on the grid t_i = linspace(1, 1e-5, T+1). Each step t → s draws, per position, one
 * categorical over the V tokens ([MASK] included, p_θ([MASK]) = 0):
 *   committed z_t (one-hot carry-over):  stay with prob 1 − σ_t, become [MASK] with prob σ_t;
 *   masked z_t:  token v with prob p_θ(v)·(α_s − (1−σ_t)α_t)/(1−α_t), stay [MASK] with prob (1 − α_s − σ_t α_t)/(1−α_t),
 * valid iff 0 ≤ σ_t ≤ σ_max = min(1, (1−α_s)/α_t); σ = 0 is plain MDLM. Schedules: cap σ = min(η, σ_max);
 * rescale σ = η·σ_max; conf σ^i = η^i·σ_max, η^i = softmax over decoded positions of −ψ^i, ψ^i = p_θ of the token
 * when it was decoded (so low-confidence tokens are re-masked first); loop (t_on, t_off, α_on): plain MDLM with α
 * rising linearly 0 → α_on for t > t_on, α frozen at α_on with σ = η for t_off < t ≤ t_on, then MDLM α_on → 1.
 * p_θ is nucleus-filtered (top_p; the top token is always kept) and renormalised. After the grid, any position still
 * masked is filled by argmax p_θ (`noise_removal`; one extra call, only when a mask is left).
 *
 * remdm_order (an addition, not in the paper; issue 14): `random` is the posterior above, where WHICH masked positions
 * unmask is independent per position. `confidence` keeps the posterior's number of unmasks per row and its stay /
 * re-mask draws for committed tokens, but gives the unmasks to the masked positions whose x0 ~ p_θ is most probable
 * (LLaDA's low-confidence order): on Sudoku the random order alone costs ~8 points (README "Performance").
 *
 * Choice for semi-AR: each block runs its own grid of steps / num_blocks steps; only positions of the current block
 * are updated (earlier blocks are frozen, later ones stay masked). block_length = gen_length is plain ReMDM over the
 * whole generation. p_θ is recomputed every step (the reference reuses it when a step changed nothing).
 */
import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../errors.ts';
import { advance, columnRange, countMasked, maskedIn, modelLogits, recordLogps, select, startBlock, topKMask, type DecodeContext } from './decode_state.ts';
import { gumbelArgmax } from './gumbel.ts';
import type { RemdmOrder, RemdmStrategy } from './types.ts';

export const T_MIN = 1e-5;

/** η defaults from the ReMDM scripts (the conf schedule has no η). */
export const REMDM_ETA_DEFAULT: Record<RemdmStrategy, number> = { cap: 0.008, rescale: 0.015, loop: 0.02, conf: 0 };

export interface RemdmOptions {
  block_length: number;
  stepsPerBlock: number;
  remdm_strategy: RemdmStrategy;
  eta: number;
  t_on: number;
  t_off: number;
  alpha_on: number;
  top_p: number;
  /** Which masked positions take the step's unmasks: independent draws (`random`, the paper) or the most confident. */
  remdm_order: RemdmOrder;
}

/** linspace(1, 1e-5, T+1). */
export function remdmTimeGrid(T: number): number[] {
  return Array.from({ length: T + 1 }, (_, i) => (i === T ? T_MIN : 1 - (i * (1 - T_MIN)) / T));
}

export interface RemdmCoefficients {
  alphaT: number;
  alphaS: number;
  sigmaMax: number;
  /** σ_t for every position, or null for `conf` (per position, see confSigma). Always within [0, sigmaMax]. */
  sigma: number | null;
}

/** α and σ for the step t → s (s < t). */
export function remdmCoefficients(t: number, s: number, opts: RemdmOptions): RemdmCoefficients {
  const loop = opts.remdm_strategy === 'loop';
  const alpha = (u: number): number => (loop ? loopAlpha(u, opts) : 1 - u);
  const alphaT = alpha(t);
  const alphaS = alpha(s);
  const sigmaMax = alphaT > 0 ? Math.min(1, Math.max(0, (1 - alphaS) / alphaT)) : 1;
  let sigma: number | null;
  switch (opts.remdm_strategy) {
    case 'cap':
      sigma = Math.min(opts.eta, sigmaMax);
      break;
    case 'rescale':
      sigma = opts.eta * sigmaMax;
      break;
    case 'loop':
      sigma = t > opts.t_off && t <= opts.t_on ? Math.min(opts.eta, sigmaMax) : 0;
      break;
    case 'conf':
      sigma = null;
      break;
    default:
      throw new ConfigError(`remdm: unknown remdm_strategy '${String(opts.remdm_strategy)}' (expected cap, rescale, conf or loop)`);
  }
  // clamp: rescale with η > 1 would leave the valid range
  return { alphaT, alphaS, sigmaMax, sigma: sigma === null ? null : Math.min(sigmaMax, Math.max(0, sigma)) };
}

/** The loop schedule's α(u): α_on(1−u)/(1−t_on) above t_on, α_on on (t_off, t_on], 1 − u(1−α_on)/t_off below. */
function loopAlpha(u: number, o: RemdmOptions): number {
  if (u > o.t_on) return (o.alpha_on * (1 - u)) / (1 - o.t_on);
  if (u > o.t_off) return o.alpha_on;
  return 1 - (u * (1 - o.alpha_on)) / o.t_off;
}

/** conf schedule: σ [N, L] = σ_max·softmax(−ψ) over decoded positions (0 elsewhere). psi [N, L], decoded bool [N, L]. */
export function confSigma(psi: tf.Tensor2D, decoded: tf.Tensor2D, sigmaMax: number): tf.Tensor2D {
  return tf.tidy(() => {
    const eta = tf.softmax(select(decoded, tf.neg(psi), tf.scalar(-Infinity)), -1); // NaN on rows with nothing decoded
    return tf.mul(select(decoded, eta, tf.scalar(0)), sigmaMax) as tf.Tensor2D;
  });
}

/** Nucleus filter: keep the smallest prefix of tokens (by prob) reaching top_p, always the top one; renormalise. */
export function nucleus(p: tf.Tensor, topP: number): tf.Tensor {
  return tf.tidy(() => {
    const r = p.rank - 1;
    const V = p.shape[r];
    const sorted = tf.topk(p, V, true).values; // [..., V] descending
    const before = tf.sub(tf.cumsum(sorted, r), sorted); // mass strictly above each entry
    const thr = tf.min(select(tf.less(before, topP), sorted, tf.scalar(Infinity)), -1, true); // [..., 1]
    const kept = select(tf.greaterEqual(p, thr), p, tf.scalar(0)); // ties at the threshold are all kept
    return tf.div(kept, tf.sum(kept, -1, true));
  });
}

/** Decodes the generation region of x [N, L] int32; takes ownership of x and returns the final ids. */
export async function remdmDecode(ctx: DecodeContext, x: tf.Tensor2D, opts: RemdmOptions): Promise<tf.Tensor2D> {
  const B = opts.block_length;
  const grid = remdmTimeGrid(opts.stepsPerBlock);
  const numBlocks = ctx.genLength / B;
  let psi = opts.remdm_strategy === 'conf' ? (tf.zeros([ctx.N, ctx.L]) as tf.Tensor2D) : null; // ψ store
  try {
    for (let b = 0; b < numBlocks; b++) {
      const start = ctx.genStart + b * B;
      const end = start + B;
      startBlock(ctx, start, end);
      for (let i = 0; i < opts.stepsPerBlock; i++) {
        const coef = remdmCoefficients(grid[i], grid[i + 1], opts);
        const [next, nextPsi] = tf.tidy(() => remdmStep(ctx, x, psi, start, end, coef, opts) as unknown as tf.Tensor[]) as unknown as [
          tf.Tensor2D,
          tf.Tensor2D | null,
        ];
        psi?.dispose();
        psi = nextPsi;
        x = await advance(ctx, x, next, b);
      }
      const left = await countMasked(x, ctx.maskId, start, end);
      if (left.some((n) => n > 0)) {
        const next = tf.tidy(() => {
          const fill = tf.argMax(modelLogits(ctx, x), -1); // [N, L]
          const still = maskedIn(x, ctx.maskId, start, end); // [N, L]
          recordLogps(ctx, still, tf.zeros(x.shape) as tf.Tensor2D); // argmax: a deterministic draw
          return select<tf.Tensor2D>(still, fill, x);
        });
        x = await advance(ctx, x, next, b);
      }
    }
  } finally {
    psi?.dispose();
  }
  return x;
}

/** One posterior step on columns [start, end): returns [new ids [N, L], new ψ [N, L] or null]. */
function remdmStep(
  ctx: DecodeContext,
  x: tf.Tensor2D,
  psi: tf.Tensor2D | null,
  start: number,
  end: number,
  c: RemdmCoefficients,
  opts: Pick<RemdmOptions, 'top_p' | 'remdm_order'>,
): [tf.Tensor2D, tf.Tensor2D | null] {
  const { L } = ctx;
  const logits = modelLogits(ctx, x); // [N, L, V], [MASK] at −inf
  const V = logits.shape[2];
  const raw = tf.softmax(logits); // p_θ [N, L, V]
  const p = opts.top_p < 1 ? nucleus(raw, opts.top_p) : raw;
  const inBlock = columnRange(L, start, end); // [1, L]
  const active = ctx.fixedMask ? tf.logicalAnd(inBlock, tf.logicalNot(ctx.fixedMask)) : inBlock; // [1 or N, L]: fixed tokens are never re-masked
  const isMask = tf.equal(x, ctx.maskId); // [N, L]
  const sigma: tf.Tensor | number =
    c.sigma ?? tf.expandDims(confSigma(psi!, tf.logicalAnd(tf.logicalNot(isMask), active), c.sigmaMax), 2); // [N, L, 1]
  const oneMask = tf.reshape(tf.cast(tf.oneHot(tf.tensor1d([ctx.maskId], 'int32'), V), 'float32'), [1, 1, V]);
  const unmask = tf.div(tf.sub(c.alphaS, tf.mul(tf.sub(1, sigma), c.alphaT)), 1 - c.alphaT); // (α_s − (1−σ)α_t)/(1−α_t)
  const stay = tf.div(tf.sub(1 - c.alphaS, tf.mul(sigma, c.alphaT)), 1 - c.alphaT); // (1 − α_s − σα_t)/(1−α_t)
  const qMasked = tf.add(tf.mul(p, unmask), tf.mul(oneMask, stay)); // [N, L, V]
  const qKept = tf.add(tf.mul(tf.cast(tf.oneHot(x, V), 'float32'), tf.sub(1, sigma)), tf.mul(oneMask, sigma)); // [N, L, V]
  const q = tf.relu(select(tf.expandDims(isMask, 2), qMasked, qKept)); // relu: float rounding can give −1e-9
  const xs = gumbelArgmax(tf.log(q), ctx.rng) as tf.Tensor2D; // [N, L]
  const next = opts.remdm_order === 'confidence' ? confidenceOrder(ctx, x, xs, p, raw, tf.logicalAnd(isMask, active), active) : select<tf.Tensor2D>(active, xs, x);
  if (psi === null && !ctx.logps) return [next, null];
  const decodedNow = tf.logicalAnd(tf.logicalAnd(isMask, active), tf.notEqual(next, ctx.maskId)) as tf.Tensor2D; // [N, L]
  const pNext = probOfDist(p, next); // [N, L] p_θ of each position's token
  // record_logps: an unmask draws its token from p (random order: the posterior given "unmask" is ∝ p; confidence: x0 ~ p)
  if (ctx.logps) recordLogps(ctx, decodedNow, tf.log(pNext));
  if (psi === null) return [next, null];
  // ψ: p_θ of the token at the step it was decoded; 0 while masked (re-masking resets it).
  const psiNext = select<tf.Tensor2D>(decodedNow, pNext, select(tf.equal(next, ctx.maskId), tf.scalar(0), psi));
  return [next, psiNext];
}

/**
 * remdm_order confidence: the posterior draw xs [N, L] decides how many masked positions unmask per row and what the
 * committed ones do; the unmasks go to the candidates (bool [N, L]) whose x0 ~ p (nucleus-filtered) [N, L, V] has the
 * largest unfiltered probability raw[x0] (as LLaDA's confidence: the filter would make a greedy x0's probability 1).
 */
function confidenceOrder(ctx: DecodeContext, x: tf.Tensor2D, xs: tf.Tensor2D, p: tf.Tensor, raw: tf.Tensor, candidate: tf.Tensor2D, active: tf.Tensor): tf.Tensor2D {
  const count = tf.sum(tf.cast(tf.logicalAnd(candidate, tf.notEqual(xs, ctx.maskId)), 'int32'), 1) as tf.Tensor1D; // [N]
  const x0 = gumbelArgmax(tf.log(p), ctx.rng) as tf.Tensor2D; // [N, L], a sample of p_θ
  const chosen = topKMask(select<tf.Tensor2D>(candidate, probOfDist(raw, x0), tf.scalar(-Infinity)), count); // [N, L]
  const committed = tf.logicalAnd(active, tf.logicalNot(tf.equal(x, ctx.maskId))); // stay or re-mask, as drawn
  return select<tf.Tensor2D>(chosen, x0, select(committed, xs, x));
}

/** p[ids] for a distribution p [N, L, V] (already normalised). */
function probOfDist(p: tf.Tensor, ids: tf.Tensor2D): tf.Tensor2D {
  return tf.sum(tf.mul(p, tf.cast(tf.oneHot(ids, p.shape[2] as number), 'float32')), -1) as tf.Tensor2D;
}
