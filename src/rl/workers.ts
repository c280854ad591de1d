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
import type { Rng } from '../rng.ts';
import { WorkerPool } from '../backend/threads.ts';
import type { ModelConfig } from '../model/config.ts';
import type { Params } from '../model/model.ts';
import { addGradSums, weightArrays, type GradSums, type PooledGrads, type WeightArrays } from '../engine/parallel.ts';
import { sampleAndScore, splitTrained, type BatchSource, type SampleFn } from './dynamic_sampling.ts';
import type { RewardSource } from '../rewards/types.ts';
import type { Rollout } from './rollout.ts';
import type { Fill, RolloutOptions, Samples } from './completions.ts';

export interface WorkerInit {
  backend: BackendName;
  cfg: ModelConfig;
  policy: WeightArrays;
  ref: WeightArrays | null;
  rollout: RolloutOptions;
  /** Micro-batches per worker (training.grad_accum / W). */
  numMicro: number;
  /** training.recompute: gradient checkpointing in this worker's backward passes. */
  recompute: boolean;
}

type Request =
  | { type: 'init'; init: WorkerInit }
  | { type: 'sample'; policy: WeightArrays; promptIds: number[][]; seed: number; fill: Fill | null }
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

  /** Phase 1 on every worker: shards[w] are worker w's encoded prompts (may be empty), fills[w] its fixed tokens. */
  sample(policy: Params, shards: number[][][], seeds: number[], fills: (Fill | null)[] = shards.map(() => null)): Promise<Samples[]> {
    const weights = weightArrays(policy);
    return this.pool.all((w) => ({ type: 'sample', policy: weights, promptIds: shards[w], seed: seeds[w], fill: fills[w] })) as Promise<Samples[]>;
  }

  /** Phase 3 on every worker: its samples and its rows' advantages. Returns each worker's micro-batch count. */
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
 * collectRollout's data-parallel twin: phase 1 on the workers (worker w takes prompts [⌊w·n/W⌋, ⌊(w+1)·n/W⌋) of each
 * sampling call: the batch's, and any refill or inpainting call of dynamic_sampling.ts), phase 2 here over the whole
 * batch, phase 3 on the workers (worker w takes the w-th contiguous share of the trained groups). The returned Rollout
 * has no micro-batches (they live in the workers until the next rollout replaces them).
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
  source: BatchSource | null = null,
): Promise<Rollout> {
  const W = pool.size;
  const range = Array.from({ length: W }, (_, w) => w);
  const padId = policy.cfg.pad_token_id;
  const sample: SampleFn = async (ids, fill) => {
    const t0 = performance.now();
    const G = fill?.num_generations ?? o.grpo.num_generations;
    const cut = (w: number) => Math.floor((w * ids.length) / W);
    const fills = range.map((w) => (fill ? { num_generations: G, fixed: fill.fixed.slice(cut(w) * G, cut(w + 1) * G) } : null));
    const parts = await pool.sample(policy.params, range.map((w) => ids.slice(cut(w), cut(w + 1))), range.map(() => rngs.sampling.nextU32()), fills);
    return { ...mergeSamples(parts, padId), seconds: (performance.now() - t0) / 1000 };
  };
  const d = await sampleAndScore(sample, rows, promptTexts, tok, rewards, policy.cfg, rngs.sampling, o, source);
  const t2 = performance.now();
  const shares = splitTrained(d.trained, W, padId, o.sampler.gen_length);
  const counts = await pool.prepare(
    shares.map((s) => s.samples),
    shares.map((s) => s.advantages),
    shares.map((s) => s.tokenAdvantages),
    range.map(() => rngs.masking.nextU32()),
  );
  const t3 = performance.now();
  return {
    ...d.scored, nfe: d.nfe, positions: d.positions, micro: [], numMicro: counts.reduce((a, b) => a + b, 0), dynamic: d.metrics,
    seconds: { generation: d.seconds.generation, rewards: d.seconds.rewards, logprobs: (t3 - t2) / 1000 },
  };
}

/** The workers' phase-1 outputs as one batch, in worker order (rows left-padded to the longest). */
function mergeSamples(parts: Samples[], padId: number): Samples {
  const L = Math.max(0, ...parts.flatMap((p) => p.full.map((r) => r.length)));
  const used = parts.filter((p) => p.sequences.length > 0);
  return {
    sequences: used.flatMap((p) => p.sequences),
    full: used.flatMap((p) => p.full.map((r) => [...new Array<number>(L - r.length).fill(padId), ...r])),
    promptLengths: used.flatMap((p) => p.promptLengths),
    steps: used.length > 0 && used.every((p) => p.steps) ? used.flatMap((p) => p.steps!) : null,
    inpainted: used.some((p) => p.inpainted) ? used.flatMap((p) => p.inpainted ?? p.sequences.map((s) => s.map(() => 0))) : null,
    logps: used.length > 0 && used.every((p) => p.logps) ? used.flatMap((p) => p.logps!) : null,
    nfe: Math.max(0, ...used.map((p) => p.nfe)),
    positions: used.reduce((a, p) => a + p.positions, 0),
    seconds: 0,
  };
}
