/** `yarn eval --checkpoint DIR --task gsm8k --subset 200 --seed 0 [sampler options]`: accuracy with a 95% CI. */
import path from 'node:path';
import cliProgress from 'cli-progress';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import type { BackendName } from '../backend/backend.ts';
import { validateEvalRun } from '../config/validate_inputs.ts';
import { resolveDataDir } from '../data/index.ts';
import { EVAL_PARSERS, EVAL_TASKS, type EvalParser, type EvalTask } from '../eval/tasks.ts';
import { createLogger } from '../engine/run_log.ts';
import { ConfigError } from '../errors.ts';
import { checkNumbers, failOneLine, refuseDiffusionFlags, runMain } from './common.ts';
import { FAST_FLAG_SAMPLERS, FAST_SAMPLER_OPTIONS, fastSamplerArgs, refuseForeignFlags } from './sampler_flags.ts';
import { SAMPLER_NAMES, type SamplerName } from '../sampling/types.ts';

runMain(async () => {
  const argv = await yargs(hideBin(process.argv))
    .scriptName('yarn eval')
    .usage('$0 --checkpoint DIR --task sudoku [--subset 256] [--seed 0] [--sampler llada] [--gen-length N] ...')
    .option('checkpoint', { type: 'string', demandOption: true, describe: 'checkpoint dir or run dir (follows latest)' })
    .option('task', { choices: EVAL_TASKS, demandOption: true, describe: 'test set' })
    .option('subset', { type: 'number', describe: 'evaluate this many items (deterministic by --seed); default all' })
    .option('seed', { type: 'number', default: 0 })
    .option('sampler', { choices: SAMPLER_NAMES, describe: "default: the task's (llada)" })
    .option('gen-length', { type: 'number' })
    .option('block-length', { type: 'number' })
    .option('steps', { type: 'number' })
    .option('temperature', { type: 'number', describe: 'default 0 (greedy), as d1 evaluates' })
    .option('threshold', { type: 'number', describe: 'threshold sampler: confidence to commit' })
    .options(FAST_SAMPLER_OPTIONS)
    .option('parser', { choices: EVAL_PARSERS, default: 'd1' as const, describe: "gsm8k/math500/countdown/sudoku scorer: d1's eval parsers exactly, or the lenient ones (README)" })
    .option('samples', { type: 'number', default: 1, describe: 'completions per item (needs --temperature > 0): adds unbiased pass@k for k = 1, 2, 4, … and this number' })
    .option('batch-size', { type: 'number', default: 64, describe: 'rows per generation batch (items × samples)' })
    .option('backend', { choices: ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const, default: 'auto' as const })
    .option('data-dir', { type: 'string', describe: 'data directory (default: $DIFFRL_DATA_DIR, else the repository data/ folder)' })
    .option('test-file', { type: 'string', describe: "evaluate on this file (the task's test-file format: .csv or .jsonl) instead of the test set, e.g. a held-out generated set" })
    .option('out', { type: 'string', describe: 'results base path (default <checkpoint>/eval/<task>-<n>-seed<seed>[-samples<k>])' })
    .option('l2d-steps', { type: 'string', describe: 'L2D checkpoint: ODE steps per token, a comma list (e.g. 1,2,4,8,16); prints the scaling table with the base LM (0 steps)' })
    .option('l2d-method', { choices: ['euler', 'midpoint'] as const, describe: "L2D: the ODE solver (default: the checkpoint's, midpoint)" })
    .strict()
    .fail(failOneLine('yarn eval'))
    .help()
    .parse();
  // Flags, checkpoint, test set and prompt lengths, before the compute backend loads or anything is written.
  checkNumbers(argv, {
    subset: { int: true, min: 1 }, seed: { int: true, min: 0 }, 'gen-length': { int: true, min: 1 }, 'block-length': { int: true, min: 1 },
    steps: { int: true, min: 1 }, temperature: { min: 0 }, threshold: { gt: 0, max: 1 }, 'batch-size': { int: true, min: 1 }, samples: { int: true, min: 1 },
  });
  refuseForeignFlags(argv, argv.sampler as SamplerName | undefined, FAST_FLAG_SAMPLERS);
  // ReMDM samples from its nucleus whatever the temperature; every other sampler is deterministic at temperature 0.
  if (argv.samples > 1 && !(argv.temperature! > 0) && argv.sampler !== 'remdm') {
    throw new ConfigError(`--samples ${argv.samples} draws ${argv.samples} completions per item: it needs --temperature > 0 (greedy decoding gives ${argv.samples} copies of one)`);
  }
  const fast = fastSamplerArgs(argv);
  const dataDir = resolveDataDir(argv['data-dir']);
  const sampler = { sampler: argv.sampler, gen_length: argv['gen-length'], block_length: argv['block-length'], steps: argv.steps };
  const { dir, config: ckptConfig } = validateEvalRun({ checkpoint: argv.checkpoint, task: argv.task as EvalTask, subset: argv.subset ?? null, seed: argv.seed, dataDir, testFile: argv['test-file'], sampler });
  const l2dSteps = argv['l2d-steps']?.split(',').map((x) => Number(x.trim()));
  if (l2dSteps?.some((n) => !Number.isInteger(n) || n < 0)) throw new ConfigError(`--l2d-steps must be a comma list of integers >= 0, got '${argv['l2d-steps']}'`);
  const isL2d = (ckptConfig as Record<string, unknown>).l2d !== undefined;
  if ((l2dSteps || argv['l2d-method']) && !isL2d) throw new ConfigError(`--l2d-steps and --l2d-method need an L2D checkpoint (yarn train:l2d); ${dir} is not one`);
  const leftToRight = isL2d || (ckptConfig as Record<string, unknown>).causal === true;
  if (leftToRight && argv.samples > 1) throw new ConfigError(`--samples is for diffusion checkpoints; ${dir} decodes left to right (L2D or causal)`);
  const [{ setupBackend }, { loadModel }, { evaluate, writeEvalResults }] = await Promise.all([
    import('../backend/backend.ts'), import('../checkpoint/load_model.ts'), import('../eval/evaluate.ts'),
  ]);
  const logger = createLogger();
  await setupBackend(argv.backend as BackendName, (msg, fields) => logger.info(fields, msg));
  if (leftToRight) {
    refuseDiffusionFlags(['sampler', 'block-length', 'steps', 'threshold', ...Object.keys(FAST_SAMPLER_OPTIONS)], dir);
    const { evalLeftToRight } = await import('../l2d/eval_cli.ts'); // causal base or L2D: left to right with a KV cache
    return evalLeftToRight(dir, argv, { dataDir, steps: l2dSteps ?? null, method: argv['l2d-method'] ?? null }, logger);
  }
  const model = loadModel(dir);
  // A progress bar on a TTY, log lines otherwise.
  const bar = process.stderr.isTTY ? new cliProgress.SingleBar({ format: `eval ${argv.task} |{bar}| {value}/{total} items | ETA {eta_formatted}`, stream: process.stderr }, cliProgress.Presets.shades_classic) : null;
  const { summary, items } = await evaluate(model, {
    task: argv.task as EvalTask,
    subset: argv.subset ?? null,
    seed: argv.seed,
    parser: argv.parser as EvalParser,
    dataDir,
    testFile: argv['test-file'],
    batch_size: argv['batch-size'],
    samples: argv.samples,
    sampler: { sampler: argv.sampler, gen_length: argv['gen-length'], block_length: argv['block-length'], steps: argv.steps, temperature: argv.temperature, threshold: argv.threshold, ...fast },
    onProgress: (done, total) => {
      if (!bar) return logger.info({ done, total }, 'eval progress');
      if (done <= argv['batch-size']) bar.start(total, 0);
      bar.update(done);
    },
  });
  bar?.stop();
  const base = argv.out ?? path.join(dir, 'eval', `${argv.task}-${summary.n}-seed${argv.seed}${argv.samples > 1 ? `-samples${argv.samples}` : ''}`);
  writeEvalResults(base, summary, items);
  process.stdout.write(JSON.stringify({ ...summary, results: `${base}.jsonl` }) + '\n');
  model.dispose();
});
