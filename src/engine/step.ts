/**
 * One optimizer step from several micro-batch losses, in two halves so that data-parallel workers (parallel.ts) can
 * take the first: accumulateGrads sums the micro-batches' gradients; applyGrads divides by their count, clips by
 * global norm and applies AdamW. Shared by the SFT/pretraining and GRPO trainers.
 */
import * as tf from '@tensorflow/tfjs';
import type { Params } from '../model/model.ts';
import { AdamW, clipGradsByGlobalNorm } from './optimizer.ts';

/**
 * Lets the event loop run once (timers, signal handlers, log flushes, messages from other threads). The trainers call
 * it once per step and evaluation once per batch: tfjs on the embedded backends computes synchronously, so without it
 * a run of several steps holds the thread for minutes — long enough for vitest's 60 s worker RPC to time out under
 * load, and for Ctrl-C or a pino flush to wait that long.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A micro-batch loss: returns the scalar to differentiate plus any scalars to report (summed, like the loss). */
export type MicroLoss = () => { loss: tf.Scalar; report?: Record<string, tf.Scalar> };

/** The gradients of the micro-batch losses summed (not yet averaged), with their loss and report sums. */
export function accumulateGrads(params: Params, micro: MicroLoss[]): { sum: Record<string, tf.Tensor>; lossSum: number; reportSum: Record<string, number> } {
  const names = Object.keys(params);
  const vars = names.map((n) => params[n]);
  let sum: tf.Tensor[] | null = null;
  let lossSum = 0;
  const reportSum: Record<string, number> = {};
  for (const f of micro) {
    const next: tf.Tensor[] = tf.tidy(() => {
      let report: Record<string, tf.Scalar> = {};
      const { value, grads } = tf.variableGrads(() => {
        const out = f();
        report = out.report ?? {};
        for (const t of Object.values(report)) tf.keep(t); // variableGrads disposes everything but the loss
        return out.loss;
      }, vars);
      lossSum += value.dataSync()[0];
      for (const [k, v] of Object.entries(report)) reportSum[k] = (reportSum[k] ?? 0) + v.dataSync()[0];
      tf.dispose(Object.values(report));
      const g = vars.map((v) => grads[v.name]);
      return sum ? g.map((x, i) => tf.add(sum![i], x)) : g;
    });
    if (sum) tf.dispose(sum);
    sum = next;
  }
  return { sum: Object.fromEntries(names.map((n, i) => [n, sum![i]])), lossSum, reportSum };
}

/** AdamW step with the mean gradient sum / count, clipped by global norm; returns the norm before clipping. */
export function applyGrads(params: Params, opt: AdamW, sum: Record<string, tf.Tensor>, count: number, lr: number, maxGradNorm: number): number {
  return tf.tidy(() => {
    const mean: Record<string, tf.Tensor> = {};
    for (const n of Object.keys(params)) mean[n] = tf.div(sum[n], count);
    const clipped = maxGradNorm > 0 ? clipGradsByGlobalNorm(mean, maxGradNorm) : { grads: mean, norm: globalNorm(mean) };
    opt.step(clipped.grads, lr);
    return clipped.norm.dataSync()[0];
  });
}

function globalNorm(grads: Record<string, tf.Tensor>): tf.Scalar {
  return tf.sqrt(tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g))))) as tf.Scalar;
}
