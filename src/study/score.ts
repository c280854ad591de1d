/**
 * One greedy evaluation of one checkpoint (a study's selection or test evaluation), in this thread or in a worker
 * thread (study/eval_worker.ts): on the embedded backend each thread computes on one core, so a study scores two
 * checkpoints at a time on two cores.
 */
import * as tf from '@tensorflow/tfjs';
import { setupBackend, type BackendName } from '../backend/backend.ts';
import { loadModel } from '../checkpoint/load_model.ts';
import { evaluate, writeEvalResults, type EvalSummary } from '../eval/evaluate.ts';
import type { EvalSpec } from './plan.ts';

export interface ScoreJob {
  /** The backend the thread sets up (the main thread's). */
  backend: BackendName;
  dir: string;
  spec: EvalSpec;
  /** A generated held-out file instead of the task's test file. */
  testFile: string | null;
  dataDir: string;
  /** Where to write the per-item results (`<base>.jsonl` / `.arrow`); null = keep only the summary. */
  base: string | null;
}

export interface Scored {
  summary: EvalSummary;
  scores: number[];
}

export async function scoreCheckpoint(job: ScoreJob): Promise<Scored> {
  await setupBackend(job.backend);
  const e = job.spec;
  const model = loadModel(job.dir);
  try {
    const r = await evaluate(model, {
      task: e.task, subset: e.subset, seed: 0, parser: e.parser, dataDir: job.dataDir, testFile: job.testFile, batch_size: 64,
      sampler: { sampler: 'llada', gen_length: e.gen_length, block_length: e.block_length, steps: e.steps, temperature: 0 },
    });
    if (job.base) writeEvalResults(job.base, r.summary, r.items);
    return { summary: r.summary, scores: r.items.map((i) => i.score) };
  } finally {
    model.dispose();
  }
}

/** The backend name to hand to worker threads: the one this thread runs. */
export async function currentBackend(): Promise<BackendName> {
  await tf.ready(); // a thread that never chose one gets tfjs's default
  return tf.getBackend() as BackendName;
}
