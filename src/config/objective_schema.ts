/**
 * The keys of one objective or rollout option inside `grpo:` (SPG's, ESPO's, IGPO's inpainting), kept apart from
 * schema.ts so that each reads on its own; schema.ts re-exports them.
 */
import { z } from 'zod';

const positiveInt = z.number().int().positive();

/** SPG's own keys (rl/objectives/spg.ts; facebookresearch/SPG spg/diffu_grpo_config.py l.389–417, slurm_scripts/). */
export const spgSchema = z.strictObject({
  /** The bound for A ≤ 0: mix = w·EUBO + (1−w)·ELBO ("SPG w/ Mixture", spg_mix/*.sbatch) | eubo | elbo | zero. */
  logp_estimation: z.enum(['mix', 'eubo', 'elbo', 'zero']).default('mix'),
  /** β of the EUBO (config l.410: 1.5; scripts: 1.0 Sudoku, 1.5 GSM8K/MATH and Countdown mix, 2.0 Countdown eubo). */
  eubo_beta: z.number().gt(0).default(1.5),
  /** w, the EUBO's share of the mixed negative term (config l.414 and every mix script: 0.5). */
  mix_weight: z.number().min(0).max(1).default(0.5),
  /**
   * T: masked copies per completion each inner update, at most gen_length / block_length (scripts: 2; config: 1).
   * null = 2, or the block count when there are fewer blocks (resolveSpg).
   */
  num_t: positiveInt.nullable().default(null),
  /**
   * Block of the block-wise masks; must divide sampler.gen_length. null = sampler.block_length (SPG's train.yaml uses
   * 32, d1's sampler block, for both), so a recipe switched to spg keeps its own block plan.
   */
  block_length: positiveInt.nullable().default(null),
});

/** SPG's keys with the nulls resolved against the sampler. */
export type SpgOptions = Omit<z.infer<typeof spgSchema>, 'num_t' | 'block_length'> & { num_t: number; block_length: number };

export function resolveSpg(spg: z.infer<typeof spgSchema>, sampler: { gen_length: number; block_length?: number }): SpgOptions {
  const block_length = spg.block_length ?? sampler.block_length ?? sampler.gen_length; // the sampler's default block: all of it
  const blocks = Math.floor(sampler.gen_length / block_length);
  return { ...spg, block_length, num_t: spg.num_t ?? Math.max(1, Math.min(2, blocks)) };
}

/** [lo, hi] with lo <= hi, each checked by `item`. */
const range = (item: z.ZodNumber) => z.tuple([item, item]).refine(([lo, hi]) => lo <= hi, { message: 'must be [lo, hi] with lo <= hi' });

/**
 * IGPO inpainting (arXiv 2509.10396; rl/inpaint.ts): when every completion of a group fails, `members` of them are
 * re-sampled with a random `fraction` of the reference answer's tokens fixed in the canvas (the row's solution as the
 * SFT template writes it). A completion fails when its reward (the weighted total) is <= fail_reward.
 */
export const inpaintSchema = z.strictObject({
  when: z.enum(['all_fail']).default('all_fail'),
  fail_reward: z.number().default(0),
  /** Share of the reference answer's tokens fixed, drawn uniformly per member (IGPO: U[0.1, 0.5]). */
  fraction: range(z.number().min(0).max(1)).default([0.1, 0.5]),
  /** k: the group's first k completions are re-sampled with a hint (IGPO max_replacements: 1); at most G. */
  members: positiveInt.default(1),
  /** The reference is cut into spans of [lo, hi] tokens and whole spans are revealed (IGPO chunk size: 4–8). */
  chunk_tokens: range(positiveInt).default([4, 8]),
});

/** ESPO's own keys (rl/objectives/espo.ts; ML-GSAI/ESPO espo/configs.py, recipes/run_*_llada.sh). */
export const espoSchema = z.strictObject({
  /** ELBO Monte Carlo samples per inner update, each a stratified mask + its complement (configs.py: 1; every LLaDA recipe: 2). */
  num_mc: positiveInt.default(2),
  /** Also score the complementary mask (ESPO's coupled pass, configs.py reduce_var: true): 2 forward passes per sample. */
  reduce_var: z.boolean().default(true),
  /** Leave-one-out baseline r − mean of the other G−1 (espo_trainer.py, hard-coded): the advantages × G/(G−1). */
  leave_one_out: z.boolean().default(true),
});
