/**
 * `yarn train:l2d --config configs/sudoku-l2d.yaml [--set key.path=value ...] [--resume]`: trains L2D's flow stream
 * on a frozen causal checkpoint (`base`). The base must exist, be causal and fit data.seq_len; checked before the
 * compute backend loads or anything is written.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { ConfigError } from '../errors.ts';
import { loadConfig } from '../config/load.ts';
import { inspectCheckpoint } from '../config/validate_inputs.ts';
import { l2dConfigSchema } from '../l2d/config.ts';
import { failOneLine, runMain } from './common.ts';

runMain(async () => {
  const argv = await yargs(hideBin(process.argv))
    .scriptName('yarn train:l2d')
    .usage('$0 --config configs/sudoku-l2d.yaml [--set key.path=value ...] [--resume]')
    .option('config', { type: 'string', demandOption: true, describe: 'YAML run config' })
    .option('set', { type: 'string', array: true, default: [], describe: 'override a config value, e.g. --set flow.noise_rescaling=16' })
    .option('resume', { type: 'boolean', default: false, describe: "continue exactly from run.output_dir's latest checkpoint" })
    .strict()
    .fail(failOneLine('yarn train:l2d'))
    .help()
    .parse();
  const loaded = loadConfig(argv.config, l2dConfigSchema, argv.set);
  const at = (key: string) => `${loaded.where?.(key) ?? loaded.path} ${key}`;
  const base = inspectCheckpoint(loaded.config.base, at('base'));
  if ((base.config as Record<string, unknown>).causal !== true) throw new ConfigError(`${at('base')}: ${base.dir} is not a causal model (train one with model.causal: true)`);
  if ((base.config as Record<string, unknown>).l2d) throw new ConfigError(`${at('base')}: ${base.dir} is an L2D checkpoint; give its causal base`);
  if (loaded.config.data.seq_len > base.limits.max_seq_len) throw new ConfigError(`${at('data.seq_len')}: (${loaded.config.data.seq_len}) exceeds the base's max_seq_len (${base.limits.max_seq_len})`);
  const { trainL2d } = await import('../l2d/trainer.ts'); // tfjs loads only for a run that can start
  const run = await trainL2d(loaded.config, { resume: argv.resume });
  run.dispose();
});
