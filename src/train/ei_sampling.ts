/**
 * Expert iteration's sampling (train/expert_iteration.ts step 2): `samples` completions of every pool problem from
 * model.init_from, scored by the eval task's checker; `yarn eval --samples` in-process. On the embedded backend with
 * training.workers > 1 (or auto on 2 cores) the pool is split into W contiguous parts sampled in W worker threads (one
 * core each), part k with seed run.seed + k: the samples then depend on W, as SFT's data-parallel sums do.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { BackendName } from '../backend/backend.ts';
import { runInThread } from '../backend/threads.ts';
import type { EiConfig } from '../config/ei_schema.ts';
import { resolveWorkers } from '../engine/parallel.ts';
import { summarizeItems, writeEvalResults, type EvalItem, type EvalOptions, type EvalSummary } from '../eval/evaluate.ts';

/** What one thread samples: a pool file, from a checkpoint, with the round's settings. */
export interface SampleJob {
  backend: BackendName;
  checkpoint: string;
  eval: Omit<EvalOptions, 'onProgress'>;
}

export async function sampleJob(job: SampleJob, onProgress?: EvalOptions['onProgress']): Promise<{ summary: EvalSummary; items: EvalItem[] }> {
  const [{ setupBackend }, { loadModel }, { evaluate }] = await Promise.all([import('../backend/backend.ts'), import('../checkpoint/load_model.ts'), import('../eval/evaluate.ts')]);
  await setupBackend(job.backend);
  const model = loadModel(job.checkpoint);
  try {
    return await evaluate(model, { ...job.eval, onProgress });
  } finally {
    model.dispose();
  }
}

/** Samples and scores the pool; writes <pool dir>/samples.jsonl (+ .arrow) and returns its rows. */
export async function samplePool(config: EiConfig, backend: BackendName, poolFile: string, task: EvalOptions['task'], dataDir: string, logger: Logger): Promise<EvalItem[]> {
  const e = config.expert_iteration;
  const job = (file: string, seed: number): SampleJob => ({
    backend, checkpoint: config.model.init_from!,
    eval: { task, subset: null, seed, parser: e.parser, dataDir, testFile: file, batch_size: e.batch_size, samples: e.samples,
      sampler: { sampler: 'llada', gen_length: e.gen_length, block_length: e.block_length, steps: e.steps, temperature: e.temperature } },
  });
  const W = resolveWorkers(config.training.workers, { key: 'expert_iteration.pool_size', n: e.pool_size, share: 'pool_size / workers problems to sample' }, backend);
  const t0 = performance.now();
  let summary: EvalSummary;
  let items: EvalItem[];
  if (W === 1) {
    ({ summary, items } = await sampleJob(job(poolFile, config.run.seed), (done, total) => logger.info({ done, total }, 'expert iteration: sampling progress')));
  } else {
    // Contiguous parts in the pool file's format (a CSV keeps its header); part k's item i is pool item k·n/W + i.
    const lines = fs.readFileSync(poolFile, 'utf8').trim().split('\n');
    const header = poolFile.endsWith('.csv') ? [lines.shift()!] : [];
    const n = lines.length / W;
    const parts = Array.from({ length: W }, (_, k) => {
      const file = path.join(path.dirname(poolFile), `part${k}${path.extname(poolFile)}`);
      fs.writeFileSync(file, [...header, ...lines.slice(k * n, (k + 1) * n)].join('\n') + '\n');
      return file;
    });
    logger.info({ workers: W, problems_each: n }, 'expert iteration: sampling in worker threads');
    // Progress: each thread reports its part's problems done; logged as the pool's total, as in one thread.
    const done = new Array<number>(W).fill(0);
    const progress = (k: number) => (p: unknown) => {
      done[k] = (p as { done: number }).done;
      logger.info({ done: done.reduce((a, b) => a + b, 0), total: e.pool_size }, 'expert iteration: sampling progress');
    };
    const out = await Promise.all(parts.map((f, k) => runInThread<{ summary: EvalSummary; items: EvalItem[] }>(new URL('./ei_sample_worker.ts', import.meta.url), job(f, config.run.seed + k), progress(k))));
    parts.forEach((f) => fs.rmSync(f));
    items = out.flatMap((o, k) => o.items.map((i) => ({ ...i, index: i.index + k * n })));
    const sum = (f: (s: EvalSummary) => number) => out.reduce((a, o) => a + f(o.summary), 0);
    const s0 = out[0].summary;
    summary = summarizeItems(task, items, e.samples, { seconds: (performance.now() - t0) / 1000, nfe: sum((s) => s.nfe), positions: sum((s) => s.positions), sampler: s0.sampler, gen_length: s0.gen_length, parser: s0.parser });
  }
  writeEvalResults(path.join(path.dirname(poolFile), 'samples'), summary, items);
  logger.info({ accuracy: +summary.accuracy.toFixed(4), pass_at_k: summary.pass_at_k, seconds: Math.round(summary.seconds) }, 'expert iteration: samples scored');
  return items;
}
