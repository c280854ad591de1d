/**
 * Inpainting-guided policy optimization (IGPO, Zhao et al., arXiv 2509.10396; facebookresearch/igpo
 * `trainer_igpo.py`, `utils/generate.py`), `grpo.inpaint`. A group in which every completion fails has zero reward
 * spread, so zero advantage: no learning signal. A masked-diffusion sampler can start from a canvas with some tokens
 * already in place, so some of the group's completions are re-sampled with part of the known solution fixed in the
 * canvas; if a hint lets them succeed, the group gets spread, and the tokens the policy generated around the hint get
 * a positive advantage.
 *
 *   fail       a completion fails when its reward (the weighted total, as the advantages use it) is <= fail_reward;
 *              a group is inpainted when all G completions fail (`when: all_fail`) and its row has a reference.
 *   reference  the answer text the SFT template writes for the row (tokenizer/templates.ts formatExample: Sudoku's
 *              solution, Countdown's <answer>expression</answer>, GSM8K/arithmetic's reasoning + answer, plain's
 *              `answer`), encoded and laid out from the first completion position, as SFT trains it; cut to Lg.
 *   hint       per re-sampled member, f ~ U[fraction]; the reference is cut into consecutive spans of
 *              U{chunk_tokens} tokens, spans are revealed in random order until round(f·R) of its R tokens are
 *              fixed (the last span revealed is cut short to hit the count exactly).
 *   members    the group's first k completions are replaced by the re-sampled ones, whatever their reward; the group
 *              is then re-scored and its advantages recomputed with the rest of the batch (dynamic_sampling.ts).
 *   loss       the fixed tokens are not the policy's choices: they are left out of the completion mask (rollout.ts
 *              phase 3), so only generated tokens enter the loss and its normaliser.
 *
 * Differences from IGPO's code, on purpose: IGPO's ratio counts revealed spans (int(n_spans·(1 − ratio)) masked),
 * ours counts tokens, so `fraction` is exactly the share of fixed reference tokens. IGPO samples G hinted completions and keeps at most `max_replacements`
 * (1) of the CORRECT ones; here k are re-sampled and kept (the group's spread decides). IGPO stretches the revealed
 * spans over a longer window (scaling ≤ 1.5, last 30 tokens left free) for long reasoning traces; here they stay at
 * their SFT positions (short answers, gen_length close to the answer). IGPO trains on the hint tokens with an entropy
 * filter and keeps them unmasked when scoring; here they are out of the loss, and the objective's estimator masks
 * them like any completion token (d1's one-step estimate conditions on the prompt only).
 */
import { ConfigError, DataError } from '../errors.ts';
import type { Rng } from '../rng.ts';
import type { GrpoSection } from '../config/schema.ts';
import { formatExample, type TaskName } from '../tokenizer/templates.ts';
import type { Fill, Group, Member } from './completions.ts';

export type InpaintSection = NonNullable<GrpoSection['inpaint']>;

/** The reference answer text of `row` (what SFT trains the model to write), or null when the row has none. */
export function referenceAnswer(task: TaskName, row: Record<string, unknown>): string | null {
  try {
    const answer = formatExample(task, row).answer;
    return answer.length > 0 ? answer : null;
  } catch (e) {
    if (e instanceof DataError) return null;
    throw e;
  }
}

/** grpo.inpaint needs rows with a reference solution: a one-line ConfigError naming the task otherwise. */
export function checkInpaintRows(task: TaskName, rows: { row: Record<string, unknown> }[]): void {
  const missing = rows.findIndex((r) => referenceAnswer(task, r.row) === null);
  if (missing >= 0) {
    const columns = Object.keys(rows[missing].row).join(', ');
    throw new ConfigError(`grpo.inpaint needs a reference solution in every prompt row, but data.task ${task} row ${missing} has none (columns: ${columns}); remove grpo.inpaint or use rows with a solution`);
  }
}

/** A completion fails when its reward is at most fail_reward; `all_fail` = every completion of the group fails. */
export function allFail(rewards: number[], failReward: number): boolean {
  return rewards.every((r) => r <= failReward);
}

/**
 * Positions (sorted, in [0, R)) of the reference tokens to fix: round(fraction·R) tokens in whole spans of
 * [chunk[0], chunk[1]] tokens revealed in random order, the last one cut short.
 */
export function hintPositions(R: number, fraction: number, chunk: readonly [number, number], rng: Rng): number[] {
  const spans: [number, number][] = [];
  for (let at = 0; at < R; ) {
    const size = chunk[0] + rng.int(chunk[1] - chunk[0] + 1);
    spans.push([at, Math.min(R, at + size)]);
    at += size;
  }
  const want = Math.round(fraction * R);
  const out: number[] = [];
  for (const j of rng.permutation(spans.length)) {
    for (let p = spans[j][0]; p < spans[j][1] && out.length < want; p++) out.push(p);
    if (out.length === want) break;
  }
  return out.sort((a, b) => a - b);
}

/** One member's canvas [Lg]: reference tokens at the hint positions, null (sampled) elsewhere. */
export function hintRow(reference: number[], Lg: number, fraction: number, chunk: readonly [number, number], rng: Rng): (number | null)[] {
  const ref = reference.slice(0, Lg);
  const row = new Array<number | null>(Lg).fill(null);
  for (const p of hintPositions(ref.length, fraction, chunk, rng)) row[p] = ref[p];
  return row;
}

/** Samples and scores G completions per (row, prompt), or `fill.num_generations` with `fill.fixed` (dynamic_sampling.ts). */
export type RollFn = (rows: Record<string, unknown>[], prompts: string[], fill?: Fill) => Promise<Member[][]>;

export interface InpaintStats {
  groups: number;
  members: number;
  /** Reward of each re-sampled member minus that of the completion it replaced. */
  gains: number[];
}

/**
 * Inpaints the all-fail groups of `groups` in place: their first k members are replaced by completions re-sampled
 * (one call for all of them) with a hint each. `reference(row)` gives the row's reference token ids (null: skipped).
 * Hint fractions and spans come from `rng` (the sampling RNG: a resumed run draws the same hints).
 */
export async function inpaintGroups(
  groups: Group[],
  roll: RollFn,
  reference: (row: Record<string, unknown>) => number[] | null,
  cfg: InpaintSection,
  Lg: number,
  rng: Rng,
): Promise<InpaintStats> {
  const targets = groups.filter((g) => allFail(g.members.map((m) => m.reward), cfg.fail_reward)).map((g) => ({ g, ref: reference(g.row) })).filter((t) => t.ref !== null);
  if (targets.length === 0) return { groups: 0, members: 0, gains: [] };
  const k = cfg.members;
  const [lo, hi] = cfg.fraction;
  const fixed = targets.flatMap((t) => Array.from({ length: k }, () => hintRow(t.ref!, Lg, lo + (hi - lo) * rng.random(), cfg.chunk_tokens, rng))); // [T·k][Lg]
  const resampled = await roll(targets.map((t) => t.g.row), targets.map((t) => t.g.prompt), { num_generations: k, fixed });
  const gains: number[] = [];
  targets.forEach((t, i) => {
    for (let j = 0; j < k; j++) {
      gains.push(resampled[i][j].reward - t.g.members[j].reward);
      t.g.members[j] = resampled[i][j];
    }
  });
  return { groups: targets.length, members: targets.length * k, gains };
}
