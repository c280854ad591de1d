/** SFT/pretraining on W worker threads (engine/parallel.ts): every micro-batch's rows split over the workers, like DDP. */
import type { BackendName } from '../backend/backend.ts';
import { WorkerPool } from '../backend/threads.ts';
import type { ModelConfig } from '../model/config.ts';
import type { Params } from '../model/model.ts';
import { addGradSums, weightArrays, type GradSums, type PooledGrads, type WeightArrays } from '../engine/parallel.ts';

/**
 * Rows of one masked micro-batch of the SFT/pretraining objective (a whole micro-batch, or a worker's slice of it):
 * noisy input ids, clean targets and per-token loss weights, each [rows·L] row-major. `share` = rows / batch_size:
 * the loss is Σ w·CE / batch_size over the WHOLE batch, so a slice's loss is its own mean times its share, and the
 * slices' gradients add up to the batch's.
 */
export interface SftMicro {
  noisyIds: Int32Array;
  targets: Int32Array;
  weights: Float32Array;
  rows: number;
  share: number;
}

/** Rows [from, to) of a micro-batch with sequence length L. */
export function sliceRows(m: SftMicro, from: number, to: number, L: number): SftMicro {
  return {
    noisyIds: m.noisyIds.slice(from * L, to * L), targets: m.targets.slice(from * L, to * L), weights: m.weights.slice(from * L, to * L),
    rows: to - from, share: (m.share * (to - from)) / m.rows,
  };
}

export type SftRequest =
  | { type: 'init'; backend: BackendName; cfg: ModelConfig; weights: WeightArrays; recompute: boolean }
  | { type: 'grads'; weights: WeightArrays; micro: SftMicro[]; L: number };

/** W SFT gradient workers (sft_worker.ts). */
export class SftWorkers {
  private constructor(private readonly pool: WorkerPool<SftRequest>) {}

  static async start(W: number, backend: BackendName, cfg: ModelConfig, params: Params, recompute: boolean): Promise<SftWorkers> {
    const weights = weightArrays(params);
    return new SftWorkers(await WorkerPool.start<SftRequest>(new URL('./sft_worker.ts', import.meta.url), W, () => ({ type: 'init', backend, cfg, weights, recompute }), 'SFT'));
  }

  /** The gradient sum of all micro-batches: worker w takes the w-th contiguous slice of every micro-batch's rows. */
  async grads(params: Params, micro: SftMicro[], L: number): Promise<PooledGrads> {
    const W = this.pool.size;
    const weights = weightArrays(params);
    const slices = (w: number) => micro.map((m) => sliceRows(m, (w * m.rows) / W, ((w + 1) * m.rows) / W, L));
    return addGradSums(params, (await this.pool.all((w) => ({ type: 'grads', weights, micro: slices(w), L }))) as GradSums[]);
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
