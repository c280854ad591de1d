/**
 * ESPO, ELBO-based Sequence-level Policy Optimization (Ou et al., arXiv 2512.03759, ICLR 2026; ML-GSAI/ESPO at
 * b5f2dac, `espo/espo_trainer.py`): the whole completion is one action and its ELBO stands in for log π(y|x):
 *
 *   ρ_i   = exp((ELBO_θ(y_i) − ELBO_old(y_i)) / Lg)                    per-token normalised sequence ratio (l.191)
 *   pg    = −mean_i min(ρ_i·A_i, clip(ρ_i, 1 − ε, 1 + ε_high)·A_i)       mean over the micro-batch's completions (l.195)
 *   kl    = mean_i (ELBO_θ(y_i) − ELBO_ref(y_i))² / 2 / Lg               k2 estimator, ÷ Lg like the ratio (l.197–201)
 *   loss  = pg + β·kl
 *
 * ELBO (`forward_process` l.55–75, `_get_elbo` l.376–438, `_get_elbo_mc` l.440–476), per MC sample, for the n rows
 * of a micro-batch: k ~ U{0..Lg}; row i masks x_i = round(k + i·(Lg+1)/n) mod (Lg+1) completion tokens, a uniformly
 * random subset (stratified mask counts across the rows; the prompt is never masked); p_i = x_i / (Lg+1). With
 * reduce_var the complementary view (exactly the other tokens masked) is scored too:
 *
 *   ELBO(y_i) = ½ [ Σ_{t masked} log π(y_t | view A) / p_i + Σ_{t not masked} log π(y_t | view B) / (Lg/(Lg+1) − p_i) ]
 *
 * (without reduce_var only the first sum, without the ½), averaged over num_mc samples.
 *
 * Choices, following the code:
 * - The ELBO covers all Lg generated positions (EOS padding included: the code never applies completion_mask to it)
 *   and the ratio and KL divide by Lg (logits_to_keep), not by the completion's length.
 * - μ = 1: old = stopGradient(current) (`per_token_logps.detach()`, l.189): ρ = 1 but the gradient flows; μ > 1 caches
 *   the old ELBO per inner update under that update's masks (l.619–626). β > 0 caches the reference ELBO (l.628–640).
 * - Advantages: ESPO hard-codes a leave-one-out baseline (l.694–710): r − mean of the other G−1 = G/(G−1)·(r − mean),
 *   so grpo.espo.leave_one_out (default true) multiplies the loop's advantages (r − group mean, ÷ std with
 *   scale_rewards) by G/(G−1).
 * - The strata span the micro-batch (whole groups here; ESPO's per-device batch of 3 rows, run_*_llada.sh), and each
 *   inner update k draws its own masks (ESPO: seeds [grad_accum, μ, num_mc], l.611), shared by old, ref and current.
 *   Masks come from the masking Rng on the CPU, not from a tf op seed. Rounding is half-to-even like torch.round.
 * Defaults: num_mc 2 (every LLaDA recipe, recipes/run_*_llada.sh; configs.py l.69: 1), reduce_var true (configs.py
 * l.74), epsilon 0.2 and beta 0.01 (recipes/train.yaml l.17–18; scripts: β 1e-3 GSM8K/MATH, 3e-3 Countdown, 1e-2
 * Sudoku/code), μ 8 (every recipe). Not taken: `--epsilon 0` in run_countdown_llada.sh (grpo.epsilon must be > 0).
 *
 * Cost per inner update, with V = num_mc · (2 with reduce_var, else 1) forward passes of n rows per ELBO (d1's
 * one-step: 1): phase 3 scores old (μ > 1) and ref (β > 0) under the draw, V passes each, one at a time. The update
 * runs V forward passes without gradient (the current ELBO) and then V forward + backward passes, one view each:
 * the ratio and KL couple the views, so each view is differentiated through the linearisation ∂L/∂ELBO · ∇view,
 * which bounds memory by one pass of n rows (all V at once: 4 × d1's activations at num_mc 2, which exhausted
 * wasm's 4 GB heap at the bench's 96 rows) for V extra forwards. With V = 1 the loss is taken whole.
 * Report: seq_ratio (mean ρ), elbo (mean sequence ELBO of the current policy, nats), kl, clip_low / clip_high
 * (fractions of completions clipped).
 */
import * as tf from '@tensorflow/tfjs';
import { assertShape, ShapeError } from '../../errors.ts';
import type { Rng } from '../../rng.ts';
import type { GrpoSection } from '../../config/schema.ts';
import { forward } from '../../model/model.ts';
import { select } from '../../sampling/decode_state.ts';
import { callTail, targetLogProbs } from '../../sampling/likelihood.ts';
import type { LogitsFn } from '../../sampling/types.ts';
import { stopGradient } from './d1_loss.ts';
import type { Draw, MicroTensors, Objective, PolicyModel, Scores } from './types.ts';

/** The masks of one inner update: per MC sample j, row i masks mask[j, i, :] (1 = masked in the first view). */
export interface EspoDraw extends Draw {
  mask: tf.Tensor3D; // float32 [M, n, Lg]
  ratio: tf.Tensor2D; // float32 [M, n]: p = x / (Lg + 1)
  /** The current policy's ELBO [n] at this inner update, summed view by view by the no-gradient parts (split loss). */
  cur: tf.Tensor1D | null;
}

export function espoObjective(g: GrpoSection): Objective {
  const { num_mc: M, reduce_var, leave_one_out } = g.espo;
  const G = g.num_generations;
  const V = espoViews(M, reduce_var); // forward passes of n rows per ELBO
  const elboOf = (model: PolicyModel, mb: MicroTensors, d: EspoDraw, view?: number) =>
    espoElbo((ids, mask) => forward(model.params, model.cfg, ids, mask), mb.ids, mb.attentionMask, d.mask, d.ratio, model.cfg.mask_token_id, reduce_var, view);
  const lossOf = (elbo: tf.Tensor1D, old: tf.Tensor1D, ref: tf.Tensor1D | null, mb: MicroTensors) => {
    if (mb.advantages.rank !== 1) throw new ShapeError(`espo: advantages must be one per completion [n], got [${mb.advantages.shape}] (grpo.credit: process is d1 only)`);
    const A = leave_one_out ? (tf.mul(mb.advantages, G / (G - 1)) as tf.Tensor1D) : (mb.advantages as tf.Tensor1D);
    return espoLoss({ elbo, oldElbo: old, refElbo: ref, advantages: A }, { epsilon: g.epsilon, epsilon_high: g.epsilon_high, beta: g.beta, Lg: mb.completionMask.shape[1] });
  };
  const report = (o: ReturnType<typeof espoLoss>) => ({ seq_ratio: o.seqRatio, elbo: o.elbo, kl: o.kl, clip_low: o.clipLow, clip_high: o.clipHigh });
  return {
    name: 'espo',
    cachesOld: (mu) => mu > 1, // μ = 1: old = stopGradient(current), as ESPO's `.detach()`
    cachesRef: (beta) => beta > 0,
    draw(mb, rng) {
      const n = mb.end - mb.start;
      const Lg = mb.completionMask.shape[1];
      const { mask, ratio } = stratifiedMasks(n, Lg, M, rng);
      return { mask: tf.tensor3d(mask, [M, n, Lg]), ratio: tf.tensor2d(ratio, [M, n]), cur: null } satisfies EspoDraw;
    },
    // Split loss (V > 1): parts 0..V−1 sum the current ELBO view by view without a gradient (their loss is a zero
    // tied to every parameter), parts V..2V−1 differentiate one view each through the linearisation below.
    parts: () => (V > 1 ? 2 * V : 1),
    score(model, mb, draw, part): Scores {
      const d = draw as EspoDraw;
      if (part === undefined) return { elbo: elboOf(model, mb, d) };
      const view = elboOf(model, mb, d, part % V);
      if (part >= V) return { view };
      const zero = tf.mul(0, tf.addN(Object.values(model.params).map((p) => tf.sum(p)))) as tf.Scalar; // [] no gradient
      return { view, zero };
    },
    loss(cur, old, ref, mb, draw, part) {
      const d = draw as EspoDraw;
      const oldElbo = (old?.elbo as tf.Tensor1D) ?? null;
      const refElbo = (ref?.elbo as tf.Tensor1D) ?? null;
      if (part === undefined) {
        const elbo = cur.elbo as tf.Tensor1D;
        const out = lossOf(elbo, oldElbo ?? (stopGradient(elbo as unknown as tf.Tensor2D) as unknown as tf.Tensor1D), refElbo, mb);
        return { loss: out.loss, report: report(out) };
      }
      if (part < V) {
        // A fresh tensor from the values: nothing on this part's gradient tape, so it outlives it (disposed with the draw).
        const sum = part === 0 ? (cur.view as tf.Tensor1D) : tf.add(d.cur!, cur.view);
        const next = tf.keep(tf.tensor1d(sum.dataSync()));
        if (d.cur && !d.cur.isDisposed) d.cur.dispose(); // part 0: a stale sum from an earlier call of this update
        d.cur = next;
        return { loss: cur.zero as tf.Scalar, report: {} };
      }
      // Linearisation: ELBO = cur + (view − sg(view)) has the value of cur and the gradient of this view's term, so
      // each part's gradient is ∂L/∂ELBO · ∇view and the parts' gradients sum to ∇L. Its value L is kept by the last part.
      if (!d.cur) throw new Error('espo: the split loss runs its no-gradient parts first (microLosses order)');
      const view = cur.view as tf.Tensor1D;
      const elbo = tf.add(d.cur, tf.sub(view, stopGradient(view as unknown as tf.Tensor2D) as unknown as tf.Tensor1D)) as tf.Tensor1D;
      const out = lossOf(elbo, oldElbo ?? d.cur, refElbo, mb);
      if (part < 2 * V - 1) return { loss: tf.sub(out.loss, stopGradient(out.loss as unknown as tf.Tensor2D)) as tf.Scalar, report: {} };
      return { loss: out.loss, report: report(out) };
    },
  };
}

/** Forward passes of n rows per ELBO estimate: num_mc samples, 2 each with reduce_var. */
export function espoViews(numMc: number, reduceVar: boolean): number {
  return numMc * (reduceVar ? 2 : 1);
}

/**
 * ESPO's stratified masks for n rows of Lg completion tokens, M samples: per sample an offset k ~ U{0..Lg}, row i
 * masks x_i = round(k + i·(Lg+1)/n) mod (Lg+1) tokens at uniformly random positions. Returns mask [M·n·Lg] (1 =
 * masked) and ratio [M·n] = x_i / (Lg+1), flat, and the counts x.
 */
export function stratifiedMasks(n: number, Lg: number, M: number, rng: Rng): { mask: Float32Array; ratio: Float32Array; counts: number[] } {
  const mask = new Float32Array(M * n * Lg);
  const ratio = new Float32Array(M * n);
  const counts: number[] = [];
  for (let j = 0; j < M; j++) {
    const k = rng.int(Lg + 1);
    for (let i = 0; i < n; i++) {
      const x = roundHalfEven(k + (i * (Lg + 1)) / n) % (Lg + 1);
      counts.push(x);
      ratio[j * n + i] = x / (Lg + 1);
      const perm = rng.permutation(Lg);
      for (let c = 0; c < x; c++) mask[(j * n + i) * Lg + perm[c]] = 1;
    }
  }
  return { mask, ratio, counts };
}

function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Sequence ELBOs [n] of the completions (the last Lg columns of ids int32 [n, L]) under the masks of one draw:
 * mask float32 [M, n, Lg], ratio float32 [M, n]. Differentiable. One forward pass of n rows per view (espoViews),
 * each in its own tidy, so outside a gradient tape only one pass's activations are alive. `view` (0-based: sample
 * ⌊view / 2⌋, the mask or, odd, its complement) returns that pass's term alone; the terms sum to the ELBO.
 * attentionMask [n, L] (1 = real, 0 = left pad) goes to the model.
 */
export function espoElbo(logitsFn: LogitsFn, ids: tf.Tensor2D, attentionMask: tf.Tensor2D | null, mask: tf.Tensor3D, ratio: tf.Tensor2D, maskId: number, reduceVar: boolean, view?: number): tf.Tensor1D {
  const [n, L] = ids.shape;
  const [M, , Lg] = mask.shape;
  assertShape('espoElbo: mask', mask.shape, [M, n, Lg], `[M, n, Lg] = [${M}, ${n}, ${Lg}]`);
  assertShape('espoElbo: ratio', ratio.shape, [M, n], `[M, n] = [${M}, ${n}]`);
  if (Lg > L) throw new ShapeError(`espoElbo: Lg (${Lg}) exceeds the sequence length L (${L})`);
  const views = reduceVar ? 2 : 1;
  const V = M * views;
  if (view !== undefined && !(Number.isInteger(view) && view >= 0 && view < V)) throw new ShapeError(`espoElbo: view ${view} is not one of 0..${V - 1}`);
  const term = (j: number) =>
    tf.tidy(() => {
      const s = Math.floor(j / views);
      const complement = j % views === 1;
      const mA = tf.reshape(tf.slice(mask, [s, 0, 0], [1, n, Lg]), [n, Lg]); // [n, Lg] 1 = masked in the first view
      const p = tf.reshape(tf.slice(ratio, [s, 0], [1, n]), [n, 1]); // [n, 1]
      const scored = complement ? tf.sub(1, mA) : mA; // [n, Lg]: the tokens this view masks and scores
      const hit = tf.concat([tf.zeros([n, L - Lg], 'bool'), tf.greater(scored, 0)], 1); // [n, L]; the prompt is never masked
      const tail = callTail(logitsFn, select<tf.Tensor2D>(hit, tf.scalar(maskId, 'int32'), ids), attentionMask, Lg); // [n, Lg, V]
      const lp = targetLogProbs(tail, tf.slice(ids, [0, L - Lg], [n, Lg])); // [n, Lg]
      // 1/p, or ESPO's complement weight 1/((Lg − x)/(Lg + 1)); a view that masks nothing (x = 0 or Lg) has only zero
      // terms, so its divisor is kept off 0.
      const w = tf.maximum(complement ? tf.sub(Lg / (Lg + 1), p) : p, 1e-12); // [n, 1]
      return tf.mul(tf.sum(tf.div(tf.mul(scored, lp), w), 1), 1 / V) as tf.Tensor1D; // [n]: ½ per view, 1/M per sample
    });
  if (view !== undefined) return term(view);
  return tf.tidy(() => {
    let total = term(0);
    for (let j = 1; j < V; j++) total = tf.add(total, term(j)) as tf.Tensor1D;
    return total;
  });
}

export interface EspoLossOptions {
  epsilon: number;
  /** Upper clip; null = ε. */
  epsilon_high: number | null;
  /** k2 KL coefficient; 0 = no reference. */
  beta: number;
  /** The per-token normaliser of ratio and KL (ESPO: logits_to_keep, the generation length). */
  Lg: number;
}

/**
 * ESPO's loss on sequence ELBOs [n]: current (differentiable), old and ref (constants; ref null when β = 0), and
 * advantages [n]. Call inside tf.tidy / tf.variableGrads.
 */
export function espoLoss(
  x: { elbo: tf.Tensor1D; oldElbo: tf.Tensor1D; refElbo: tf.Tensor1D | null; advantages: tf.Tensor1D },
  o: EspoLossOptions,
): { loss: tf.Scalar; seqRatio: tf.Scalar; elbo: tf.Scalar; kl: tf.Scalar; clipLow: tf.Scalar; clipHigh: tf.Scalar } {
  const [n] = x.elbo.shape;
  for (const [name, t] of [['oldElbo', x.oldElbo], ['refElbo', x.refElbo], ['advantages', x.advantages]] as const) {
    if (t) assertShape(`espoLoss: ${name}`, t.shape, [n], `[n] = [${n}]`);
  }
  const epsHigh = o.epsilon_high ?? o.epsilon;
  const ratio = tf.exp(tf.div(tf.sub(x.elbo, x.oldElbo), o.Lg)); // [n]
  const clipped = tf.clipByValue(ratio, 1 - o.epsilon, 1 + epsHigh);
  const pg = tf.neg(tf.mean(tf.minimum(tf.mul(ratio, x.advantages), tf.mul(clipped, x.advantages)))) as tf.Scalar;
  let kl: tf.Scalar = tf.scalar(0);
  if (o.beta !== 0) {
    if (!x.refElbo) throw new Error('espoLoss: beta > 0 needs refElbo');
    kl = tf.div(tf.mean(tf.div(tf.square(tf.sub(x.elbo, x.refElbo)), 2)), o.Lg) as tf.Scalar;
  }
  const frac = (b: tf.Tensor) => tf.mean(tf.cast(b, 'float32')) as tf.Scalar;
  return {
    loss: o.beta !== 0 ? (tf.add(pg, tf.mul(o.beta, kl)) as tf.Scalar) : pg,
    seqRatio: tf.mean(ratio) as tf.Scalar,
    elbo: tf.mean(x.elbo) as tf.Scalar,
    kl,
    clipLow: frac(tf.logicalAnd(tf.less(ratio, 1 - o.epsilon), tf.less(x.advantages, 0))),
    clipHigh: frac(tf.logicalAnd(tf.greater(ratio, 1 + epsHigh), tf.greater(x.advantages, 0))),
  };
}
