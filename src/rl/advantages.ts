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
  if (!Number.isInteger(G) || G < 2) throw new Error(`computeAdvantages: num_generations (${G}) must be an integer >= 2`);
  if (rewards.length % G !== 0) throw new Error(`computeAdvantages: ${rewards.length} rewards are not a whole number of groups of ${G}`);
  const P = rewards.length / G;
  const advantages = new Array<number>(rewards.length);
  let zeroStd = 0;
  let stdSum = 0;
  for (let g = 0; g < P; g++) {
    const group = rewards.slice(g * G, (g + 1) * G);
    const mean = group.reduce((s, r) => s + r, 0) / G;
    const std = sampleStd(group, mean);
    stdSum += std;
    if (group.every((r) => r === group[0])) zeroStd++;
    for (let i = 0; i < G; i++) {
      const centred = group[i] - mean;
      advantages[g * G + i] = scale === 'group' ? centred / (std + 1e-4) : centred;
    }
  }
  if (scale === 'batch') {
    const batchStd = sampleStd(rewards, rewards.reduce((s, r) => s + r, 0) / rewards.length);
    for (let i = 0; i < advantages.length; i++) advantages[i] /= batchStd + 1e-4;
  }
  return { advantages, fracZeroStd: zeroStd / P, meanGroupStd: stdSum / P };
}

function sampleStd(xs: number[], mean: number): number {
  if (xs.length < 2) return 0;
  return Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (xs.length - 1));
}
