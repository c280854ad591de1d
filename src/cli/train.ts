/** `yarn train:sft` / `yarn train:pretrain`: one trainer, two objectives. */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { loadConfig } from '../config/load.ts';
import { trainConfigSchema } from '../config/schema.ts';
import { train } from '../train/trainer.ts';
import { runMain } from './common.ts';

runMain(async () => {
  const argv = await yargs(hideBin(process.argv))
    .scriptName('yarn train:sft')
    .usage('$0 --config configs/sudoku-sft.yaml [--set key.path=value ...] [--resume]')
    .option('config', { type: 'string', demandOption: true, describe: 'YAML run config' })
    .option('set', { type: 'string', array: true, default: [], describe: 'override a config value, e.g. --set optimizer.lr=1e-3' })
    .option('resume', { type: 'boolean', default: false, describe: "continue exactly from run.output_dir's latest checkpoint" })
    .option('objective', { choices: ['sft', 'pretrain'] as const, describe: 'training objective (set by the yarn script)' })
    .strict()
    .help()
    .parse();
  const sets = [...argv.set];
  if (argv.objective) sets.push(`objective.type=${argv.objective}`);
  const { config } = loadConfig(argv.config, trainConfigSchema, sets);
  await train(config, { resume: argv.resume });
});
