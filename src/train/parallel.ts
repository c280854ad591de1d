/**
 * Data-parallel gradients on a multi-core CPU (`training.workers: W`), shared by SFT/pretraining and diffu-GRPO.
 * The embedded backend (tfjs-wasm) computes on one core per thread, so W worker threads, each with its own backend and
 * its own copy of the weights, each take grad_accum / W of the step's micro-batches:
 *
 *   main                                          worker w (of W)
 *   weights + its micro-batches ─── grads ──────▶ Σ of its micro-batch gradients (step.ts accumulateGrads)
 *   Σ over workers / grad_accum, clip, AdamW ◀─── gradient sums (plain Float32Arrays)
 *
 * The main thread keeps everything that decides WHAT is computed (data order, masks, RNGs, the optimizer), so a run
 * with W workers takes the same steps as a run with one (the gradient sum is added up in another order: equal to
 * float rounding) and resumes exactly. Only the embedded backends (wasm, cpu) run in workers: tfjs-node(-gpu) already
 * uses every core. SFT's worker is sft_worker.ts; GRPO's (which also samples) is rl/workers.ts.
 */
import os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import type { BackendName } from '../backend/backend.ts';
import { ConfigError } from '../backend/errors.ts';
import { WorkerPool } from '../backend/threads.ts';
import type { ModelConfig } from '../model/config.ts';
import { paramShapes, type Params } from '../model/model.ts';
import type { NoisedBatch } from '../diffusion/forward_process.ts';

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
    for (const p of parts) p.sum[name].forEach((x, i) => (acc[i] += x));
    sum[name] = tf.tensor(acc, v.shape);
  }
  const reportSum: Record<string, number> = {};
  for (const p of parts) for (const [key, x] of Object.entries(p.reportSum)) reportSum[key] = (reportSum[key] ?? 0) + x;
  return { sum, lossSum: parts.reduce((a, p) => a + p.lossSum, 0), reportSum, numTensors: parts.map((p) => p.numTensors) };
}

/**
 * The number of workers: training.workers, or for `auto` the most cores that divide grad_accum (1 on tfjs-node).
 * Needs an embedded backend and an even split of the micro-batches; named errors otherwise.
 */
export function resolveWorkers(training: { workers: number | 'auto'; grad_accum: number }, backend: string): number {
  const { workers, grad_accum } = training;
  const embedded = backend === 'wasm' || backend === 'cpu';
  if (workers === 'auto') {
    let W = embedded ? Math.min(os.availableParallelism(), grad_accum) : 1;
    while (grad_accum % W !== 0) W--;
    return W;
  }
  const W = workers;
  if (W === 1) return 1;
  if (!embedded) {
    throw new ConfigError(`training.workers (${W}) runs the embedded backend in worker threads, but the backend is ${backend}, which already uses every core: set training.workers: 1`);
  }
  if (grad_accum % W !== 0) throw new ConfigError(`training.grad_accum (${grad_accum}) must be a multiple of training.workers (${W}): each worker takes grad_accum / workers micro-batches`);
  return W;
}

// ---- SFT / pretraining ----------------------------------------------------------------------------------------

/** One masked micro-batch of the SFT/pretraining objective: noisy input, clean targets, per-token loss weights. */
export interface SftMicro {
  noisy: NoisedBatch;
  targets: Int32Array;
}

export type SftRequest =
  | { type: 'init'; backend: BackendName; cfg: ModelConfig; weights: WeightArrays }
  | { type: 'grads'; weights: WeightArrays; micro: SftMicro[]; B: number; L: number };

/** W SFT gradient workers (sft_worker.ts). */
export class SftWorkers {
  private constructor(private readonly pool: WorkerPool<SftRequest>) {}

  static async start(W: number, backend: BackendName, cfg: ModelConfig, params: Params): Promise<SftWorkers> {
    const weights = weightArrays(params);
    return new SftWorkers(await WorkerPool.start<SftRequest>(new URL('./sft_worker.ts', import.meta.url), W, () => ({ type: 'init', backend, cfg, weights }), 'SFT'));
  }

  /** The gradient sum of all micro-batches: worker w takes the w-th contiguous share. */
  async grads(params: Params, micro: SftMicro[], B: number, L: number): Promise<PooledGrads> {
    const W = this.pool.size;
    const per = micro.length / W;
    const weights = weightArrays(params);
    const parts = (await this.pool.all((w) => ({ type: 'grads', weights, micro: micro.slice(w * per, (w + 1) * per), B, L }))) as GradSums[];
    return addGradSums(params, parts);
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
