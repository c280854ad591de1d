/**
 * Data-parallel diffu-GRPO on a multi-core CPU (`training.workers: W`). The embedded backend (tfjs-wasm) computes on
 * one core per thread, so W worker threads, each with its own backend, its own copy of the policy and the reference
 * model, take a contiguous share of the step's prompts (whole groups):
 *
 *   main                                        worker w (of W)
 *   policy weights, seeds ──── sample ────────▶ phase 1: G completions for its P/W prompts
 *   rewards + advantages over ◀── samples ───── (rollout.ts sampleCompletions)
 *   the WHOLE batch (phase 2)
 *   advantages, seed ───────── prepare ───────▶ phase 3: grad_accum/W micro-batches, old/ref log-probs cached
 *   for each inner update k:
 *     policy weights ───────── grads ─────────▶ Σ of its micro-batch gradients (accumulateGrads)
 *     Σ over workers / grad_accum, clip, AdamW ◀── gradient sums
 *
 * Rewards stay in the main thread (reward functions are user code and objects the workers cannot receive), and the
 * advantages see the whole batch, so `scale_rewards: batch` means the same as with one process. Each worker's sampling
 * and masking RNGs are seeded per step from the main RNGs, so runs are deterministic and resume exactly; a run with
 * W workers samples different completions than a run with one (different RNG streams), not a different algorithm.
 * Only the embedded backends (wasm, cpu) run in workers; tfjs-node(-gpu) already uses every core.
 */
import type { BackendName } from '../backend/backend.ts';
import type { Rng } from '../backend/rng.ts';
import { WorkerPool } from '../backend/threads.ts';
import type { ModelConfig } from '../model/config.ts';
import type { Params } from '../model/model.ts';
import { addGradSums, weightArrays, type GradSums, type PooledGrads, type WeightArrays } from '../engine/parallel.ts';
import { scoreSamples, type RewardSource, type Rollout, type RolloutOptions, type Samples } from './rollout.ts';

export interface WorkerInit {
  backend: BackendName;
  cfg: ModelConfig;
  policy: WeightArrays;
  ref: WeightArrays | null;
  rollout: RolloutOptions;
  /** Micro-batches per worker (training.grad_accum / W). */
  numMicro: number;
}

type Request =
  | { type: 'init'; init: WorkerInit }
  | { type: 'sample'; policy: WeightArrays; promptIds: number[][]; seed: number }
  | { type: 'prepare'; samples: Samples; advantages: number[]; tokenAdvantages: number[][] | null; seed: number }
  | { type: 'grads'; policy: WeightArrays; k: number }
  | { type: 'ref'; ref: WeightArrays };

export class RolloutWorkers {
  private constructor(private readonly pool: WorkerPool<Request>) {}

  /** Starts W workers and initialises each (backend, model, reference). */
  static async start(W: number, init: WorkerInit): Promise<RolloutWorkers> {
    return new RolloutWorkers(await WorkerPool.start<Request>(new URL('./worker_main.ts', import.meta.url), W, () => ({ type: 'init', init }), 'diffu-GRPO'));
  }

  get size(): number {
    return this.pool.size;
  }

  /** Phase 1 on every worker: shards[w] are worker w's encoded prompts. */
  sample(policy: Params, shards: number[][][], seeds: number[]): Promise<Samples[]> {
    const weights = weightArrays(policy);
    return this.pool.all((w) => ({ type: 'sample', policy: weights, promptIds: shards[w], seed: seeds[w] })) as Promise<Samples[]>;
  }

  /** Phase 3 on every worker: its samples and its rows' advantages. Returns each worker's seconds. */
  prepare(samples: Samples[], advantages: number[][], tokenAdvantages: (number[][] | null)[], seeds: number[]): Promise<number[]> {
    return this.pool.all((w) => ({ type: 'prepare', samples: samples[w], advantages: advantages[w], tokenAdvantages: tokenAdvantages[w], seed: seeds[w] })) as Promise<number[]>;
  }

  /** Gradient sums of inner update k from every worker, added up as tensors (caller disposes). */
  async grads(policy: Params, k: number): Promise<PooledGrads> {
    const weights = weightArrays(policy);
    return addGradSums(policy, (await this.pool.all(() => ({ type: 'grads', policy: weights, k }))) as GradSums[]);
  }

  /** A synced reference model (ref_model_sync_steps) goes to every worker. */
  async setRef(ref: Params): Promise<void> {
    const weights = weightArrays(ref);
    await this.pool.all(() => ({ type: 'ref', ref: weights }));
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

export type { Request as WorkerRequest };

/**
 * collectRollout's data-parallel twin: phase 1 on the workers (worker w takes prompts [w·P/W, (w+1)·P/W)), phase 2
 * here over the whole batch, phase 3 on the workers. The returned Rollout has no micro-batches (they live in the
 * workers until the next rollout replaces them).
 */
export async function parallelRollout(
  pool: RolloutWorkers,
  policy: { params: Params; cfg: ModelConfig },
  rows: Record<string, unknown>[],
  promptTexts: string[],
  tok: { encode(s: string): number[]; decode(ids: number[], o?: { skipSpecial?: boolean }): string },
  rewards: RewardSource,
  rngs: { sampling: Rng; masking: Rng },
  o: RolloutOptions,
): Promise<Rollout> {
  const W = pool.size;
  const per = promptTexts.length / W;
  const range = Array.from({ length: W }, (_, w) => w);
  const t0 = performance.now();
  const shards = range.map((w) => promptTexts.slice(w * per, (w + 1) * per).map((p) => tok.encode(p)));
  const samples = await pool.sample(policy.params, shards, range.map(() => rngs.sampling.nextU32()));
  const t1 = performance.now();
  const merged = { sequences: samples.flatMap((s) => s.sequences), steps: samples[0].steps ? samples.flatMap((s) => s.steps!) : null };
  const scored = await scoreSamples(merged, rows, promptTexts, tok, rewards, policy.cfg.eos_token_id, o);
  const t2 = performance.now();
  const n = per * o.grpo.num_generations; // completions per worker
  await pool.prepare(
    samples,
    range.map((w) => scored.advantages.slice(w * n, (w + 1) * n)),
    range.map((w) => scored.tokenAdvantages?.slice(w * n, (w + 1) * n) ?? null),
    range.map(() => rngs.masking.nextU32()),
  );
  const t3 = performance.now();
  return { ...scored, nfe: samples[0].nfe, micro: [], seconds: { generation: (t1 - t0) / 1000, rewards: (t2 - t1) / 1000, logprobs: (t3 - t2) / 1000 } };
}
