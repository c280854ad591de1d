/** `yarn eval --checkpoint DIR --task gsm8k --subset 200 --seed 0 [sampler options]`: accuracy with a 95% CI. */
import path from 'node:path';
import cliProgress from 'cli-progress';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { setupBackend, type BackendName } from '../backend/backend.ts';
import { resolveCheckpoint } from '../checkpoint/checkpoint.ts';
import { resolveDataDir } from '../data/index.ts';
import { evaluate, writeEvalResults } from '../eval/evaluate.ts';
import { EVAL_PARSERS, EVAL_TASKS, type EvalParser, type EvalTask } from '../eval/tasks.ts';
import { loadModel } from '../checkpoint/load_model.ts';
import { createLogger } from '../engine/run_log.ts';
import { runMain } from './common.ts';

runMain(async () => {
  const argv = await yargs(hideBin(process.argv))
    .scriptName('yarn eval')
    .usage('$0 --checkpoint DIR --task sudoku [--subset 256] [--seed 0] [--sampler llada] [--gen-length N] ...')
    .option('checkpoint', { type: 'string', demandOption: true, describe: 'checkpoint dir or run dir (follows latest)' })
    .option('task', { choices: EVAL_TASKS, demandOption: true, describe: 'test set' })
    .option('subset', { type: 'number', describe: 'evaluate this many items (deterministic by --seed); default all' })
    .option('seed', { type: 'number', default: 0 })
    .option('sampler', { choices: ['llada', 'dus', 'remdm', 'threshold'] as const, describe: "default: the task's (llada)" })
    .option('gen-length', { type: 'number' })
    .option('block-length', { type: 'number' })
    .option('steps', { type: 'number' })
    .option('temperature', { type: 'number', describe: 'default 0 (greedy), as d1 evaluates' })
    .option('threshold', { type: 'number', describe: 'threshold sampler: confidence to commit' })
    .option('parser', { choices: EVAL_PARSERS, default: 'd1' as const, describe: "gsm8k/math500/countdown/sudoku scorer: d1's eval parsers exactly, or the lenient ones (README)" })
    .option('batch-size', { type: 'number', default: 64 })
    .option('backend', { choices: ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const, default: 'auto' as const })
    .option('data-dir', { type: 'string', describe: 'data directory (default: $DIFFRL_DATA_DIR, else the repository data/ folder)' })
    .option('out', { type: 'string', describe: 'results base path (default <checkpoint>/eval/<task>-<n>-seed<seed>)' })
    .strict()
    .help()
    .parse();
  const logger = createLogger();
  await setupBackend(argv.backend as BackendName, (msg, fields) => logger.info(fields, msg));
  const dir = resolveCheckpoint(argv.checkpoint);
  const model = loadModel(dir);
  // A progress bar on a TTY, log lines otherwise.
  const bar = process.stderr.isTTY ? new cliProgress.SingleBar({ format: `eval ${argv.task} |{bar}| {value}/{total} items | ETA {eta_formatted}`, stream: process.stderr }, cliProgress.Presets.shades_classic) : null;
  const { summary, items } = await evaluate(model, {
    task: argv.task as EvalTask,
    subset: argv.subset ?? null,
    seed: argv.seed,
    parser: argv.parser as EvalParser,
    dataDir: resolveDataDir(argv['data-dir']),
    batch_size: argv['batch-size'],
    sampler: { sampler: argv.sampler, gen_length: argv['gen-length'], block_length: argv['block-length'], steps: argv.steps, temperature: argv.temperature, threshold: argv.threshold },
    onProgress: (done, total) => {
      if (!bar) return logger.info({ done, total }, 'eval progress');
      if (done <= argv['batch-size']) bar.start(total, 0);
      bar.update(done);
    },
  });
  bar?.stop();
  const base = argv.out ?? path.join(dir, 'eval', `${argv.task}-${summary.n}-seed${argv.seed}`);
  writeEvalResults(base, summary, items);
  process.stdout.write(JSON.stringify({ ...summary, results: `${base}.jsonl` }) + '\n');
  model.dispose();
});
