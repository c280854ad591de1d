/**
 * Phases 1–2 of a rollout (rollout.ts) with the options that change WHICH completions are trained:
 * `grpo.inpaint` (IGPO, inpaint.ts) and `grpo.zero_std_groups` (TRL's `frac_reward_zero_std`; DAPO's dynamic
 * sampling, arXiv 2503.14476 §3.2). A group whose G rewards are all equal ("flat": zero spread) has advantage 0 for
 * every completion, so it teaches nothing; with β > 0 it still pulls toward the reference and counts in the loss
 * normaliser.
 *
 *   round 0    G completions for each of the P prompts, scored              frac_reward_zero_std is measured here
 *              inpaint: the all-fail groups' first k members re-sampled with a hint and re-scored
 *   refill     while flat groups remain, at most zero_std_refill_rounds times: as many fresh prompts as there are
 *              flat groups, from the data cursor (source.next), sampled, scored, inpainted; each fresh group with
 *              spread replaces the next flat group of the batch, in order. Flat groups left after the cap are kept.
 *   advantages over the final P groups (scale_rewards: batch sees the batch that is trained; dropped groups are flat,
 *              so their advantages are 0 under every scaling)
 *   drop       flat groups are left out of the trained set: phase 3 builds micro-batches from the kept groups
 *              only, so their rows get no gradient (no policy term, no KL) and every loss aggregation normalises over
 *              the kept groups alone: bnpo Σ l·m / Σ m over kept tokens, grpo the mean over kept completions,
 *              dr_grpo Σ l·m / (kept completions · Lg); the trainer divides by the micro-batches that hold a kept
 *              group (Rollout.numMicro) instead of grad_accum, and skips the update when none does.
 *
 * The cursor and the sampling RNG are the trainer's, consumed in a fixed order, so a resumed run refills and
 * inpaints exactly as the uninterrupted one. With both options off this is one sampling and one scoring call.
 */
import type { Rng } from '../rng.ts';
import type { ModelConfig } from '../model/config.ts';
import { inpaintGroups, type InpaintStats, type RollFn } from './inpaint.ts';
import type { RewardSource } from '../rewards/types.ts';
import { groupAdvantages, rewardCompletions, type Fill, type Group, type Member, type RolloutOptions, type Samples, type Scored } from './completions.ts';

/** Where refill finds fresh prompts and inpaint finds the reference answers (the trainer's data cursor and task). */
export interface BatchSource {
  /** n fresh prompt rows, from the same cursor as the batch's own (so a resume continues it exactly). */
  next(n: number): { row: Record<string, unknown>; prompt: string }[];
  /** The row's reference answer text (inpaint.ts referenceAnswer), null when it has none. */
  reference(row: Record<string, unknown>): string | null;
}

/** Phase 1 for any prompts: in this thread (rollout.ts) or on the workers (workers.ts); `fill` for inpainting. */
export type SampleFn = (promptIds: number[][], fill?: Fill) => Promise<Samples>;

/** What phase 3 prepares: the kept groups as Samples, with their rows' advantages. */
export interface Trained {
  groups: Group[];
  samples: Samples;
  advantages: number[]; // [n]
  tokenAdvantages: number[][] | null; // [n][Lg]
}

export interface DynamicRollout {
  /** All P groups of the batch (after inpainting and refill), for the metrics and the rollout log. */
  scored: Scored;
  trained: Trained;
  /** groups/* (zero_std_groups drop | refill) and inpaint/* (inpaint) metrics. */
  metrics: Record<string, number>;
  nfe: number;
  /** Row-positions the model computed over every sampling call (generate's `positions`). */
  positions: number;
  seconds: { generation: number; rewards: number };
}

/** Whether the group's rewards are all equal (computeAdvantages' zero-std test). */
export function isFlat(g: Group): boolean {
  return g.members.every((m) => m.reward === g.members[0].reward);
}

export async function sampleAndScore(
  sample: SampleFn,
  rows: Record<string, unknown>[],
  promptTexts: string[],
  tok: { encode(s: string): number[]; decode(ids: number[], o?: { skipSpecial?: boolean }): string },
  rewards: RewardSource,
  cfg: Pick<ModelConfig, 'eos_token_id' | 'pad_token_id'>,
  rng: Rng,
  o: RolloutOptions,
  source: BatchSource | null,
): Promise<DynamicRollout> {
  const g = o.grpo;
  const Lg = o.sampler.gen_length;
  const stats = { nfe: 0, positions: 0, generation: 0, rewards: 0 };
  const roll: RollFn = async (rs, ps, fill) => {
    const G = fill?.num_generations ?? g.num_generations;
    const ids = ps.map((p) => tok.encode(p));
    const s = await sample(ids, fill);
    stats.nfe += s.nfe;
    stats.positions += s.positions;
    stats.generation += s.seconds;
    const t0 = performance.now();
    const per = <T>(xs: T[]) => s.sequences.map((_, i) => xs[Math.floor(i / G)]);
    const r = await rewardCompletions(s.sequences, per(ps), per(rs), tok, rewards, cfg.eos_token_id, o);
    stats.rewards += (performance.now() - t0) / 1000;
    const members = s.sequences.map((seq, i): Member => ({
      promptIds: ids[Math.floor(i / G)], seq, steps: s.steps?.[i] ?? null, inpainted: s.inpainted?.[i] ?? null, logps: s.logps?.[i] ?? null,
      prompt: r.prompts[i], completion: r.completions[i], reward: r.rewards[i], length: r.completionLengths[i], credit: r.tokenCredit?.[i] ?? null, judged: r.tokenJudged?.[i] ?? null,
      perFn: Object.fromEntries(Object.entries(r.perFn).map(([name, v]) => [name, v[i]])),
    }));
    return ps.map((_, p) => members.slice(p * G, (p + 1) * G));
  };
  const ip: InpaintStats = { groups: 0, members: 0, gains: [] };
  const inpaint = async (groups: Group[]) => {
    if (!g.inpaint) return;
    if (!source) throw new Error('grpo.inpaint: the rollout needs a BatchSource for the reference answers');
    const reference = (row: Record<string, unknown>) => {
      const text = source.reference(row);
      return text === null ? null : tok.encode(text);
    };
    const s = await inpaintGroups(groups, roll, reference, g.inpaint, Lg, rng);
    ip.groups += s.groups;
    ip.members += s.members;
    ip.gains.push(...s.gains);
  };

  // ---- round 0 ----
  const groups: Group[] = (await roll(rows, promptTexts)).map((members, i) => ({ row: rows[i], prompt: promptTexts[i], members }));
  const fracZeroStd = groups.filter(isFlat).length / groups.length; // as sampled, before any option acts
  await inpaint(groups);

  // ---- refill ----
  let refilled = 0;
  let freshSampled = 0;
  if (g.zero_std_groups === 'refill') {
    if (!source) throw new Error('grpo.zero_std_groups: refill needs a BatchSource (the data cursor)');
    for (let round = 0; round < g.zero_std_refill_rounds; round++) {
      const slots = groups.flatMap((gr, i) => (isFlat(gr) ? [i] : []));
      if (slots.length === 0) break;
      const fresh = source.next(slots.length);
      freshSampled += fresh.length;
      const freshGroups = (await roll(fresh.map((f) => f.row), fresh.map((f) => f.prompt))).map((members, i) => ({ row: fresh[i].row, prompt: fresh[i].prompt, members }));
      await inpaint(freshGroups);
      let next = 0;
      for (const fg of freshGroups) if (!isFlat(fg)) groups[slots[next++]] = fg;
      refilled += next;
    }
  }

  // ---- advantages over the final batch; drop ----
  const members = groups.flatMap((gr) => gr.members); // [P·G]
  const credit = g.credit !== 'outcome' ? members.map((m) => m.credit!) : null;
  const all = toSamples(groups, cfg.pad_token_id, Lg);
  const judged = g.credit !== 'outcome' ? members.map((m) => m.judged!) : null;
  const adv = groupAdvantages(members.map((m) => m.reward), credit, all.steps, o, judged);
  const perFn: Record<string, (number | null)[]> = {};
  for (const name of new Set(members.flatMap((m) => Object.keys(m.perFn)))) perFn[name] = members.map((m) => m.perFn[name] ?? null);
  const scored: Scored = {
    prompts: members.map((m) => m.prompt), completions: members.map((m) => m.completion), completionIds: all.sequences,
    rewards: members.map((m) => m.reward), perFn, advantages: adv.advantages, tokenAdvantages: adv.tokenAdvantages,
    fracZeroStd, meanGroupStd: adv.meanGroupStd, completionLengths: members.map((m) => m.length), seconds: stats.rewards,
  };
  const G = g.num_generations;
  const kept = groups.map((gr, i) => ({ gr, i })).filter(({ gr }) => g.zero_std_groups !== 'drop' || !isFlat(gr));
  const rowsOf = <T>(xs: T[]) => kept.flatMap(({ i }) => xs.slice(i * G, (i + 1) * G));
  const trained: Trained = {
    groups: kept.map(({ gr }) => gr),
    samples: kept.length === groups.length ? all : toSamples(kept.map(({ gr }) => gr), cfg.pad_token_id, Lg),
    advantages: rowsOf(adv.advantages),
    tokenAdvantages: adv.tokenAdvantages ? rowsOf(adv.tokenAdvantages) : null,
  };

  const metrics: Record<string, number> = {};
  if (g.zero_std_groups !== 'keep') {
    Object.assign(metrics, { 'groups/zero_std': groups.filter(isFlat).length, 'groups/dropped': groups.length - kept.length, 'groups/refilled': refilled, 'groups/refill_sampled': freshSampled });
  }
  if (g.inpaint) {
    const gain = ip.gains.length ? ip.gains.reduce((a, b) => a + b, 0) / ip.gains.length : 0;
    Object.assign(metrics, { 'inpaint/groups': ip.groups, 'inpaint/members': ip.members, 'inpaint/reward_gain': gain });
  }
  return { scored, trained, metrics, nfe: stats.nfe, positions: stats.positions, seconds: { generation: stats.generation, rewards: stats.rewards } };
}

/** Groups as phase-3 Samples: rows in group order, left-padded to the longest prompt among them. */
export function toSamples(groups: Group[], padId: number, Lg: number): Samples {
  const members = groups.flatMap((gr) => gr.members);
  const Lp = Math.max(0, ...members.map((m) => m.promptIds.length));
  return {
    sequences: members.map((m) => m.seq), // [N][Lg]
    full: members.map((m) => [...new Array<number>(Lp - m.promptIds.length).fill(padId), ...m.promptIds, ...m.seq]), // [N][Lp + Lg]
    promptLengths: members.map((m) => m.promptIds.length),
    steps: members.length > 0 && members.every((m) => m.steps) ? members.map((m) => m.steps!) : null,
    inpainted: members.some((m) => m.inpainted) ? members.map((m) => m.inpainted ?? new Array<number>(Lg).fill(0)) : null,
    logps: members.length > 0 && members.every((m) => m.logps) ? members.map((m) => m.logps!) : null,
    nfe: 0,
    positions: 0,
    seconds: 0,
  };
}

/** The trained groups in `parts` contiguous shares (sizes differ by at most one group), e.g. one per worker. */
export function splitTrained(t: Trained, parts: number, padId: number, Lg: number): Trained[] {
  const G = t.groups[0]?.members.length ?? 0;
  return Array.from({ length: parts }, (_, w) => {
    const a = Math.floor((w * t.groups.length) / parts);
    const b = Math.floor(((w + 1) * t.groups.length) / parts);
    const groups = t.groups.slice(a, b);
    return {
      groups,
      samples: toSamples(groups, padId, Lg),
      advantages: t.advantages.slice(a * G, b * G),
      tokenAdvantages: t.tokenAdvantages?.slice(a * G, b * G) ?? null,
    };
  });
}
