/**
 * One rollout batch of diffu-GRPO: P prompts × G completions, their rewards and advantages, and — for each of the μ
 * inner updates — a prompt-mask seed with the old-policy and reference log-probs cached under it.
 *
 * Log-probs are d1's one-step estimate: ONE forward pass over [prompt with each token masked iid with p_mask_prompt;
 * completion fully masked], log p of the sampled token at every completion position (no 1/t weight). The mask is a
 * function of (seed, micro-batch shape) only, so the current policy at inner update k sees exactly the mask that the
 * cached old/ref log-probs of update k saw (seeds are indexed by the inner-update number k and the micro-batch c,
 * never by a running micro-step counter: see d1-grpo.md "Quirks"). `logp_estimator: coupled` swaps in DiffuCoder's
 * complementary-mask pair (see coupledLogProbs), under the same seed discipline.
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../backend/rng.ts';
import { forward, type Params } from '../model/model.ts';
import type { ModelConfig } from '../model/config.ts';
import { coupledLogProbs, generate, oneStepLogProbs, scoredMask, trajectoryLogProbs, trajectoryPassMask, trajectoryPasses, type GenerateOptions, type LogitsFn } from '../sampling/index.ts';
import type { MicroLoss } from '../engine/step.ts';
import { computeAdvantages, processAdvantages, type ScaleRewards } from './advantages.ts';
import { completionMask, policyLoss, stopGradient, type LossType } from './policy_loss.ts';
import type { Credit } from './reward_source.ts';

export interface RewardSource {
  /** Failed calls per reward function so far (a failing reward scores 0 for its batch and is counted here). */
  errors?: Record<string, number>;
  /** Per completion: the weighted reward, and each function's raw value (null = not applicable). */
  score(prompts: string[], completions: string[], rows: Record<string, unknown>[]): Promise<{ total: number[]; perFn: Record<string, (number | null)[]>; credit?: Credit[][] }>;
}

export interface MicroBatch {
  /** Row range [start, end) of the rollout. */
  start: number;
  end: number;
  ids: tf.Tensor2D; // int32 [n, L]: left padding, prompt, completion
  attentionMask: tf.Tensor2D; // float32 [n, L]
  promptMask: tf.Tensor2D; // int32 [n, L]: 1 on real prompt tokens (the maskable ones)
  completionMask: tf.Tensor2D; // float32 [n, Lg]
  advantages: tf.Tensor1D | tf.Tensor2D; // float32 [n], or [n, Lg] per token with credit: process
  /** Sampler step (1-based) at which each completion token was committed, int32 [n, Lg]; trajectory estimator only. */
  commitStep: tf.Tensor2D | null;
  numSteps: number;
  /** Per inner update k: the mask seed and the cached log-probs [n, Lg]. */
  seeds: number[];
  /**
   * Per inner update k, with `trajectory_states` K < numSteps: the sampler states scored per row, int32 [n, K], and the
   * loss mask [n, Lg] (completion mask × the tokens committed at those states); null = all states, completionMask.
   */
  states: (tf.Tensor2D | null)[];
  lossMask: (tf.Tensor2D | null)[];
  oldLogp: tf.Tensor2D[];
  refLogp: (tf.Tensor2D | null)[];
}

export interface Rollout {
  prompts: string[]; // [P·G], repeated per completion
  completions: string[]; // [P·G], decoded up to the first EOS
  completionIds: number[][]; // [P·G][Lg]
  rewards: number[];
  perFn: Record<string, (number | null)[]>;
  advantages: number[];
  fracZeroStd: number;
  meanGroupStd: number;
  completionLengths: number[]; // tokens up to and including the first EOS
  nfe: number;
  micro: MicroBatch[];
  seconds: { generation: number; rewards: number; logprobs: number };
}

export interface RolloutOptions {
  G: number;
  mu: number;
  grad_accum: number;
  p_mask_prompt: number;
  logp_estimator?: LogpEstimator; // default one_step
  /** Trajectory estimator: score K random sampler states per completion (each token with prob K/S); null = all S. */
  trajectory_states?: number | null;
  /** outcome: one advantage per completion (d1). process: per-token reward-to-go advantages (advantages.ts). */
  credit?: 'outcome' | 'process';
  scale_rewards: ScaleRewards;
  beta: number;
  sampler: Omit<GenerateOptions, 'prompts' | 'num_generations' | 'maskId' | 'eosId' | 'padId' | 'rng'>;
}

export function modelLogitsFn(params: Params, cfg: ModelConfig): LogitsFn {
  return (ids, mask) => forward(params, cfg, ids, mask);
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
): Promise<Rollout> {
  const samples = await sampleCompletions(policy, promptTexts.map((p) => tok.encode(p)), rngs.sampling, o);
  const scored = await scoreSamples(samples, rows, promptTexts, tok, rewards, policy.cfg.eos_token_id, o);
  const t0 = performance.now();
  const micro = prepareMicroBatches(policy, ref, samples, scored.advantages, scored.tokenAdvantages, rngs.masking, o, o.grad_accum);
  return { ...scored, nfe: samples.nfe, micro, seconds: { generation: samples.seconds, rewards: scored.seconds, logprobs: (performance.now() - t0) / 1000 } };
}

/** Phase 1's output: plain arrays, so a worker can send them. */
export interface Samples {
  sequences: number[][]; // [N][Lg] completion tokens
  full: number[][]; // [N][L] left padding, prompt, completion
  promptLengths: number[]; // [N]
  /** Sampler step (1-based) that committed each completion token [N][Lg]; with the trajectory estimator or process credit. */
  steps: number[][] | null;
  nfe: number;
  seconds: number;
}

/** Phase 1: G completions for each prompt. */
export async function sampleCompletions(policy: { params: Params; cfg: ModelConfig }, promptIds: number[][], rng: Rng, o: RolloutOptions): Promise<Samples> {
  const cfg = policy.cfg;
  const t0 = performance.now();
  // The trajectory estimator and process credit need the step at which each position was (last) unmasked.
  const rec: { commit: Int32Array | null; L: number } = { commit: null, L: 0 };
  const onStep = o.logp_estimator === 'trajectory' || o.credit === 'process'
    ? (st: { step: number; ids: number[][] }) => {
        const Lf = (rec.L = st.ids[0].length);
        const c = (rec.commit ??= new Int32Array(st.ids.length * Lf));
        st.ids.forEach((row, n) => row.forEach((v, l) => {
          if (v === cfg.mask_token_id) c[n * Lf + l] = 0; // (re)masked
          else if (c[n * Lf + l] === 0) c[n * Lf + l] = st.step;
        }));
      }
    : undefined;
  const gen = await generate(modelLogitsFn(policy.params, cfg), {
    ...o.sampler,
    prompts: promptIds,
    num_generations: o.G,
    maskId: cfg.mask_token_id,
    eosId: cfg.eos_token_id,
    padId: cfg.pad_token_id,
    rng,
    onStep,
  });
  const N = gen.sequences.length;
  const steps = rec.commit ? commitSteps(rec.commit, rec.L, N, o.sampler.gen_length) : null;
  return { sequences: gen.sequences, full: gen.full, promptLengths: gen.promptLengths, steps, nfe: gen.nfe, seconds: (performance.now() - t0) / 1000 };
}

export type Scored = Pick<Rollout, 'prompts' | 'completions' | 'completionIds' | 'rewards' | 'perFn' | 'advantages' | 'fracZeroStd' | 'meanGroupStd' | 'completionLengths'> & {
  /** [N][Lg] per-token advantages with credit: process, else null. */
  tokenAdvantages: number[][] | null;
  seconds: number;
};

/** Phase 2: decode, score and compute the group advantages (over the whole batch). */
export async function scoreSamples(
  samples: Pick<Samples, 'sequences' | 'steps'>,
  rows: Record<string, unknown>[],
  promptTexts: string[],
  tok: { decode(ids: number[], o?: { skipSpecial?: boolean }): string },
  rewards: RewardSource,
  eosId: number,
  o: RolloutOptions,
): Promise<Scored> {
  const t0 = performance.now();
  const G = o.G;
  const N = samples.sequences.length;
  const completionLengths = completionMask(samples.sequences, eosId).map((m) => m.reduce((s, x) => s + x, 0));
  const completions = samples.sequences.map((seq, i) => tok.decode(seq.slice(0, completionLengths[i]), { skipSpecial: true }));
  const prompts = Array.from({ length: N }, (_, i) => promptTexts[Math.floor(i / G)]);
  const rowsPerCompletion = Array.from({ length: N }, (_, i) => rows[Math.floor(i / G)]);
  const scored = await rewards.score(prompts, completions, rowsPerCompletion);
  const adv = computeAdvantages(scored.total, G, o.scale_rewards);
  let tokenAdvantages: number[][] | null = null; // [N][Lg] with credit: process
  if (o.credit === 'process') {
    const credit = samples.sequences.map((seq, i) => tokenCredit(seq.slice(0, completionLengths[i]), o.sampler.gen_length, scored.credit?.[i] ?? [], tok));
    tokenAdvantages = processAdvantages(scored.total, credit, samples.steps!, G, o.scale_rewards);
  }
  return {
    prompts, completions, completionIds: samples.sequences, rewards: scored.total, perFn: scored.perFn,
    advantages: adv.advantages, fracZeroStd: adv.fracZeroStd, meanGroupStd: adv.meanGroupStd, completionLengths,
    tokenAdvantages, seconds: (performance.now() - t0) / 1000,
  };
}

/**
 * Phase 3: `numMicro` micro-batches of whole groups, each with, per inner update k, a mask seed (and the scored
 * states) drawn from `rng` and the old/ref log-probs cached under them. Tensors are kept: dispose with disposeMicroBatches.
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
  const G = o.G;
  const N = samples.sequences.length;
  const Lg = o.sampler.gen_length;
  const steps = samples.steps;
  const numSteps = steps ? Math.max(...steps.flat()) : 0;
  const cmask = completionMask(samples.sequences, cfg.eos_token_id);
  const P = N / G;
  if (P % numMicro !== 0) throw new Error(`grpo: prompts_per_step (${P}) must be divisible by training.grad_accum (${numMicro})`);
  const rowsPerMicro = (P / numMicro) * G;
  const L = samples.full[0].length;
  const micro: MicroBatch[] = [];
  for (let start = 0; start < N; start += rowsPerMicro) {
    const end = start + rowsPerMicro;
    const n = end - start;
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
      seeds: [], oldLogp: [], refLogp: [], states: [], lossMask: [],
    };
    const K = o.logp_estimator === 'trajectory' ? (o.trajectory_states ?? numSteps) : numSteps;
    for (let k = 0; k < o.mu; k++) {
      const seed = (rng.nextU32() % 2147483646) + 1; // non-zero: tfjs treats seed 0 as "unseeded"
      mb.seeds.push(seed);
      // Scored states are drawn once per inner update, like the prompt mask: old, ref and current policy share them.
      const states = K < numSteps ? tf.tensor2d(Array.from({ length: n }, () => drawStates(numSteps, K, rng)).flat(), [n, K], 'int32') : null;
      mb.states.push(states);
      mb.lossMask.push(states ? tf.tidy(() => tf.mul(mb.completionMask, scoredMask(mb.commitStep!, states)) as tf.Tensor2D) : null);
      // With μ = 1 the old policy IS the current one: d1/TRL then use logp.detach() (ratio 1), so skip the pass.
      mb.oldLogp.push(o.mu > 1 ? logProbs(policy.params, cfg, mb, k, o.p_mask_prompt, Lg, o.logp_estimator) : (null as unknown as tf.Tensor2D));
      mb.refLogp.push(ref && o.beta > 0 ? logProbs(ref.params, cfg, mb, k, o.p_mask_prompt, Lg, o.logp_estimator) : null);
    }
    micro.push(mb);
  }
  return micro;
}

/** K distinct sampler steps out of 1..S, uniformly (a partial Fisher–Yates shuffle). */
export function drawStates(S: number, K: number, rng: Rng): number[] {
  const all = Array.from({ length: S }, (_, i) => i + 1);
  for (let i = 0; i < K; i++) {
    const j = i + (rng.nextU32() % (S - i));
    [all[i], all[j]] = [all[j], all[i]];
  }
  return all.slice(0, K);
}

/** Commit steps [N][Lg] of the completion positions from the flat [N, Lfull] record (≥ 1; prompt tokens are at 0). */
function commitSteps(commit: Int32Array, Lfull: number, N: number, Lg: number): number[][] {
  return Array.from({ length: N }, (_, j) => Array.from({ length: Lg }, (_, k) => Math.max(1, commit[j * Lfull + Lfull - Lg + k])));
}

/**
 * Reward credit per completion token [Lg]: each { at, value } (a character offset of the decoded completion) goes to
 * the token whose decoded text contains that character. `ids` are the completion's tokens up to its first EOS.
 */
export function tokenCredit(ids: number[], Lg: number, credit: Credit[], tok: { decode(ids: number[], o?: { skipSpecial?: boolean }): string }): number[] {
  const out = new Array<number>(Lg).fill(0);
  if (credit.length === 0) return out;
  // ends[k] = length of the text of tokens 0..k (prefix decoding, so multi-byte characters land on the right token),
  // decoded only as far as the last credited character.
  const lastAt = Math.max(...credit.map((c) => c.at));
  const ends: number[] = [];
  for (let k = 0; k < ids.length && (ends.length === 0 || ends[ends.length - 1] <= lastAt); k++) {
    ends.push(tok.decode(ids.slice(0, k + 1), { skipSpecial: true }).length);
  }
  for (const { at, value } of credit) {
    const k = ends.findIndex((e) => e > at);
    if (k >= 0) out[k] += value;
  }
  return out;
}

/**
 * `one_step`: d1's estimate (completion fully masked, one pass). `coupled`: DiffuCoder's complementary pair of partial
 * completion masks (one pass over 2n rows; see coupledLogProbs). `trajectory`: each token scored in the state the
 * sampler drew it from (one pass over steps·n rows, or K·n rows with `trajectory_states` K; see trajectoryLogProbs).
 */
export type LogpEstimator = 'one_step' | 'coupled' | 'trajectory';

/**
 * Per-token log-probs [n, Lg] of micro-batch `mb` under `params`, with the mask of inner update k. `pass` (trajectory
 * only): that forward pass alone, 0 outside its tokens (trajectoryLogProbs).
 */
export function logProbs(params: Params, cfg: ModelConfig, mb: MicroBatch, k: number, pMaskPrompt: number, Lg: number, estimator: LogpEstimator = 'one_step', pass?: number): tf.Tensor2D {
  const opts = { maskId: cfg.mask_token_id, pMaskPrompt, maskSeed: mb.seeds[k], attentionMask: mb.attentionMask, genLength: Lg };
  const fn = modelLogitsFn(params, cfg);
  if (estimator === 'trajectory') {
    if (!mb.commitStep) throw new Error('logProbs: the trajectory estimator needs the rollout\'s commit steps');
    return trajectoryLogProbs(fn, mb.ids, mb.promptMask, mb.commitStep, mb.numSteps, { ...opts, states: mb.states[k] ?? null, pass });
  }
  return estimator === 'coupled' ? coupledLogProbs(fn, mb.ids, mb.promptMask, opts) : oneStepLogProbs(fn, mb.ids, mb.promptMask, opts);
}

/** What the loss of one micro-batch needs (grpo.* and sampler.gen_length). */
export interface LossOptions {
  p_mask_prompt: number;
  gen_length: number;
  logp_estimator: LogpEstimator;
  epsilon: number;
  epsilon_high: number | null;
  beta: number;
  loss_type: LossType;
}

/**
 * The diffu-GRPO loss of micro-batch `mb` at inner update k, as closures whose losses (and reports) SUM to it: call
 * each inside its own tf.variableGrads (train/step.ts accumulateGrads) and add the gradients. One closure, except for
 * the trajectory estimator: every token is scored in exactly one sampler state, so its loss splits into one part per
 * forward pass with the same total gradient. tfjs holds a pass's activations and all their gradients until the
 * backward ends, so differentiating pass by pass bounds memory by one pass instead of S (64 completions × 5 states on
 * the Sudoku model: 3.4 GB → 0.7 GB peak per micro-batch), at no extra compute.
 */
export function microLosses(params: Params, cfg: ModelConfig, mb: MicroBatch, k: number, o: LossOptions): MicroLoss[] {
  const lossOf = (pass?: number) => (): { loss: tf.Scalar; report: Record<string, tf.Scalar> } => {
    const logp = logProbs(params, cfg, mb, k, o.p_mask_prompt, o.gen_length, o.logp_estimator, pass); // [n, Lg], 0 outside the pass's tokens
    const out = policyLoss(
      {
        logp, oldLogp: mb.oldLogp[k] ?? stopGradient(logp), refLogp: mb.refLogp[k], advantages: mb.advantages,
        completionMask: mb.lossMask[k] ?? mb.completionMask, part: pass === undefined ? null : trajectoryPassMask(mb.commitStep!, pass, mb.states[k]),
      },
      { epsilon: o.epsilon, epsilon_high: o.epsilon_high, beta: o.beta, loss_type: o.loss_type, max_completion_length: o.gen_length },
    );
    return { loss: out.loss, report: { kl: out.kl, clip_low: out.clipLow, clip_high: out.clipHigh } };
  };
  if (o.logp_estimator !== 'trajectory') return [lossOf()];
  if (!mb.commitStep) throw new Error('microLosses: the trajectory estimator needs the rollout\'s commit steps');
  return Array.from({ length: trajectoryPasses(mb.numSteps, mb.states[k]) }, (_, j) => lossOf(j));
}

export function disposeRollout(r: Rollout): void {
  disposeMicroBatches(r.micro);
}

export function disposeMicroBatches(micro: MicroBatch[]): void {
  for (const mb of micro) {
    tf.dispose([mb.ids, mb.attentionMask, mb.promptMask, mb.completionMask, mb.advantages]);
    if (mb.commitStep) mb.commitStep.dispose();
    tf.dispose([...mb.states, ...mb.lossMask].filter((t): t is tf.Tensor2D => t !== null));
    tf.dispose(mb.oldLogp.filter((t) => t));
    tf.dispose(mb.refLogp.filter((t): t is tf.Tensor2D => t !== null));
  }
}
