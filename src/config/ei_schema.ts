/**
 * `yarn train:ei`: an SFT config (schema.ts trainConfigSchema) plus an `expert_iteration` section. One round of expert
 * iteration (train/expert_iteration.ts): sample `samples` completions of `pool_size` new generated problems from
 * model.init_from, keep the ones the task's checker scores right, and fine-tune on them beside the config's labels.
 */
import { z } from 'zod';
import { trainConfigSchema } from './schema.ts';

const positiveInt = z.number().int().positive();

export const expertIterationSchema = z.strictObject({
  /** New generated problems per round (never the test file, nor any item of the `exclude` files). */
  pool_size: positiveInt.default(1600),
  /** The pool's generator seed is pool_seed + run.seed: a second round (a new run from the first's checkpoint) sets another. */
  pool_seed: z.number().int().nonnegative().default(77000),
  /** Completions sampled per problem (ReST-EM / STaR: K samples, every distinct right one is kept). */
  samples: positiveInt.default(8),
  /** Gumbel temperature of the sampling (> 0: K greedy samples would be K copies of one). */
  temperature: z.number().gt(0).default(0.9),
  /** The samples' decoding (LLaDA low-confidence remasking): as the task is evaluated, or as its rollouts decode. */
  gen_length: positiveInt,
  block_length: positiveInt,
  steps: positiveInt,
  /** The checker: the eval task's d1 parser or the lenient one (README "Evaluation"); a completion is kept at score 1. */
  parser: z.enum(['d1', 'lenient']).default('lenient'),
  /** Files (the task's test-file format, relative to the working directory) whose problems never enter the pool. */
  exclude: z.array(z.string()).default([]),
  /** Rows (problems x samples) per generation batch. */
  batch_size: positiveInt.default(64),
});

export const eiConfigSchema = trainConfigSchema.extend({ expert_iteration: expertIterationSchema });

export type ExpertIterationSection = z.infer<typeof expertIterationSchema>;
export type EiConfig = z.infer<typeof eiConfigSchema>;
