/**
 * A GRPO run's periodic evaluation (`eval:` in the config, every `training.eval_every` steps) as a function of the
 * current policy, returning its metrics. The CLIs hand it to trainGrpo, so rl/ never imports eval/.
 */
import type { GrpoConfig } from '../config/schema.ts';
import { resolveDataDir } from '../data/index.ts';
import type { PeriodicEval } from '../rl/grpo_trainer.ts';
import { evaluate } from './evaluate.ts';

export function periodicEval(config: GrpoConfig): PeriodicEval | undefined {
  const e = config.eval;
  if (!e.task) return undefined;
  const task = e.task;
  const s = config.sampler;
  return async (model) => {
    const { summary } = await evaluate(model, {
      task, subset: e.subset, seed: e.seed, parser: e.parser, batch_size: e.batch_size, dataDir: resolveDataDir(config.runtime.data_dir ?? undefined),
      sampler: { gen_length: s.gen_length, block_length: s.block_length },
    });
    return { [`eval/${task}/accuracy`]: summary.accuracy, [`eval/${task}/ci95_low`]: summary.ci95[0], [`eval/${task}/ci95_high`]: summary.ci95[1] };
  };
}
