/**
 * `yarn bench:sample --checkpoint DIR [--task sudoku] [--n 128] [--gen-length N] [--only eb,prophet]`: every sampler
 * (and the block-cache variants) side by side on one checkpoint and the same test items, in one run. For Sudoku the
 * items are d1's 4x4_test_sudoku.csv, prompted with `formatPrompt('sudoku', row)` and scored by cell accuracy on the
 * empty cells (src/eval, via `evaluate`).
 * One JSON line per sampler: NFE per generated token (model calls per batch / gen_length), positions per generated
 * token (row-positions the model computed / (items × gen_length): finished rows are skipped and a cached call runs only
 * its window), wall time per sample, task accuracy with its 95% CI, then the process's peak RSS so far and
 * tf.memory().numTensors after the sampler ran.
 */
import * as tf from '@tensorflow/tfjs';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { setupBackend, type BackendName } from '../src/backend/backend.ts';
import { ConfigError } from '../src/errors.ts';
import { runMain } from '../src/cli/common.ts';
import { resolveDataDir } from '../src/data/index.ts';
import { evaluate } from '../src/eval/evaluate.ts';
import { taskSpec } from '../src/eval/tasks.ts';
import { BENCH_OPTIONS } from './bench_options.ts';
import { resolveCheckpoint } from '../src/checkpoint/resolve.ts';
import { loadModel } from '../src/checkpoint/load_model.ts';
import type { GenerateOptions } from '../src/sampling/index.ts';
import { createLogger } from '../src/engine/run_log.ts';

type Variant = { name: string; options: Partial<GenerateOptions> };

/** The samplers compared, for generation length L (one block of L unless --block-length). */
function variants(L: number, blocks: number): Variant[] {
  const half = Math.max(blocks, Math.round(L / 2 / blocks) * blocks); // steps must be a multiple of the block count
  // one block: the dual cache has no suffix to cache and equals the prefix cache
  const caches = blocks > 1 ? (['prefix', 'dual'] as const) : (['prefix'] as const);
  return [
    { name: 'llada steps=L', options: { sampler: 'llada', steps: L } },
    { name: `llada steps=${half}`, options: { sampler: 'llada', steps: half } },
    { name: 'dus', options: { sampler: 'dus' } },
    { name: 'threshold 0.9', options: { sampler: 'threshold', threshold: 0.9 } },
    { name: 'threshold 0.7', options: { sampler: 'threshold', threshold: 0.7 } },
    ...caches.map((cache): Variant => ({ name: `llada steps=L cache=${cache}`, options: { sampler: 'llada', steps: L, cache } })),
    ...caches.map((cache): Variant => ({ name: `threshold 0.9 cache=${cache}`, options: { sampler: 'threshold', threshold: 0.9, cache } })),
    { name: 'threshold 0.5 cache=prefix', options: { sampler: 'threshold', threshold: 0.5, cache: 'prefix' } },
    ...[0.1, 0.5, 1, 2].map((gamma): Variant => ({ name: `eb gamma=${gamma}`, options: { sampler: 'eb', gamma } })),
    ...[1, 1.2, 1.5].map((gamma): Variant => ({ name: `eb gamma=${gamma} cache=prefix`, options: { sampler: 'eb', gamma, cache: 'prefix' } })),
    { name: 'prophet steps=L', options: { sampler: 'prophet', steps: L } },
    { name: `prophet steps=${half}`, options: { sampler: 'prophet', steps: half } },
    { name: 'prophet steps=L gaps=5,3,1.5', options: { sampler: 'prophet', steps: L, prophet_gaps: [5, 3, 1.5] } },
    ...([[4, 3, 2], [3, 2.5, 2], [2, 1.5, 1]] as const).map((g): Variant => ({ name: `prophet steps=L gaps=${g.join(',')}`, options: { sampler: 'prophet', steps: L, prophet_gaps: [...g] } })),
    { name: 'remdm cap steps=2L', options: { sampler: 'remdm', steps: 2 * L, remdm_strategy: 'cap' } },
  ];
}

runMain(async () => {
  const argv = await yargs(hideBin(process.argv))
    .scriptName('yarn bench:sample')
    .usage('$0 --checkpoint DIR [--task sudoku] [--n 128] [--gen-length N]')
    .options(BENCH_OPTIONS)
    .option('gen-length', { type: 'number', describe: "generated tokens (default: the task's, 17 for sudoku)" })
    .option('block-length', { type: 'number', describe: 'semi-AR block size (default gen_length)' })
    .option('only', { type: 'string', describe: 'comma list: run only the variants whose name contains one of these' })
    .strict()
    .help()
    .parse();
  if (!argv.checkpoint) {
    throw new ConfigError('bench:sample needs --checkpoint DIR (a checkpoint or run dir); make one with `yarn train:sft --config configs/sudoku-sft.yaml`');
  }
  if (!Number.isInteger(argv.n) || argv.n < 1) throw new ConfigError(`--n (${argv.n}) must be an integer >= 1`);
  const dir = resolveCheckpoint(argv.checkpoint); // a bad path fails before any backend logging
  const logger = createLogger();
  const info = await setupBackend(argv.backend as BackendName, (msg, fields) => logger.info(fields, msg));
  const dataDir = resolveDataDir(argv['data-dir']);
  const model = loadModel(dir);
  try {
    const L = argv['gen-length'] ?? taskSpec(argv.task).sampler.gen_length;
    const B = argv['block-length'] ?? L;
    if (!(L % B === 0)) throw new ConfigError(`--gen-length (${L}) must be a multiple of --block-length (${B})`);
    const only = argv.only?.split(',').map((x) => x.trim()).filter(Boolean) ?? null;
    for (const v of variants(L, L / B).filter((x) => only === null || only.some((o) => x.name.includes(o)))) {
      const { summary } = await evaluate(model, {
        task: argv.task,
        subset: argv.n,
        seed: argv.seed,
        parser: 'lenient', // the compact Sudoku template (bare digits); the README's sampler table was scored so
        dataDir,
        batch_size: argv['batch-size'],
        sampler: { gen_length: L, block_length: B, temperature: 0, ...v.options },
      });
      const batches = Math.ceil(summary.n / argv['batch-size']);
      const line = {
        bench: 'sample',
        task: argv.task,
        checkpoint: model.dir,
        sampler: v.name,
        backend: info.backend,
        n: summary.n,
        gen_length: L,
        block_length: B,
        nfe_per_token: round(summary.nfe / batches / L, 3),
        positions_per_token: round(summary.positions / summary.n / L, 2),
        ms_per_sample: round((1000 * summary.seconds) / summary.n, 1),
        accuracy: round(summary.accuracy, 4),
        ci95: summary.ci95.map((x) => round(x, 4)),
        peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024), // maxRSS is in KiB
        num_tensors: tf.memory().numTensors,
      };
      process.stdout.write(JSON.stringify(line) + '\n');
    }
  } finally {
    model.dispose();
  }
});

function round(x: number, digits: number): number {
  return Number(x.toFixed(digits));
}
