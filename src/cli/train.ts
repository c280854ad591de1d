/** `yarn train:sft` / `yarn train:pretrain`: one trainer, two objectives. */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { loadConfig } from '../config/load.ts';
import { trainConfigSchema } from '../config/schema.ts';
import { validateTrainRun } from '../config/validate_inputs.ts';
import { failOneLine, runMain } from './common.ts';

runMain(async () => {
  const argv = await yargs(hideBin(process.argv))
    .scriptName('yarn train:sft')
    .usage('$0 --config configs/sudoku-sft.yaml [--set key.path=value ...] [--resume]')
    .option('config', { type: 'string', demandOption: true, describe: 'YAML run config' })
    .option('set', { type: 'string', array: true, default: [], describe: 'override a config value, e.g. --set optimizer.lr=1e-3' })
    .option('resume', { type: 'boolean', default: false, describe: "continue exactly from run.output_dir's latest checkpoint" })
    .option('objective', { choices: ['sft', 'pretrain'] as const, describe: 'training objective (set by the yarn script)' })
    .strict()
    .fail(failOneLine('yarn train:sft'))
    .help()
    .parse();
  const sets = [...argv.set];
  if (argv.objective) sets.push(`objective.type=${argv.objective}`);
  const loaded = loadConfig(argv.config, trainConfigSchema, sets);
  validateTrainRun(loaded, { resume: argv.resume }); // every input, before anything is written
  const { train } = await import('../train/trainer.ts'); // tfjs loads only for a run that can start
  await train(loaded.config, { resume: argv.resume });
});
