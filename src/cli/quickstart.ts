/**
 * `yarn quickstart [--task sudoku|countdown] [--fresh]`: the main job, end to end on a laptop CPU.
 *   1. SFT a tiny masked-diffusion model (configs/<task>-sft.yaml)
 *   2. diffu-GRPO from it (configs/<task>-grpo.yaml)
 *   3. evaluate both checkpoints on d1's test set (greedy, same subset) and print the table with 95% CIs and the
 *      paired gain's CI.
 * Everything goes under checkpoints/quickstart/<task>/; finished stages are reused unless --fresh.
 */
import fs from 'node:fs';
import path from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { runQuickstart } from '../quickstart/pipeline.ts';
import { runMain } from './common.ts';

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
    .help()
    .parse();
  const outDir = path.join(argv.out, argv.task);
  if (argv.fresh) fs.rmSync(outDir, { recursive: true, force: true });
  const result = await runQuickstart({ task: argv.task, outDir, setSft: argv['set-sft'], setGrpo: argv['set-grpo'], subset: argv.subset });
  process.stdout.write(result.table + '\n');
});
