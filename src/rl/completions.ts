/**
 * Phases 1 and 2 of a GRPO rollout, the parts every way of collecting one shares (rollout.ts in one process,
 * workers.ts across threads, dynamic_sampling.ts / inpaint.ts when groups are re-sampled): sample G completions per
 * prompt, decode and reward them, and compute the group advantages. Plain arrays in and out, so a worker can send them.
 */
import type { Rng } from '../rng.ts';
import type { GrpoSection } from '../config/schema.ts';
import type { Params } from '../model/model.ts';
import { modelDenoiser } from '../model/block_cache.ts';
import type { ModelConfig } from '../model/config.ts';
import { generate, type GenerateOptions, type LogitsFn } from '../sampling/index.ts';
import type { Credit, RewardSource } from '../rewards/types.ts';
import { computeAdvantages, groupTokenAdvantages, positionAdvantages, processAdvantages } from './advantages.ts';
import { completionMask } from './objectives/d1_loss.ts';

/** Everything a rollout and its loss read: the config's grpo section as parsed, the sampler, the micro-batch count. */
export interface RolloutOptions {
  grpo: GrpoSection;
  sampler: Omit<GenerateOptions, 'prompts' | 'num_generations' | 'maskId' | 'eosId' | 'padId' | 'rng'>;
  /** Micro-batches per rollout batch (training.grad_accum). */
  grad_accum: number;
}

/** The policy's denoiser, with the windowed pass that `sampler.cache` needs (model/block_cache.ts). */
export function modelLogitsFn(params: Params, cfg: ModelConfig): LogitsFn {
  return modelDenoiser(params, cfg);
}

/** Re-sampling with some tokens fixed (inpainting): num_generations per prompt, and fixed [N][Lg] per row. */
export interface Fill {
  num_generations: number;
  fixed: (number | null)[][];
}

/** Phase 1's output: plain arrays, so a worker can send them. */
export interface Samples {
  sequences: number[][]; // [N][Lg] completion tokens
  full: number[][]; // [N][L] left padding, prompt, completion
  promptLengths: number[]; // [N]
  /** Sampler step (1-based) that committed each completion token [N][Lg]; with the trajectory estimator or process credit. */
  steps: number[][] | null;
  /** [N][Lg] 1 on completion tokens fixed before sampling (grpo.inpaint): they are left out of the loss. */
  inpainted?: number[][] | null;
  /** [N][Lg] the sampler's log-prob of each token it drew (generate's record_logps), with grpo.importance_sampling_cap. */
  logps?: number[][] | null;
  nfe: number;
  /** Row-positions the model computed (generate's `positions`). */
  positions: number;
  seconds: number;
}

/** Phase 1: G completions for each prompt (or `fill.num_generations`, with `fill.fixed` tokens held in place). */
export async function sampleCompletions(policy: { params: Params; cfg: ModelConfig }, promptIds: number[][], rng: Rng, o: RolloutOptions, fill?: Fill): Promise<Samples> {
  const cfg = policy.cfg;
  const t0 = performance.now();
  // The trajectory estimator and process credit need the step at which each position was (last) unmasked.
  const rec: { commit: Int32Array | null; L: number } = { commit: null, L: 0 };
  const onStep = o.grpo.logp_estimator === 'trajectory' || o.grpo.credit === 'process'
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
    num_generations: fill?.num_generations ?? o.grpo.num_generations,
    ...(fill ? { fixed: fill.fixed } : {}),
    maskId: cfg.mask_token_id,
    eosId: cfg.eos_token_id,
    padId: cfg.pad_token_id,
    rng,
    onStep,
    record_logps: o.grpo.importance_sampling_cap !== null,
  });
  const N = gen.sequences.length;
  const steps = rec.commit ? commitSteps(rec.commit, rec.L, N, o.sampler.gen_length) : null;
  const inpainted = fill ? fill.fixed.map((row) => row.map((t) => (t === null ? 0 : 1))) : null;
  return {
    sequences: gen.sequences, full: gen.full, promptLengths: gen.promptLengths, steps, inpainted, logps: gen.logps ?? null,
    nfe: gen.nfe, positions: gen.positions ?? 0, seconds: (performance.now() - t0) / 1000,
  };
}

/** Per completion: its prompt, decoded text, rewards and (credit: process) the reward credit of each token [Lg]. */
export interface Rewarded {
  prompts: string[]; // [P·G], repeated per completion
  completions: string[]; // [P·G], decoded up to the first EOS
  completionIds: number[][]; // [P·G][Lg]
  rewards: number[];
  perFn: Record<string, (number | null)[]>;
  completionLengths: number[]; // tokens up to and including the first EOS
  tokenCredit: number[][] | null;
  /** [N][Lg] 1 on tokens the reward judged (a credit entry landed there, even of value 0); with tokenCredit. */
  tokenJudged: number[][] | null;
}

/** Rewarded completions with their group advantages. */
export type Scored = Omit<Rewarded, 'tokenCredit' | 'tokenJudged'> & {
  advantages: number[];
  fracZeroStd: number;
  meanGroupStd: number;
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
  const G = o.grpo.num_generations;
  const perCompletion = <T>(xs: T[]) => samples.sequences.map((_, i) => xs[Math.floor(i / G)]);
  const r = await rewardCompletions(samples.sequences, perCompletion(promptTexts), perCompletion(rows), tok, rewards, eosId, o);
  return { ...r, ...groupAdvantages(r.rewards, r.tokenCredit, samples.steps, o, r.tokenJudged), seconds: (performance.now() - t0) / 1000 };
}

/** Decodes completions [N][Lg] up to their first EOS and scores them; prompts and rows are per completion [N]. */
export async function rewardCompletions(
  sequences: number[][],
  prompts: string[],
  rows: Record<string, unknown>[],
  tok: { decode(ids: number[], o?: { skipSpecial?: boolean }): string },
  rewards: RewardSource,
  eosId: number,
  o: RolloutOptions,
): Promise<Rewarded> {
  const completionLengths = completionMask(sequences, eosId).map((m) => m.reduce((s, x) => s + x, 0));
  const completions = sequences.map((seq, i) => tok.decode(seq.slice(0, completionLengths[i]), { skipSpecial: true }));
  const scored = await rewards.score(prompts, completions, rows);
  const both = o.grpo.credit !== 'outcome'
    ? sequences.map((seq, i) => creditAndJudged(seq.slice(0, completionLengths[i]), o.sampler.gen_length, scored.credit?.[i] ?? [], tok))
    : null;
  return {
    prompts, completions, completionIds: sequences, rewards: scored.total, perFn: scored.perFn, completionLengths,
    tokenCredit: both?.map((b) => b.credit) ?? null, tokenJudged: both?.map((b) => b.judged) ?? null,
  };
}

/**
 * Group advantages of rewards [N] (groups of G in order) and, with per-token credit [N][Lg], process or token
 * advantages (credit: token takes the position baseline, or with credit_baseline: group the judged tokens [N][Lg]).
 */
export function groupAdvantages(
  rewards: number[], credit: number[][] | null, steps: number[][] | null, o: RolloutOptions, judged: number[][] | null,
): Pick<Scored, 'advantages' | 'fracZeroStd' | 'meanGroupStd' | 'tokenAdvantages'> {
  const { num_generations: G, scale_rewards } = o.grpo;
  const adv = computeAdvantages(rewards, G, scale_rewards);
  const token = () => {
    if (o.grpo.credit_baseline === 'position') return positionAdvantages(rewards, credit!, G, scale_rewards);
    if (!judged) throw new Error('groupAdvantages: grpo.credit_baseline: group needs the judged tokens of every completion');
    return groupTokenAdvantages(rewards, credit!, judged, G, scale_rewards);
  };
  const tokenAdvantages = !credit ? null // [N][Lg]
    : o.grpo.credit === 'token' ? token() : processAdvantages(rewards, credit, steps!, G, scale_rewards);
  // grpo.drop_negative_advantages: learn only from what beat its group's mean (RAFT-like); Math.max also turns −0 into 0
  const floor = (a: number) => (o.grpo.drop_negative_advantages ? Math.max(a, 0) : a);
  return {
    advantages: adv.advantages.map(floor), fracZeroStd: adv.fracZeroStd, meanGroupStd: adv.meanGroupStd,
    tokenAdvantages: tokenAdvantages?.map((row) => row.map(floor)) ?? null,
  };
}

/** Commit steps [N][Lg] of the completion positions from the flat [N, Lfull] record (≥ 1; prompt tokens are at 0). */
function commitSteps(commit: Int32Array, Lfull: number, N: number, Lg: number): number[][] {
  return Array.from({ length: N }, (_, j) => Array.from({ length: Lg }, (_, k) => Math.max(1, commit[j * Lfull + Lfull - Lg + k])));
}

/**
 * Reward credit per completion token [Lg]: each { at, value } (a character offset of the decoded completion) goes to
 * the token whose decoded text contains that character, and an entry at the text's end (at = its length) to the
 * completion's last token (its EOS: what ended it); judged [Lg] counts the entries that land on each token, even of
 * value 0 (1 on a Sudoku digit; on the EOS of a grid stopped short, one per cell it left out). `ids` are the
 * completion's tokens up to and including its first EOS.
 */
export function creditAndJudged(ids: number[], Lg: number, credit: Credit[], tok: { decode(ids: number[], o?: { skipSpecial?: boolean }): string }): { credit: number[]; judged: number[] } {
  const out = new Array<number>(Lg).fill(0);
  const judged = new Array<number>(Lg).fill(0);
  if (credit.length === 0) return { credit: out, judged };
  // ends[k] = length of the text of tokens 0..k (prefix decoding, so multi-byte characters land on the right token),
  // decoded only as far as the last credited character.
  const lastAt = Math.max(...credit.map((c) => c.at));
  const ends: number[] = [];
  for (let k = 0; k < ids.length && (ends.length === 0 || ends[ends.length - 1] <= lastAt); k++) {
    ends.push(tok.decode(ids.slice(0, k + 1), { skipSpecial: true }).length);
  }
  // An entry at the end keeps the loop above going to the last token, so ends then spans all of ids.
  const textLength = ends.length > 0 ? ends[ends.length - 1] : 0;
  for (const { at, value } of credit) {
    const k = at >= textLength ? ids.length - 1 : ends.findIndex((e) => e > at);
    if (k < 0) continue;
    out[k] += value;
    judged[k] += 1;
  }
  return { credit: out, judged };
}

/** One scored completion, with what phase 3 needs to rebuild its row. */
export interface Member {
  promptIds: number[];
  seq: number[]; // [Lg]
  steps: number[] | null; // [Lg] commit steps (trajectory estimator, process credit)
  inpainted: number[] | null; // [Lg] 1 on hint tokens
  logps: number[] | null; // [Lg] the sampler's log-probs (grpo.importance_sampling_cap)
  prompt: string;
  completion: string;
  reward: number;
  perFn: Record<string, number | null>;
  length: number;
  credit: number[] | null; // [Lg] with credit: process / token
  judged: number[] | null; // [Lg] tokens the reward judged, with credit
}

/** A prompt's G scored completions (dynamic_sampling.ts, inpaint.ts re-sample and re-score whole groups). */
export interface Group {
  row: Record<string, unknown>;
  prompt: string;
  members: Member[]; // [G]
}
