/**
 * Group-relative advantages (GRPO; d1 §1(b)). Completions are laid out group by group: rows [g·G, (g+1)·G) belong to
 * prompt g.
 *   A_i = r_i − mean(group of i)                       scale_rewards: none   (d1: no division by the std)
 *   A_i = (r_i − mean(group)) / (std(group) + 1e-4)    scale_rewards: group  (TRL's default)
 *   A_i = (r_i − mean(group)) / (std(batch) + 1e-4)    scale_rewards: batch
 * std is the unbiased sample std, as torch.std computes it in TRL.
 */
export type ScaleRewards = 'group' | 'batch' | 'none';

export interface Advantages {
  /** [P·G] one advantage per completion. */
  advantages: number[];
  /** Fraction of groups whose rewards are all equal (they carry no learning signal). */
  fracZeroStd: number;
  /** Mean over groups of the group's reward std (d1's `reward_std`). */
  meanGroupStd: number;
}

export function computeAdvantages(rewards: number[], G: number, scale: ScaleRewards): Advantages {
  checkGroups(rewards.length, G);
  const P = rewards.length / G;
  const divisors = scaleDivisors(rewards, G, scale);
  const advantages = new Array<number>(rewards.length);
  let zeroStd = 0;
  let stdSum = 0;
  for (let g = 0; g < P; g++) {
    const group = rewards.slice(g * G, (g + 1) * G);
    const mean = group.reduce((s, r) => s + r, 0) / G;
    stdSum += sampleStd(group, mean);
    if (group.every((r) => r === group[0])) zeroStd++;
    for (let i = 0; i < G; i++) advantages[g * G + i] = (group[i] - mean) / divisors[g * G + i];
  }
  return { advantages, fracZeroStd: zeroStd / P, meanGroupStd: stdSum / P };
}

function checkGroups(n: number, G: number): void {
  if (!Number.isInteger(G) || G < 2) throw new Error(`computeAdvantages: num_generations (${G}) must be an integer >= 2`);
  if (n % G !== 0) throw new Error(`computeAdvantages: ${n} rewards are not a whole number of groups of ${G}`);
}

/** Per completion: what its centred reward is divided by (1, its group's std + 1e-4, or the batch std + 1e-4). */
function scaleDivisors(rewards: number[], G: number, scale: ScaleRewards): number[] {
  const stdOf = (xs: number[]) => sampleStd(xs, xs.reduce((s, x) => s + x, 0) / xs.length) + 1e-4;
  const batch = scale === 'batch' ? stdOf(rewards) : 1;
  return rewards.map((_, i) => (scale === 'group' ? stdOf(rewards.slice(i - (i % G), i - (i % G) + G)) : batch));
}

function sampleStd(xs: number[], mean: number): number {
  if (xs.length < 2) return 0;
  return Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (xs.length - 1));
}

/**
 * Process supervision (`grpo.credit: process`): GRPO's process-reward advantages (DeepSeekMath §4.1.3, "the advantage
 * of a token is the sum of the normalised rewards from the following steps"), with the sampler's denoising steps as
 * the steps. A token committed at sampler step s can change only what is committed at steps ≥ s, never what was
 * committed before, so its return is the reward-to-go
 *   R_{i,s} = outcome_i + Σ_{l : step_il ≥ s} credit_il          (outcome_i = r_i − Σ_l credit_il)
 * and its advantage is R_{i,s} minus the group's mean return at the same step:
 *   A_{i,l} = R_{i,s} − mean_{j in group} R_{j,s},   s = step_il
 * (scaled like computeAdvantages). At the first step R_{i,1} = r_i, and with no credit A_{i,l} = r_i − mean: plain GRPO.
 *
 * rewards [N]; credit [N][Lg] reward credited to each completion token; step [N][Lg] the 1-based sampler step that
 * committed each token. Returns [N][Lg].
 */
export function processAdvantages(rewards: number[], credit: number[][], step: number[][], G: number, scale: ScaleRewards): number[][] {
  const N = rewards.length;
  checkGroups(N, G);
  if (credit.length !== N || step.length !== N) throw new Error(`processAdvantages: ${N} rewards but ${credit.length} credit rows and ${step.length} step rows`);
  const S = Math.max(1, ...step.flat());
  // R[i][s] for s = 1..S (index 0 unused): suffix sums of the per-step credit, plus the outcome part.
  const R = rewards.map((r, i) => {
    const perStep = new Array<number>(S + 2).fill(0);
    let credited = 0;
    credit[i].forEach((c, l) => {
      perStep[step[i][l]] += c;
      credited += c;
    });
    const ret = new Array<number>(S + 2).fill(0);
    ret[S + 1] = r - credited;
    for (let s = S; s >= 1; s--) ret[s] = ret[s + 1] + perStep[s];
    return ret;
  });
  // meanR[g][s]: the group's mean return at step s (the baseline).
  const meanR = Array.from({ length: N / G }, (_, g) => R[g * G].map((_, s) => R.slice(g * G, (g + 1) * G).reduce((a, row) => a + row[s], 0) / G));
  const divisors = scaleDivisors(rewards, G, scale); // the same scaling as the outcome advantages
  return step.map((row, i) => row.map((s) => (R[i][s] - meanR[Math.floor(i / G)][s]) / divisors[i]));
}

/**
 * Per-position credit (`grpo.credit: token`): for rewards that credit characters, each token's advantage is its own
 * credit minus the group's mean credit at the same completion position, plus the uncredited rest of the reward as an
 * outcome advantage:
 *   A_{i,l} = (c_il − mean_{j in group} c_jl) + (u_i − mean_{j in group} u_j),   u_i = r_i − Σ_l c_il
 * (scaled like computeAdvantages). The group's completions answer the same prompt, so a position is a baseline only
 * where answers line up token by token: Sudoku's 16 cells (the built-in reward credits 1/empty at each right cell),
 * not free text. With no credit it is exactly the outcome advantage r_i − mean.
 *
 * rewards [N]; credit [N][Lg]. Returns [N][Lg].
 */
export function positionAdvantages(rewards: number[], credit: number[][], G: number, scale: ScaleRewards): number[][] {
  const N = rewards.length;
  checkGroups(N, G);
  if (credit.length !== N) throw new Error(`positionAdvantages: ${N} rewards but ${credit.length} credit rows`);
  const rest = rewards.map((r, i) => r - credit[i].reduce((a, c) => a + c, 0)); // u_i
  const divisors = scaleDivisors(rewards, G, scale);
  return credit.map((row, i) => {
    const g0 = i - (i % G);
    const group = credit.slice(g0, g0 + G);
    const meanRest = rest.slice(g0, g0 + G).reduce((a, u) => a + u, 0) / G;
    return row.map((c, l) => (c - group.reduce((a, r) => a + r[l], 0) / G + rest[i] - meanRest) / divisors[i]);
  });
}

/**
 * Per-token credit against the group's mean per judged token (`grpo.credit: token` with `grpo.credit_baseline:
 * group`; DeepSeekMath §4.1.3's process supervision, which normalises every step reward by the mean over all step
 * rewards of the group's outputs). judged_il counts the reward's judgments on token l (credit entries, even of value 0):
 * 1 on each digit the sudoku reward scores, and on the EOS of a grid that stopped short one per empty cell it never
 * wrote (an entry at the completion's end, rewards/types.ts Credit). Each token's advantage is its credit minus the
 * group's mean credit per judgment times its judgments, plus the uncredited rest as an outcome advantage:
 *   b_g     = Σ_{j in g, l} c_jl / Σ_{j in g, l} judged_jl
 *   A_{i,l} = c_il − judged_il · b_g + (u_i − mean_{j in g} u_j),   u_i = r_i − Σ_l c_il
 * (scaled like computeAdvantages). Unlike the position baseline, a cell that all G completions fill the same way still
 * carries signal: right cells are pushed up by (1 − acc)/E and wrong ones down by acc/E on a Sudoku grid with E empty
 * cells and group accuracy acc. When every completion's E cells are judged, a completion's advantages sum to r_i − mean
 * (the outcome advantage). Before 2026-12-06 a cell after an early EOS was not judged at all, so stopping short cost
 * a completion nothing per token, and negative advantages on wrong digits drifted probability into EOS (README).
 *
 * rewards [N]; credit, judged [N][Lg]. Returns [N][Lg].
 */
export function groupTokenAdvantages(rewards: number[], credit: number[][], judged: number[][], G: number, scale: ScaleRewards): number[][] {
  const N = rewards.length;
  checkGroups(N, G);
  if (credit.length !== N || judged.length !== N) throw new Error(`groupTokenAdvantages: ${N} rewards but ${credit.length} credit rows and ${judged.length} judged rows`);
  const sum = (xs: number[]) => xs.reduce((a, x) => a + x, 0);
  const rest = rewards.map((r, i) => r - sum(credit[i])); // u_i
  const divisors = scaleDivisors(rewards, G, scale);
  const baselines = Array.from({ length: N / G }, (_, g) => {
    const rows = Array.from({ length: G }, (_, k) => g * G + k);
    const n = sum(rows.map((i) => sum(judged[i])));
    return n > 0 ? sum(rows.map((i) => sum(credit[i]))) / n : 0;
  });
  return credit.map((row, i) => {
    const g = Math.floor(i / G);
    const meanRest = sum(rest.slice(g * G, (g + 1) * G)) / G;
    return row.map((c, l) => (c - judged[i][l] * baselines[g] + rest[i] - meanRest) / divisors[i]);
  });
}
