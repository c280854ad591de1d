/**
 * The reward contract (TRL-style): a reward function gets the prompts, the completions, every column of the data rows
 * and its config `args`, and returns per completion a number, null (not applicable) or a credited reward. A
 * RewardSource is the weighted sum of a config's functions (registry.ts), as the GRPO loop sees it.
 */

/**
 * Part of a reward tied to the completion character (offset `at`) that earned it. `at` = the completion's length
 * means its end: the token that ended it (its EOS, else its last token). A reward puts there what it should have
 * judged but the completion never wrote (a Sudoku cell after an early EOS), so stopping short is judged like
 * answering wrong instead of going unjudged (`grpo.credit_baseline: group`, rl/advantages.ts).
 */
export interface Credit { at: number; value: number }
export interface CreditedReward { reward: number; credit: Credit[] }
export type RewardValue = number | null | CreditedReward;

export type RewardFn = (args: {
  prompts: string[];
  completions: string[];
  rows: Record<string, unknown>[];
  args: Record<string, unknown>;
}) => RewardValue[] | Promise<RewardValue[]>;

export interface RewardSpec {
  name?: string;
  module?: string;
  export?: string;
  weight: number;
  args: Record<string, unknown>;
}

export interface RewardSource {
  /** Failed calls per reward function so far (a failing reward scores 0 for its batch and is counted here). */
  errors?: Record<string, number>;
  /** Per completion: the weighted reward, and each function's raw value (null = not applicable). */
  score(prompts: string[], completions: string[], rows: Record<string, unknown>[]): Promise<{ total: number[]; perFn: Record<string, (number | null)[]>; credit?: Credit[][] }>;
}
