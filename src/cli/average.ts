/**
 * `yarn average --out RUN_DIR CKPT CKPT [...]`: the model weights of several checkpoints of one run, averaged
 * (checkpoint/average.ts; LAWA). Written to RUN_DIR/average-<n> with RUN_DIR/latest pointing at it, so every command
 * that takes a checkpoint takes RUN_DIR. `yarn study` does the same for a run with `average_last: K`.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { setupBackend } from '../backend/backend.ts';
import { averageCheckpoints } from '../checkpoint/average.ts';
import { createLogger } from '../engine/run_log.ts';
import { inspectCheckpoint } from '../config/validate_inputs.ts';
import { failOneLine, runMain } from './common.ts';

runMain(async () => {
  const argv = await yargs(hideBin(process.argv))
    .scriptName('yarn average')
    .usage('$0 --out RUN_DIR CKPT CKPT [...]')
    .option('out', { type: 'string', demandOption: true, describe: 'run directory to write the average into (average-<n>, and latest)' })
    .demandCommand(2, 'give at least two checkpoint directories to average')
    .strict()
    .fail(failOneLine('yarn average'))
    .help()
    .parse();
  const dirs = argv._.map((p, i) => inspectCheckpoint(String(p), `checkpoint ${i + 1}`).dir); // before any backend logging
  const logger = createLogger();
  await setupBackend('auto', (msg, fields) => logger.info(fields, msg));
  const out = await averageCheckpoints(dirs, argv.out, `average-${dirs.length}`);
  process.stdout.write(`averaged ${dirs.length} checkpoints -> ${out}\n`);
});
