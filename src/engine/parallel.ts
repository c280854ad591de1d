/**
 * Data-parallel gradients on a multi-core CPU (`training.workers: W`), shared by SFT/pretraining and diffu-GRPO.
 * The embedded backend (tfjs-wasm) computes on one core per thread, so W worker threads, each with its own backend and
 * its own copy of the weights, each take a share of the step (SFT: 1/W of every micro-batch's rows, like PyTorch's
 * DDP; GRPO: grad_accum / W whole micro-batches of groups, rl/workers.ts):
 *
 *   main                                          worker w (of W)
 *   weights + its share ─────────── grads ──────▶ Σ of its gradients (step.ts accumulateGrads)
 *   Σ over workers / grad_accum, clip, AdamW ◀─── gradient sums (plain Float32Arrays)
 *
 * The main thread keeps everything that decides WHAT is computed (data order, masks, RNGs, the optimizer), so a run
 * with W workers takes the same steps as a run with one (the gradient sum is added up in another order: equal to
 * float rounding) and resumes exactly. Only the embedded backends (wasm, cpu) run in workers: tfjs-node(-gpu) already
 * uses every core. SFT's workers are train/sft_workers.ts; GRPO's (which also sample) rl/workers.ts.
 */
import os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../errors.ts';
import type { ModelConfig } from '../model/config.ts';
import { paramShapes, type Params } from '../model/model.ts';

/** Weights (or gradients) as plain arrays, by parameter name: what crosses the thread boundary. */
export type WeightArrays = Record<string, Float32Array>;

/** One worker's answer to a gradient request. */
export interface GradSums {
  sum: WeightArrays;
  lossSum: number;
  reportSum: Record<string, number>;
  /** The worker's tf.memory().numTensors after the call (tests check it stays flat). */
  numTensors: number;
}

/** The workers' gradient sums added up, as tensors (the caller disposes `sum`). */
export interface PooledGrads {
  sum: Record<string, tf.Tensor>;
  lossSum: number;
  reportSum: Record<string, number>;
  numTensors: number[];
}

export function weightArrays(params: Params): WeightArrays {
  return Object.fromEntries(Object.entries(params).map(([k, v]) => [k, v.dataSync() as Float32Array]));
}

/** New variables from arrays (in a worker: its copy of the weights). */
export function variablesFrom(cfg: ModelConfig, w: WeightArrays, trainable: boolean, prefix: string): Params {
  const shapes = paramShapes(cfg);
  return Object.fromEntries(Object.entries(w).map(([k, data]) => [k, tf.variable(tf.tensor(data, shapes[k]), trainable, `${prefix}.${k}`)]));
}

/** Overwrites the variables' values in place (no new variables, so memory stays flat). */
export function assignWeights(params: Params, w: WeightArrays): void {
  tf.tidy(() => {
    for (const [k, v] of Object.entries(params)) v.assign(tf.tensor(w[k], v.shape));
  });
}

/** A worker's answer from accumulateGrads' result (disposes its tensors). */
export function gradSums(acc: { sum: Record<string, tf.Tensor>; lossSum: number; reportSum: Record<string, number> }): GradSums {
  const sum = Object.fromEntries(Object.entries(acc.sum).map(([k, t]) => [k, t.dataSync() as Float32Array]));
  tf.dispose(Object.values(acc.sum));
  return { sum, lossSum: acc.lossSum, reportSum: acc.reportSum, numTensors: tf.memory().numTensors };
}

/** Adds the workers' answers up. */
export function addGradSums(params: Params, parts: GradSums[]): PooledGrads {
  const sum: Record<string, tf.Tensor> = {};
  for (const [name, v] of Object.entries(params)) {
    const acc = new Float32Array(v.size);
    for (const p of parts) {
      const g = p.sum[name];
      for (let i = 0; i < acc.length; i++) acc[i] += g[i];
    }
    sum[name] = tf.tensor(acc, v.shape);
  }
  const reportSum: Record<string, number> = {};
  for (const p of parts) for (const [key, x] of Object.entries(p.reportSum)) reportSum[key] = (reportSum[key] ?? 0) + x;
  return { sum, lossSum: parts.reduce((a, p) => a + p.lossSum, 0), reportSum, numTensors: parts.map((p) => p.numTensors) };
}

/**
 * The number of workers: training.workers, or for `auto` the most cores that divide `split.n` (1 on tfjs-node), where
 * `split` is what the workers share out (GRPO: training.grad_accum micro-batches; SFT: training.batch_size rows).
 * Needs an embedded backend and an even split; named errors otherwise.
 */
export function resolveWorkers(workers: number | 'auto', split: { key: string; n: number; share: string }, backend: string): number {
  const embedded = backend === 'wasm' || backend === 'cpu';
  if (workers === 'auto') {
    let W = embedded ? Math.min(os.availableParallelism(), split.n) : 1;
    while (split.n % W !== 0) W--;
    return W;
  }
  const W = workers;
  if (W === 1) return 1;
  if (!embedded) {
    throw new ConfigError(`training.workers (${W}) runs the embedded backend in worker threads, but the backend is ${backend}, which already uses every core: set training.workers: 1`);
  }
  if (split.n % W !== 0) throw new ConfigError(`${split.key} (${split.n}) must be a multiple of training.workers (${W}): each worker takes ${split.share}`);
  return W;
}

// ---- SFT / pretraining ----------------------------------------------------------------------------------------
