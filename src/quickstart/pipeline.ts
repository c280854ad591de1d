/** The quickstart pipeline as a function (the CLI and a fast test both call it). */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Logger } from 'pino';
import { setupBackend, type BackendName } from '../backend/backend.ts';
import { runInThread } from '../backend/threads.ts';
import { latestStep, readLatest } from '../checkpoint/resolve.ts';
import { loadConfig } from '../config/load.ts';
import { grpoConfigSchema, trainConfigSchema } from '../config/schema.ts';
import { resolveDataDir } from '../data/index.ts';
import { evaluate, writeEvalResults, type EvalSummary } from '../eval/evaluate.ts';
import { pairedDifference } from '../eval/stats.ts';
import type { SamplerName } from '../sampling/index.ts';
import { loadModel } from '../checkpoint/load_model.ts';
import { trainGrpo } from '../rl/grpo_trainer.ts';
import { rewardSourceFromConfig } from '../rewards/registry.ts';
import { periodicEval } from '../eval/periodic.ts';
import { train } from '../train/trainer.ts';
import { createLogger } from '../engine/run_log.ts';
import { QUICKSTART_CONFIGS } from './configs.ts';

export interface QuickstartOptions {
  task: 'sudoku' | 'countdown';
  outDir: string;
  setSft?: string[];
  setGrpo?: string[];
  subset: number;
  logger?: Logger;
}

export interface QuickstartResult {
  sft: EvalSummary;
  grpo: EvalSummary;
  /** Headline comparison (the rollout sampler's schedule): mean paired difference (GRPO − SFT) and its 95% CI. */
  gain: number;
  gainCi95: [number, number];
  /** Every decoding schedule evaluated (the rollout schedule first). */
  comparisons: Comparison[];
  table: string;
  seconds: { sft: number; grpo: number; eval: number };
}

export async function runQuickstart(o: QuickstartOptions): Promise<QuickstartResult> {
  const logger = o.logger ?? createLogger();
  const sftDir = path.join(o.outDir, 'sft');
  const grpoDir = path.join(o.outDir, 'grpo');
  const sftCfg = loadConfig(QUICKSTART_CONFIGS[o.task].sft, trainConfigSchema, [`run.output_dir=${sftDir}`, ...(o.setSft ?? [])]).config;
  const grpoLoaded = loadConfig(QUICKSTART_CONFIGS[o.task].grpo, grpoConfigSchema, [`run.output_dir=${grpoDir}`, `init_from=${sftDir}`, ...(o.setGrpo ?? [])]);
  const grpoCfg = grpoLoaded.config;

  const backend = await setupBackend(sftCfg.runtime.backend, (msg, fields) => logger.info(fields, msg));
  const t0 = performance.now();
  if (finished(sftDir, sftCfg.training.max_steps)) logger.info({ dir: sftDir }, 'stage 1/3 SFT: reusing the finished run');
  else {
    logger.info({ steps: sftCfg.training.max_steps }, 'stage 1/3: SFT');
    const r = await train(sftCfg, { logger, resume: readLatest(sftDir) !== null });
    tf.dispose(Object.values(r.params));
  }
  const t1 = performance.now();
  if (finished(grpoDir, grpoCfg.training.max_steps)) logger.info({ dir: grpoDir }, 'stage 2/3 diffu-GRPO: reusing the finished run');
  else {
    logger.info({ steps: grpoCfg.training.max_steps }, 'stage 2/3: diffu-GRPO');
    const rewardSource = await rewardSourceFromConfig(grpoCfg.rewards, path.dirname(grpoLoaded.path));
    const r = await trainGrpo(grpoCfg, { logger, rewardSource, resume: readLatest(grpoDir) !== null, evaluate: periodicEval(grpoCfg.eval, grpoCfg.sampler, resolveDataDir(grpoCfg.runtime.data_dir)) });
    tf.dispose(Object.values(r.params));
  }
  const t2 = performance.now();

  logger.info({ subset: o.subset }, 'stage 3/3: evaluating both checkpoints on the d1 test set');
  const gs = grpoCfg.sampler;
  // Headline: greedy decoding with the rollout sampler's schedule (what diffu-GRPO optimised). Also: the task's
  // standard greedy decoding (one token per step), when that is a different schedule.
  const standardSteps = gs.gen_length;
  const schedules = [{ key: 'rollout', steps: gs.steps ?? Math.floor(gs.gen_length / 2) }];
  if (schedules[0].steps !== standardSteps) schedules.push({ key: 'standard', steps: standardSteps });
  const jobs = ([['sft', sftDir], ['grpo', grpoDir]] as const).map(([label, dir]): EvalJob => ({
    backend: backend.backend as BackendName, label, dir, task: o.task, subset: o.subset, dataDir: resolveDataDir(sftCfg.runtime.data_dir ?? undefined),
    sampler: { name: gs.name, gen_length: gs.gen_length, block_length: gs.block_length }, schedules, outDir: o.outDir,
  }));
  // The two checkpoints are independent: on the embedded backend (one core per thread) evaluate them side by side.
  const parallel = (backend.backend === 'wasm' || backend.backend === 'cpu') && os.availableParallelism() >= 2;
  const [sftEval, grpoEval] = parallel
    ? await Promise.all(jobs.map((job) => runInThread<CheckpointEval[]>(new URL('./eval_worker.ts', import.meta.url), job)))
    : [await evaluateCheckpoint(jobs[0]), await evaluateCheckpoint(jobs[1])];
  const comparisons = schedules.map((sch, i) => compare(sftEval[i], grpoEval[i], sch.steps));
  const t3 = performance.now();
  const metric = o.task === 'sudoku' ? 'cell accuracy' : 'accuracy';
  const pct = (x: number) => (100 * x).toFixed(1);
  const sudoku = o.task === 'sudoku';
  const lines = [`${o.task}: ${metric}${sudoku ? ' and solve rate (whole grid right)' : ''} on ${comparisons[0].sft.n} items of d1's test set, greedy ${gs.name} decoding, gen_length ${gs.gen_length}, scored with the ${QUICKSTART_PARSER} parser`];
  lines.push(`| model             | decoding steps | ${metric} | 95% CI         |${sudoku ? ' solve rate |' : ''}`, `|-------------------|----------------|${'-'.repeat(metric.length + 2)}|----------------|${sudoku ? '------------|' : ''}`);
  for (const c of comparisons) {
    for (const [name, e] of [['SFT', c.sft], ['SFT + diffu-GRPO', c.grpo]] as const) {
      const solve = sudoku ? ` ${(pct(e.solve_rate ?? 0) + '%').padStart(10)} |` : '';
      lines.push(`| ${name.padEnd(17)} | ${String(c.steps).padStart(14)} | ${(pct(e.accuracy) + '%').padStart(metric.length)} | [${pct(e.ci95[0])}, ${pct(e.ci95[1])}]${' '.repeat(Math.max(0, 14 - `[${pct(e.ci95[0])}, ${pct(e.ci95[1])}]`.length))} |${solve}`);
    }
  }
  for (const c of comparisons) {
    const verdict = c.gainCi95[0] > 0 ? (c.gain > halfWidth(c.sft) ? 'larger than the CI of either accuracy' : 'paired CI excludes 0')
      : c.gainCi95[1] < 0 ? 'a loss: the paired CI is below 0' : 'not significant';
    lines.push(`gain with ${c.steps}-step decoding: ${c.gain >= 0 ? '+' : ''}${pct(c.gain)} points, paired 95% CI [${pct(c.gainCi95[0])}, ${pct(c.gainCi95[1])}] (${verdict})`);
  }
  lines.push(`time: SFT ${((t1 - t0) / 1000).toFixed(0)} s, diffu-GRPO ${((t2 - t1) / 1000).toFixed(0)} s, eval ${((t3 - t2) / 1000).toFixed(0)} s`);
  const table = lines.join('\n');
  const head = comparisons[0];
  const result: QuickstartResult = {
    sft: head.sft, grpo: head.grpo, gain: head.gain, gainCi95: head.gainCi95, comparisons, table,
    seconds: { sft: (t1 - t0) / 1000, grpo: (t2 - t1) / 1000, eval: (t3 - t2) / 1000 },
  };
  fs.writeFileSync(path.join(o.outDir, 'results.json'), JSON.stringify({ ...result, table: undefined }, null, 2));
  return result;
}

/**
 * The quickstart scores with the lenient parser: its Sudoku model answers with the compact template (16 digits, no
 * <answer> tags), which d1's parser reads only when the completion holds a run of exactly 16 digits (its last
 * pattern), scoring every other output 0 where lenient pads or cuts to 16 digits; for Countdown, d1's parser expects
 * \boxed{} (d1's eval prompt), which the project's <answer> format never has. README "Evaluation".
 */
export const QUICKSTART_PARSER = 'lenient' as const;

export interface Comparison {
  steps: number;
  sft: EvalSummary;
  grpo: EvalSummary;
  /** Mean paired difference (GRPO − SFT) over the same items and its 95% CI. */
  gain: number;
  gainCi95: [number, number];
}

/** One decoding schedule's evaluation of a checkpoint: the summary and each item's score. */
export interface CheckpointEval {
  summary: EvalSummary;
  scores: number[];
}

export interface EvalJob {
  backend: BackendName;
  label: 'sft' | 'grpo';
  dir: string;
  task: 'sudoku' | 'countdown';
  subset: number;
  dataDir: string;
  sampler: { name: SamplerName; gen_length: number; block_length: number };
  schedules: { key: string; steps: number }[];
  outDir: string;
}

/** Greedy evaluation of one checkpoint with each schedule; writes eval/<label>[-<schedule>].{jsonl,arrow}. */
export async function evaluateCheckpoint(job: EvalJob): Promise<CheckpointEval[]> {
  await setupBackend(job.backend);
  const model = loadModel(job.dir);
  const out: CheckpointEval[] = [];
  try {
    for (const sch of job.schedules) {
      const r = await evaluate(model, {
        task: job.task, subset: job.subset, seed: 0, parser: QUICKSTART_PARSER, dataDir: job.dataDir, batch_size: 64,
        sampler: { sampler: job.sampler.name, gen_length: job.sampler.gen_length, block_length: job.sampler.block_length, steps: sch.steps, temperature: 0 },
      });
      writeEvalResults(path.join(job.outDir, 'eval', sch.key === 'rollout' ? job.label : `${job.label}-${sch.key}`), r.summary, r.items);
      out.push({ summary: r.summary, scores: r.items.map((it) => it.score) });
    }
  } finally {
    model.dispose();
  }
  return out;
}

function compare(a: CheckpointEval, b: CheckpointEval, steps: number): Comparison {
  const { mean, ci95 } = pairedDifference(a.scores, b.scores);
  return { steps, sft: a.summary, grpo: b.summary, gain: mean, gainCi95: ci95 };
}

const halfWidth = (s: EvalSummary) => (s.ci95[1] - s.ci95[0]) / 2;

/** A run is finished when its latest checkpoint is at max_steps. */
const finished = (runDir: string, maxSteps: number): boolean => latestStep(runDir) >= maxSteps;
