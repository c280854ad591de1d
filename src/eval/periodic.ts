/**
 * A GRPO run's periodic evaluation (`eval:` in the config, every `training.eval_every` steps) as a function of the
 * current policy, returning its metrics. The CLIs hand it to trainGrpo (GrpoOptions.evaluate), so rl/ never imports
 * eval/; it takes plain values, so eval/ never imports config/ either.
 */
import type { ModelConfig } from '../model/config.ts';
import type { Params } from '../model/model.ts';
import type { Tokenizer } from '../tokenizer/index.ts';
import { evaluate, type EvalOptions } from './evaluate.ts';

type Model = { params: Params; cfg: ModelConfig; tokenizer: Tokenizer };

/** `e` is the config's `eval:` section (null task = no evaluation); `sampler` its gen/block length; `dataDir` resolved. */
export function periodicEval(
  e: { task: EvalOptions['task'] | null } & Pick<EvalOptions, 'subset' | 'seed' | 'parser' | 'batch_size'>,
  sampler: { gen_length: number; block_length: number },
  dataDir: string,
): ((model: Model) => Promise<Record<string, number>>) | undefined {
  const task = e.task;
  if (!task) return undefined;
  return async (model) => {
    // Only the lengths: the rest of the run's rollout sampler (temperature, steps, cache, ...) is not the eval's, which
    // decodes greedily with the task's schedule.
    const lengths = { gen_length: sampler.gen_length, block_length: sampler.block_length };
    const { summary } = await evaluate(model, { task, subset: e.subset, seed: e.seed, parser: e.parser, batch_size: e.batch_size, dataDir, sampler: lengths });
    return { [`eval/${task}/accuracy`]: summary.accuracy, [`eval/${task}/ci95_low`]: summary.ci95[0], [`eval/${task}/ci95_high`]: summary.ci95[1] };
  };
}
