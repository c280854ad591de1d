/**
 * `yarn bench:sample --checkpoint DIR [--task sudoku] [--n 128]`: every sampler side by side on one checkpoint and
 * one test subset. One JSON line per sampler: NFE per generated token, wall time per sample, task accuracy (95% CI),
 * peak RSS and tf.memory() tensors.
 */
import * as tf from '@tensorflow/tfjs';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { setupBackend, type BackendName } from '../src/backend/backend.ts';
import { resolveDataDir } from '../src/data/index.ts';
import { evaluate } from '../src/eval/evaluate.ts';
import { EVAL_TASKS, taskSpec, type EvalTask } from '../src/eval/tasks.ts';
import { loadModel } from '../src/model/load.ts';

const argv = await yargs(hideBin(process.argv))
  .option('checkpoint', { type: 'string', describe: 'checkpoint or run dir; `yarn train:sft --config configs/sudoku-sft.yaml` makes one' })
  .option('task', { choices: EVAL_TASKS, default: 'sudoku' as EvalTask })
  .option('n', { type: 'number', default: 128, describe: 'test items' })
  .option('gen-length', { type: 'number', describe: "default: the task's" })
  .option('backend', { choices: ['auto', 'wasm', 'cpu', 'tensorflow', 'tensorflow-gpu'] as const, default: 'auto' as const })
  .strict()
  .parse();
if (!argv.checkpoint) {
  process.stderr.write('bench:sample needs --checkpoint (train one with `yarn train:sft --config configs/sudoku-sft.yaml`)\n');
  process.exit(1);
}
const info = await setupBackend(argv.backend as BackendName);
const model = loadModel(argv.checkpoint);
const L = argv['gen-length'] ?? taskSpec(argv.task).sampler.gen_length;
const variants = [
  { name: 'llada steps=L', sampler: { sampler: 'llada' as const, steps: L } },
  { name: 'llada steps=L/2', sampler: { sampler: 'llada' as const, steps: Math.ceil(L / 2) } },
  { name: 'dus', sampler: { sampler: 'dus' as const } },
  { name: 'threshold 0.9', sampler: { sampler: 'threshold' as const, threshold: 0.9 } },
  { name: 'remdm cap steps=2L', sampler: { sampler: 'remdm' as const, steps: 2 * L, remdm_strategy: 'cap' as const } },
];
let peak = process.memoryUsage().rss;
for (const v of variants) {
  const t0 = performance.now();
  const { summary } = await evaluate(model, {
    task: argv.task, subset: argv.n, seed: 0, dataDir: resolveDataDir(), batch_size: 64,
    sampler: { gen_length: L, block_length: L, temperature: 0, ...v.sampler },
  });
  const seconds = (performance.now() - t0) / 1000;
  peak = Math.max(peak, process.memoryUsage().rss);
  const batches = Math.ceil(summary.n / 64);
  console.log(JSON.stringify({
    bench: 'sample', task: argv.task, sampler: v.name, backend: info.backend, n: summary.n, gen_length: L,
    nfe_per_token: summary.nfe / batches / L, ms_per_sample: (1000 * seconds) / summary.n,
    accuracy: summary.accuracy, ci95: summary.ci95, peak_rss_mb: Math.round(peak / 2 ** 20), num_tensors: tf.memory().numTensors,
  }));
}
model.dispose();
