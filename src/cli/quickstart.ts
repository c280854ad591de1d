/**
 * `yarn quickstart [--task sudoku|countdown] [--fresh]`: the main job, end to end on a laptop CPU.
 *   1. SFT a tiny masked-diffusion model (quickstart/configs.ts: configs/sudoku-sft.yaml, configs/countdown-signs-sft.yaml)
 *   2. diffu-GRPO from it (configs/sudoku-grpo.yaml, configs/countdown-signs-grpo.yaml)
 *   3. evaluate both checkpoints on d1's test set (greedy, same subset) and print the table with 95% CIs and the
 *      paired gain's CI.
 * Everything goes under checkpoints/quickstart/<task>/; finished stages are reused unless --fresh.
 */
import fs from 'node:fs';
import path from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { loadConfig } from '../config/load.ts';
import { grpoConfigSchema, trainConfigSchema } from '../config/schema.ts';
import { validateQuickstartRun } from '../config/validate_inputs.ts';
import { checkNumbers, failOneLine, runMain } from './common.ts';
import { QUICKSTART_CONFIGS } from '../quickstart/configs.ts';

runMain(async () => {
  const argv = await yargs(hideBin(process.argv))
    .scriptName('yarn quickstart')
    .usage('$0 [--task sudoku|countdown] [--fresh]')
    .option('task', { choices: ['sudoku', 'countdown'] as const, default: 'sudoku' as const, describe: 'which d1 task' })
    .option('fresh', { type: 'boolean', default: false, describe: 'retrain every stage even if a finished one exists' })
    .option('out', { type: 'string', default: 'checkpoints/quickstart', describe: 'output root' })
    .option('set-sft', { type: 'string', array: true, default: [], describe: 'override an SFT config value' })
    .option('set-grpo', { type: 'string', array: true, default: [], describe: 'override a GRPO config value' })
    .option('subset', { type: 'number', default: 500, describe: 'test items evaluated (all 500 Sudoku puzzles; Countdown has 256)' })
    .strict()
    .fail(failOneLine('yarn quickstart'))
    .help()
    .parse();
  const outDir = path.join(argv.out, argv.task);
  // Both stages' configs (as runQuickstart loads them) and the flags, before --fresh deletes anything.
  checkNumbers(argv, { subset: { int: true, min: 1 } });
  const sft = loadConfig(QUICKSTART_CONFIGS[argv.task].sft, trainConfigSchema, [`run.output_dir=${path.join(outDir, 'sft')}`, ...argv['set-sft']]);
  const grpo = loadConfig(QUICKSTART_CONFIGS[argv.task].grpo, grpoConfigSchema, [`run.output_dir=${path.join(outDir, 'grpo')}`, `init_from=${path.join(outDir, 'sft')}`, ...argv['set-grpo']]);
  validateQuickstartRun(sft, grpo, { task: argv.task, subset: argv.subset });
  if (argv.fresh) fs.rmSync(outDir, { recursive: true, force: true });
  const { runQuickstart } = await import('../quickstart/pipeline.ts'); // tfjs loads only for a run that can start
  const result = await runQuickstart({ task: argv.task, outDir, setSft: argv['set-sft'], setGrpo: argv['set-grpo'], subset: argv.subset });
  process.stdout.write(result.table + '\n');
});
