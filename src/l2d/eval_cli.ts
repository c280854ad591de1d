/**
 * `yarn eval` on a causal checkpoint (left to right, KV cache) or an L2D checkpoint (the scaling table over
 * `--l2d-steps`, with the base LM's row). Called by cli/eval.ts after its input checks.
 */
import path from 'node:path';
import type { Logger } from 'pino';
import { setupBackend, type BackendName } from '../backend/backend.ts';
import { evaluate, writeEvalResults, type EvalOptions } from '../eval/evaluate.ts';
import type { EvalParser, EvalTask } from '../eval/tasks.ts';
import type { OdeMethod } from './ode.ts';
import { loadLeftToRight } from './generate.ts';
import { l2dScaling, scalingTable } from './scaling.ts';

export interface EvalFlags {
  task: string;
  subset?: number;
  seed: number;
  parser: string;
  backend: string;
  'batch-size': number;
  'gen-length'?: number;
  temperature?: number;
  'test-file'?: string;
  out?: string;
}

export async function evalLeftToRight(dir: string, argv: EvalFlags, o: { dataDir: string; steps: number[] | null; method: OdeMethod | null }, logger: Logger): Promise<void> {
  await setupBackend(argv.backend as BackendName, (msg, fields) => logger.info(fields, msg));
  const model = loadLeftToRight(dir);
  const opts: EvalOptions = {
    task: argv.task as EvalTask, subset: argv.subset ?? null, seed: argv.seed, parser: argv.parser as EvalParser, dataDir: o.dataDir,
    testFile: argv['test-file'], batch_size: argv['batch-size'], sampler: { gen_length: argv['gen-length'], temperature: argv.temperature },
    onProgress: (done, total) => logger.info({ done, total }, 'eval progress'),
  };
  const base = argv.out ?? path.join(model.dir, 'eval', `${argv.task}-${argv.subset ?? 'all'}-seed${argv.seed}`);
  try {
    if (model.ode === null) {
      const { summary, items } = await evaluate({ ...model, generate: (g) => model.generate(g) }, opts);
      writeEvalResults(base, summary, items);
      process.stdout.write(JSON.stringify({ ...summary, results: `${base}.jsonl` }) + '\n');
      return;
    }
    const steps = o.steps ?? [model.ode.steps];
    const rows = await l2dScaling(model, steps, o.method ?? model.ode.method, { ...opts, out: base }, (r) => {
      process.stdout.write(JSON.stringify({ l2d_steps: r.steps, method: r.method, ...r.summary, gain: r.gain, flow_passes_per_token: r.flow_passes_per_token, ms_per_token: r.ms_per_token }) + '\n');
    });
    process.stdout.write(`\n${argv.task}: ${model.dir}, ${rows[0].summary.n} items, greedy decoding, x̂₁ ${model.ode.x1_estimation}\n${scalingTable(rows)}\n`);
  } finally {
    model.dispose();
  }
}
