/**
 * `yarn train:ei --config configs/countdown-signs-ei.yaml`: one round of expert iteration (train/expert_iteration.ts): sample
 * from model.init_from on new generated problems, keep the right answers, SFT on them beside the config's labels.
 */
import path from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { eiConfigSchema } from '../config/ei_schema.ts';
import { loadConfig } from '../config/load.ts';
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
  const [{ setupBackend }, { loadModel }, { evaluate, writeEvalResults }, { verifiedExamples }, { train }, { createLogger }] = await Promise.all([
    import('../backend/backend.ts'), import('../checkpoint/load_model.ts'), import('../eval/evaluate.ts'),
    import('../train/expert_iteration.ts'), import('../train/trainer.ts'), import('../engine/run_log.ts'),
  ]);
  const logger = createLogger(config.logging.level);
  await setupBackend(config.runtime.backend, (msg, fields) => logger.info(fields, msg));
  const e = config.expert_iteration;
  const extraTrain = await verifiedExamples(config, async (poolFile, task) => {
    const model = loadModel(config.model.init_from!);
    try {
      const { summary, items } = await evaluate(model, {
        task, subset: null, seed: config.run.seed, parser: e.parser, dataDir: resolveDataDir(config.runtime.data_dir ?? undefined),
        testFile: poolFile, batch_size: e.batch_size, samples: e.samples,
        sampler: { sampler: 'llada', gen_length: e.gen_length, block_length: e.block_length, steps: e.steps, temperature: e.temperature },
        onProgress: (done, total) => logger.info({ done, total }, 'expert iteration: sampling progress'),
      });
      writeEvalResults(path.join(path.dirname(poolFile), 'samples'), summary, items);
      logger.info({ accuracy: +summary.accuracy.toFixed(4), pass_at_k: summary.pass_at_k, seconds: Math.round(summary.seconds) }, 'expert iteration: samples scored');
      return items as unknown as Record<string, unknown>[];
    } finally {
      model.dispose();
    }
  }, logger);
  await train(config, { resume: argv.resume, logger, extraTrain });
});
