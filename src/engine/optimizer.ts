/**
 * AdamW (Loshchilov & Hutter, "Decoupled Weight Decay Regularization"), with torch.optim.AdamW's update order:
 *   p ← p − lr·wd·p                                       (decoupled decay; only tensors of rank ≥ 2, not norm weights)
 *   m ← β1·m + (1 − β1)·g          v ← β2·v + (1 − β2)·g²
 *   p ← p − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + eps)   (= p − lr·m̂/(√v̂ + eps))
 * and gradient clipping by global norm like torch.nn.utils.clip_grad_norm_.
 */
import * as tf from '@tensorflow/tfjs';
import { ShapeError } from '../errors.ts';

export interface AdamWOptions {
  beta1: number;
  beta2: number;
  eps: number;
  weight_decay: number;
}

/** torch.nn.utils.clip_grad_norm_ adds this to the norm before dividing. */
const CLIP_EPS = 1e-6;

export class AdamW {
  private readonly params: Record<string, tf.Variable>;
  private readonly opts: AdamWOptions;
  private readonly expAvg: Record<string, tf.Variable> = {};
  private readonly expAvgSq: Record<string, tf.Variable> = {};
  private t = 0;

  constructor(params: Record<string, tf.Variable>, opts: AdamWOptions) {
    this.params = params;
    this.opts = opts;
    for (const [name, p] of Object.entries(params)) {
      // Unnamed, non-trainable: tfjs registers variable names globally, and these must not show up in variableGrads.
      this.expAvg[name] = tf.tidy(() => tf.variable(tf.zerosLike(p), false));
      this.expAvgSq[name] = tf.tidy(() => tf.variable(tf.zerosLike(p), false));
    }
  }

  /** Number of steps taken (t in the bias corrections). */
  get stepCount(): number {
    return this.t;
  }

  /** One update of every parameter; `grads` must hold exactly the parameters' names and shapes. Frees its intermediates. */
  step(grads: Record<string, tf.Tensor>, lr: number): void {
    for (const name of Object.keys(grads)) {
      if (!(name in this.params)) throw new Error(`AdamW.step: gradient '${name}' has no parameter`);
    }
    for (const [name, p] of Object.entries(this.params)) {
      const g = grads[name];
      if (g === undefined) throw new Error(`AdamW.step: no gradient for parameter '${name}'`);
      if (!tf.util.arraysEqual(g.shape, p.shape)) {
        throw new ShapeError(`AdamW.step: gradient '${name}' expected [${p.shape.join(', ')}], got [${g.shape.join(', ')}]`);
      }
    }
    const { beta1, beta2, eps, weight_decay } = this.opts;
    this.t += 1;
    const stepSize = lr / (1 - beta1 ** this.t);
    const bc2Sqrt = Math.sqrt(1 - beta2 ** this.t);
    tf.tidy(() => {
      for (const [name, p] of Object.entries(this.params)) {
        const g = grads[name];
        const m = this.expAvg[name];
        const v = this.expAvgSq[name];
        const decayed = p.rank >= 2 && weight_decay !== 0 ? tf.mul(p, 1 - lr * weight_decay) : p;
        const mNew = tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1));
        const vNew = tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2));
        const denom = tf.add(tf.div(tf.sqrt(vNew), bc2Sqrt), eps);
        m.assign(mNew);
        v.assign(vNew);
        p.assign(tf.sub(decayed, tf.mul(tf.div(mNew, denom), stepSize)));
      }
    });
  }

  /** The live state, keyed `exp_avg.<name>` and `exp_avg_sq.<name>`. Owned by the optimizer: read it, don't dispose it. */
  stateTensors(): Record<string, tf.Tensor> {
    const out: Record<string, tf.Tensor> = {};
    for (const name of Object.keys(this.params)) {
      out[`exp_avg.${name}`] = this.expAvg[name];
      out[`exp_avg_sq.${name}`] = this.expAvgSq[name];
    }
    return out;
  }

  /** Restores `stateTensors()` output and the step count; copies the values (the caller still owns `tensors`). */
  loadState(tensors: Record<string, tf.Tensor>, stepCount: number): void {
    if (!(Number.isInteger(stepCount) && stepCount >= 0)) throw new Error(`AdamW.loadState: stepCount (${stepCount}) must be an integer >= 0`);
    const known = new Set(Object.keys(this.params).flatMap((n) => [`exp_avg.${n}`, `exp_avg_sq.${n}`]));
    for (const key of Object.keys(tensors)) {
      if (!known.has(key)) throw new Error(`AdamW.loadState: state tensor '${key}' matches no parameter`);
    }
    for (const key of known) {
      const t = tensors[key];
      if (t === undefined) throw new Error(`AdamW.loadState: missing state tensor '${key}'`);
      const target = key.startsWith('exp_avg_sq.') ? this.expAvgSq[key.slice('exp_avg_sq.'.length)] : this.expAvg[key.slice('exp_avg.'.length)];
      if (!tf.util.arraysEqual(t.shape, target.shape)) {
        throw new ShapeError(`AdamW.loadState: '${key}' expected [${target.shape.join(', ')}], got [${t.shape.join(', ')}]`);
      }
    }
    tf.tidy(() => {
      for (const name of Object.keys(this.params)) {
        this.expAvg[name].assign(tf.cast(tensors[`exp_avg.${name}`], 'float32'));
        this.expAvgSq[name].assign(tf.cast(tensors[`exp_avg_sq.${name}`], 'float32'));
      }
    });
    this.t = stepCount;
  }

  dispose(): void {
    for (const v of [...Object.values(this.expAvg), ...Object.values(this.expAvgSq)]) v.dispose();
  }
}

/**
 * Scales all gradients by min(1, maxNorm / (‖g‖ + 1e-6)) where ‖g‖ is the global L2 norm over all of them
 * (torch.nn.utils.clip_grad_norm_). Returns new tensors and the pre-clip norm; run it inside the caller's tf.tidy.
 */
export function clipGradsByGlobalNorm(grads: Record<string, tf.Tensor>, maxNorm: number): { grads: Record<string, tf.Tensor>; norm: tf.Scalar } {
  const names = Object.keys(grads);
  if (names.length === 0) throw new Error('clipGradsByGlobalNorm: no gradients');
  const norm = tf.sqrt(tf.addN(names.map((n) => tf.sum(tf.square(grads[n]))))) as tf.Scalar; // []
  const coef = tf.minimum(tf.div(maxNorm, tf.add(norm, CLIP_EPS)), 1); // [] clip_coef_clamped
  const out: Record<string, tf.Tensor> = {};
  for (const n of names) out[n] = tf.mul(grads[n], coef);
  return { grads: out, norm };
}
