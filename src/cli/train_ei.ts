/**
 * `yarn train:ei --config configs/countdown-signs-ei.yaml`: one round of expert iteration (train/expert_iteration.ts): sample
 * from model.init_from on new generated problems, keep the right answers, SFT on them beside the config's labels.
 */
import type { BackendName } from '../backend/backend.ts';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { eiConfigSchema } from '../config/ei_schema.ts';
import { loadConfig } from '../config/load.ts';
import { checkEiConfig } from '../train/expert_iteration.ts';
import { validateTrainRun } from '../config/validate_inputs.ts';
import { resolveDataDir } from '../data/index.ts';
import { failOneLine, runMain } from './common.ts';

runMain(async () => {
  const argv = await yargs(hideBin(process.argv))
    .scriptName('yarn train:ei')
    .usage('$0 --config configs/countdown-signs-ei.yaml [--set key.path=value ...] [--resume]')
    .option('config', { type: 'string', demandOption: true, describe: 'YAML run config: an SFT config with an expert_iteration section' })
    .option('set', { type: 'string', array: true, default: [], describe: 'override a config value, e.g. --set expert_iteration.samples=4' })
    .option('resume', { type: 'boolean', default: false, describe: "continue exactly from run.output_dir's latest checkpoint" })
    .strict()
    .fail(failOneLine('yarn train:ei'))
    .help()
    .parse();
  const loaded = loadConfig(argv.config, eiConfigSchema, [...argv.set, 'objective.type=sft']);
  validateTrainRun(loaded, { resume: argv.resume }); // every input, before anything is written
  const { config } = loaded;
  checkEiConfig(config);
  const [{ setupBackend }, { verifiedExamples }, { samplePool }, { train }, { createLogger }] = await Promise.all([
    import('../backend/backend.ts'), import('../train/expert_iteration.ts'), import('../train/ei_sampling.ts'),
    import('../train/trainer.ts'), import('../engine/run_log.ts'),
  ]);
  const logger = createLogger(config.logging.level);
  const backend = await setupBackend(config.runtime.backend, (msg, fields) => logger.info(fields, msg));
  const dataDir = resolveDataDir(config.runtime.data_dir ?? undefined);
  const sample = async (poolFile: string, task: 'sudoku' | 'countdown' | 'gsm8k') =>
    (await samplePool(config, backend.backend as BackendName, poolFile, task, dataDir, logger)) as unknown as Record<string, unknown>[];
  const extraTrain = await verifiedExamples(config, sample, logger);
  await train(config, { resume: argv.resume, logger, extraTrain });
});
