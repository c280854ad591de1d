/**
 * One rollout batch of GRPO: P prompts × G completions, their rewards and advantages, and — for each of the μ inner
 * updates — the objective's draw (its masks) with the old-policy and reference scores cached under it.
 *
 * The objective (objectives/, `grpo.objective`) decides what a draw is and what is scored: d1's default is one tf op
 * seed for the random prompt mask and per-token one-step log-probs. A draw is made once per (micro-batch, inner update
 * k) and stored with the micro-batch, so the current policy at inner update k sees exactly what the cached old/ref
 * scores of update k saw (d1-grpo.md "Quirks": never index the masks by a running micro-step counter).
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../rng.ts';
import type { Params } from '../model/model.ts';
import type { ModelConfig } from '../model/config.ts';
import type { MicroLoss } from '../engine/step.ts';
import type { RewardSource } from '../rewards/types.ts';
import { sampleCompletions, type Fill, type RolloutOptions, type Samples, type Scored } from './completions.ts';
import { sampleAndScore, type BatchSource } from './dynamic_sampling.ts';
import { objectiveFor, type Draw, type MicroTensors, type Scores } from './objectives/index.ts';
import { completionMask } from './objectives/d1_loss.ts';

/** A micro-batch's tensors (objectives/types.ts) and, per inner update k, the objective's draw and cached scores. */
export interface MicroBatch extends MicroTensors {
  draws: Draw[];
  /** The sampling policy's scores under draws[k] (null when the objective does not need them, e.g. μ = 1). */
  old: (Scores | null)[];
  /** The reference model's scores under draws[k] (null without a reference, β = 0). */
  ref: (Scores | null)[];
}

export interface Rollout extends Omit<Scored, 'tokenAdvantages' | 'seconds'> {
  nfe: number;
  /** Row-positions the model computed while sampling (generate's `positions`, over every sampling call). */
  positions: number;
  micro: MicroBatch[];
  /** Micro-batches that carry a loss (grad_accum; fewer when grpo.zero_std_groups: drop leaves groups out, 0 = none). */
  numMicro: number;
  /** groups/* and inpaint/* metrics of grpo.zero_std_groups and grpo.inpaint (dynamic_sampling.ts). */
  dynamic: Record<string, number>;
  seconds: { generation: number; rewards: number; logprobs: number };
}

/**
 * Samples, scores and prepares one rollout batch. `rows` are the P data rows; `encodePrompt`/`decode` come from the
 * tokenizer. The returned tensors are kept (outside any tidy): call `disposeRollout` when done. It is the three phases
 * below in one process; the data-parallel trainer (workers.ts) runs phases 1 and 3 on each worker's share of the
 * prompts and phase 2 (rewards, advantages over the whole batch) in the main thread.
 */
export async function collectRollout(
  policy: { params: Params; cfg: ModelConfig },
  ref: { params: Params } | null,
  rows: Record<string, unknown>[],
  promptTexts: string[],
  tok: { encode(s: string): number[]; decode(ids: number[], o?: { skipSpecial?: boolean }): string },
  rewards: RewardSource,
  rngs: { sampling: Rng; masking: Rng },
  o: RolloutOptions,
  source: BatchSource | null = null,
): Promise<Rollout> {
  const sample = (ids: number[][], fill?: Fill) => sampleCompletions(policy, ids, rngs.sampling, o, fill);
  // Phases 1-2, with grpo.inpaint and grpo.zero_std_groups (in a single sampling call when both are off).
  const d = await sampleAndScore(sample, rows, promptTexts, tok, rewards, policy.cfg, rngs.sampling, o, source);
  const t0 = performance.now();
  const micro = prepareMicroBatches(policy, ref, d.trained.samples, d.trained.advantages, d.trained.tokenAdvantages, rngs.masking, o, o.grad_accum);
  return { ...d.scored, nfe: d.nfe, positions: d.positions, micro, numMicro: micro.length, dynamic: d.metrics, seconds: { generation: d.seconds.generation, rewards: d.seconds.rewards, logprobs: (performance.now() - t0) / 1000 } };
}

/**
 * Phase 3: `numMicro` micro-batches of whole groups, each with, per inner update k, the objective's draw from `rng`
 * and the old/ref scores cached under it. Tensors are kept: dispose with disposeMicroBatches. Micro-batch m takes
 * groups [⌊m·P/numMicro⌋, ⌊(m+1)·P/numMicro⌋): equal shares when numMicro divides P; after grpo.zero_std_groups: drop
 * the shares may differ by one group, and a micro-batch with no group is not made (so there may be fewer, or none).
 * Inpainted tokens (samples.inpainted) are out of the completion mask, so no loss aggregation counts them.
 */
export function prepareMicroBatches(
  policy: { params: Params; cfg: ModelConfig },
  ref: { params: Params } | null,
  samples: Samples,
  advantages: number[],
  tokenAdvantages: number[][] | null,
  rng: Rng,
  o: RolloutOptions,
  numMicro: number,
): MicroBatch[] {
  const cfg = policy.cfg;
  const { num_generations: G, num_iterations: mu, beta } = o.grpo;
  const objective = objectiveFor(o.grpo, o.sampler);
  const N = samples.sequences.length;
  const Lg = o.sampler.gen_length;
  const steps = samples.steps;
  const numSteps = steps ? Math.max(...steps.flat()) : 0;
  const cmask = completionMask(samples.sequences, cfg.eos_token_id);
  samples.inpainted?.forEach((row, i) => row.forEach((fixed, l) => { if (fixed) cmask[i][l] = 0; }));
  const P = N / G;
  if (!Number.isInteger(P)) throw new Error(`prepareMicroBatches: ${N} completions are not whole groups of ${G}`);
  const L = N > 0 ? samples.full[0].length : 0;
  const micro: MicroBatch[] = [];
  for (let m = 0; m < numMicro; m++) {
    const start = Math.floor((m * P) / numMicro) * G;
    const end = Math.floor(((m + 1) * P) / numMicro) * G;
    const n = end - start;
    if (n === 0) continue;
    const full = samples.full.slice(start, end);
    const ids = tf.tensor2d(full.flat(), [n, L], 'int32');
    const padLen = full.map((_, j) => L - Lg - samples.promptLengths[start + j]);
    const attention = tf.tensor2d(full.flatMap((r, j) => r.map((_, l) => (l < padLen[j] ? 0 : 1))), [n, L]);
    const promptMask = tf.tensor2d(full.flatMap((r, j) => r.map((_, l) => (l >= padLen[j] && l < L - Lg ? 1 : 0))), [n, L], 'int32');
    const mb: MicroBatch = {
      start, end, ids, attentionMask: attention, promptMask,
      completionMask: tf.tensor2d(cmask.slice(start, end).flatMap((m) => Array.from(m)), [n, Lg]),
      advantages: tokenAdvantages ? tf.tensor2d(tokenAdvantages.slice(start, end).flat(), [n, Lg]) : tf.tensor1d(advantages.slice(start, end)),
      commitStep: steps ? tf.tensor2d(steps.slice(start, end).flat(), [n, Lg], 'int32') : null,
      numSteps,
      samplerLogp: samples.logps ? tf.tensor2d(samples.logps.slice(start, end).flat(), [n, Lg]) : null,
      draws: [], old: [], ref: [],
    };
    for (let k = 0; k < mu; k++) {
      const draw = objective.draw(mb, rng);
      mb.draws.push(draw);
      mb.old.push(objective.cachesOld(mu) ? tf.tidy(() => objective.score(policy, mb, draw)) : null);
      mb.ref.push(ref && objective.cachesRef(beta) ? tf.tidy(() => objective.score({ params: ref.params, cfg }, mb, draw)) : null);
    }
    micro.push(mb);
  }
  return micro;
}

/**
 * The loss of micro-batch `mb` at inner update k, as closures whose losses (and reports) SUM to it: call each inside
 * its own tf.variableGrads (engine/step.ts accumulateGrads) and add the gradients. One closure per part of the
 * objective (objectives/types.ts): tfjs holds a forward pass's activations and all their gradients until its backward
 * ends, so an estimator of several passes (d1's trajectory) is differentiated pass by pass, bounding memory by one pass
 * (64 completions × 5 states on the Sudoku model: 3.4 GB → 0.7 GB peak per micro-batch) at no extra compute.
 */
export function microLosses(params: Params, cfg: ModelConfig, mb: MicroBatch, k: number, o: RolloutOptions): MicroLoss[] {
  if (!(k >= 0 && k < mb.draws.length)) throw new Error(`microLosses: inner update ${k} has no draw (the rollout prepared ${mb.draws.length}: grpo.num_iterations)`);
  const objective = objectiveFor(o.grpo, o.sampler);
  const draw = mb.draws[k];
  const lossOf = (part?: number) => () => objective.loss(objective.score({ params, cfg }, mb, draw, part), mb.old[k], mb.ref[k], mb, draw, part);
  const parts = objective.parts(mb, draw);
  return parts === 1 ? [lossOf()] : Array.from({ length: parts }, (_, j) => lossOf(j));
}

export function disposeRollout(r: Rollout): void {
  disposeMicroBatches(r.micro);
}

export function disposeMicroBatches(micro: MicroBatch[]): void {
  const tensors = (r: Record<string, unknown> | null) => Object.values(r ?? {}).filter((v): v is tf.Tensor => v instanceof tf.Tensor);
  for (const mb of micro) {
    tf.dispose([mb.ids, mb.attentionMask, mb.promptMask, mb.completionMask, mb.advantages]);
    if (mb.commitStep) mb.commitStep.dispose();
    mb.samplerLogp?.dispose();
    tf.dispose([...mb.draws, ...mb.old, ...mb.ref].flatMap(tensors));
  }
}
