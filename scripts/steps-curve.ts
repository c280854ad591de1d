/**
 * `yarn bench:steps --checkpoint DIR [--task sudoku] [--n 128] [--multipliers 1,2,3,4] [--only 'llada,remdm cap']`: task accuracy
 * against the number of denoising steps, from gen_length L to 4L, for LLaDA's low-confidence sampler and ReMDM's
 * schedules (issue 14, item 5: does remasking turn extra steps into accuracy?). Every variant runs on the same test
 * items (`evaluate`, lenient parser). One JSON line per (variant, steps), then a markdown table: rows = variants,
 * columns = steps.
 *
 * Variants (top_p 0.9 = ReMDM's default nucleus; top_p 1e-6 keeps only the top token, i.e. greedy tokens):
 *   llada                      low-confidence order, greedy tokens (steps > L only adds calls that commit nothing)
 *   llada random order         LLaDA with remasking: random (which positions: uniform; tokens: greedy)
 *   mdlm                       ReMDM with η = 0: MDLM's ancestral sampler (random positions, sampled tokens)
 *   remdm cap                  the bench:sample default (η_cap 0.008)
 *   remdm cap η=0.04           the ReMDM paper's T < L setting; more re-masking
 *   remdm conf                 re-masks low-confidence tokens first
 *   remdm loop                 MDLM to α_on = 0.9, a remasking loop at constant α, then MDLM to the end
 *   remdm cap greedy tokens    cap η 0.008 with top_p 1e-6
 *   … confidence order         remdm_order: confidence (the posterior's number of unmasks, most probable positions first)
 */
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

const GREEDY_TOP_P = 1e-6;

const VARIANTS: { name: string; options: Partial<GenerateOptions> }[] = [
  { name: 'llada', options: { sampler: 'llada' } },
  { name: 'llada random order', options: { sampler: 'llada', remasking: 'random' } },
  { name: 'mdlm', options: { sampler: 'remdm', remdm_strategy: 'cap', eta: 0 } },
  { name: 'remdm cap', options: { sampler: 'remdm', remdm_strategy: 'cap' } },
  { name: 'remdm cap η=0.04', options: { sampler: 'remdm', remdm_strategy: 'cap', eta: 0.04 } },
  { name: 'remdm conf', options: { sampler: 'remdm', remdm_strategy: 'conf' } },
  { name: 'remdm loop', options: { sampler: 'remdm', remdm_strategy: 'loop' } },
  { name: 'mdlm greedy tokens', options: { sampler: 'remdm', remdm_strategy: 'cap', eta: 0, top_p: GREEDY_TOP_P } },
  { name: 'remdm cap greedy tokens', options: { sampler: 'remdm', remdm_strategy: 'cap', top_p: GREEDY_TOP_P } },
  { name: 'mdlm confidence order greedy tokens', options: { sampler: 'remdm', remdm_strategy: 'cap', eta: 0, top_p: GREEDY_TOP_P, remdm_order: 'confidence' } },
  { name: 'remdm cap confidence order greedy tokens', options: { sampler: 'remdm', remdm_strategy: 'cap', top_p: GREEDY_TOP_P, remdm_order: 'confidence' } },
  { name: 'remdm cap η=0.04 confidence order greedy tokens', options: { sampler: 'remdm', remdm_strategy: 'cap', eta: 0.04, top_p: GREEDY_TOP_P, remdm_order: 'confidence' } },
  { name: 'remdm conf confidence order greedy tokens', options: { sampler: 'remdm', remdm_strategy: 'conf', top_p: GREEDY_TOP_P, remdm_order: 'confidence' } },
];

runMain(async () => {
  const argv = await yargs(hideBin(process.argv))
    .scriptName('yarn bench:steps')
    .usage('$0 --checkpoint DIR [--task sudoku] [--n 128] [--multipliers 1,2,3,4] [--only "llada,remdm cap"]')
    .options(BENCH_OPTIONS)
    .option('multipliers', { type: 'string', default: '1,2,3,4', describe: 'steps = m × gen_length for each m' })
    .option('only', { type: 'string', describe: 'comma list of variant names to run (default all)' })
    .strict()
    .help()
    .parse();
  if (!argv.checkpoint) throw new ConfigError('bench:steps needs --checkpoint DIR (a checkpoint or run dir)');
  const mult = argv.multipliers.split(',').map((x) => Number(x.trim()));
  if (!mult.every((m) => Number.isInteger(m) && m >= 1)) throw new ConfigError(`--multipliers must be a comma list of integers >= 1, got '${argv.multipliers}'`);
  const only = argv.only?.split(',').map((x) => x.trim()).filter(Boolean) ?? null;
  const dir = resolveCheckpoint(argv.checkpoint);
  const logger = createLogger();
  await setupBackend(argv.backend as BackendName, (msg, fields) => logger.info(fields, msg));
  const dataDir = resolveDataDir(argv['data-dir']);
  const model = loadModel(dir);
  const L = taskSpec(argv.task).sampler.gen_length;
  const table = new Map<string, string[]>();
  try {
    for (const v of VARIANTS.filter((x) => only === null || only.some((o) => x.name === o))) {
      for (const m of mult) {
        const { summary } = await evaluate(model, {
          task: argv.task, subset: argv.n, seed: argv.seed, parser: 'lenient', dataDir, batch_size: argv['batch-size'],
          sampler: { gen_length: L, block_length: L, temperature: 0, steps: m * L, ...v.options },
        });
        const batches = Math.ceil(summary.n / argv['batch-size']);
        const line = { bench: 'steps', variant: v.name, steps: m * L, nfe_per_token: round(summary.nfe / batches / L, 3), accuracy: round(summary.accuracy, 4), ci95: summary.ci95.map((x) => round(x, 4)), solve_rate: summary.solve_rate, seconds: round(summary.seconds, 1) };
        process.stdout.write(JSON.stringify(line) + '\n');
        table.set(v.name, [...(table.get(v.name) ?? []), `${(100 * summary.accuracy).toFixed(1)}`]);
      }
    }
  } finally {
    model.dispose();
  }
  process.stdout.write(`\n| ${argv.task}, n ${argv.n}, accuracy % | ${mult.map((m) => `steps ${m * L}`).join(' | ')} |\n|---|${mult.map(() => '---').join('|')}|\n`);
  for (const [name, accs] of table) process.stdout.write(`| ${name} | ${accs.join(' | ')} |\n`);
});

function round(x: number, digits: number): number {
  return Number(x.toFixed(digits));
}
