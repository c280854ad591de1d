/** `yarn train:grpo --config configs/sudoku-grpo.yaml`: diffu-GRPO from an SFT checkpoint. */
import path from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { loadConfig } from '../config/load.ts';
import { resolveDataDir } from '../data/index.ts';
import { grpoConfigSchema } from '../config/schema.ts';
import { validateGrpoRun } from '../config/validate_inputs.ts';
import { rewardSourceFromConfig } from '../rewards/registry.ts';
import { failOneLine, runMain } from './common.ts';

runMain(async () => {
  const argv = await yargs(hideBin(process.argv))
    .scriptName('yarn train:grpo')
    .usage('$0 --config configs/sudoku-grpo.yaml [--set key.path=value ...] [--resume]')
    .option('config', { type: 'string', demandOption: true, describe: 'YAML run config' })
    .option('set', { type: 'string', array: true, default: [], describe: 'override a config value, e.g. --set grpo.beta=0' })
    .option('resume', { type: 'boolean', default: false, describe: "continue exactly from run.output_dir's latest checkpoint" })
    .strict()
    .fail(failOneLine('yarn train:grpo'))
    .help()
    .parse();
  const loaded = loadConfig(argv.config, grpoConfigSchema, argv.set);
  const { config, path: file } = loaded;
  for (const note of loaded.notes ?? []) console.error(`note: ${note}`);
  validateGrpoRun(loaded, { resume: argv.resume }); // checkpoint, data, sampler and batch shapes, before anything is written
  // Reward modules load (and are probed) before any training time is spent; paths are relative to the config file.
  const rewardSource = await rewardSourceFromConfig(config.rewards, path.dirname(file));
  const { trainGrpo } = await import('../rl/grpo_trainer.ts'); // tfjs loads only for a run that can start
  const { periodicEval } = await import('../eval/periodic.ts');
  await trainGrpo(config, { resume: argv.resume, rewardSource, evaluate: periodicEval(config.eval, config.sampler, resolveDataDir(config.runtime.data_dir)) });
});
