/** The quickstart pipeline as a function (the CLI and a fast test both call it). */
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Logger } from 'pino';
import { readLatest } from '../checkpoint/checkpoint.ts';
import { loadConfig } from '../config/load.ts';
import { grpoConfigSchema, trainConfigSchema } from '../config/schema.ts';
import { resolveDataDir } from '../data/index.ts';
import { evaluate, writeEvalResults, type EvalSummary } from '../eval/evaluate.ts';
import { loadModel } from '../model/load.ts';
import { trainGrpo } from '../rl/grpo_trainer.ts';
import { rewardSourceFromConfig } from '../rl/reward_source.ts';
import { train } from '../train/trainer.ts';
import { createLogger } from '../train/run_log.ts';

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
  /** Mean paired difference (GRPO − SFT) over the same items and its 95% CI. */
  gain: number;
  gainCi95: [number, number];
  table: string;
  seconds: { sft: number; grpo: number; eval: number };
}

export async function runQuickstart(o: QuickstartOptions): Promise<QuickstartResult> {
  const logger = o.logger ?? createLogger();
  const sftDir = path.join(o.outDir, 'sft');
  const grpoDir = path.join(o.outDir, 'grpo');
  const sftCfg = loadConfig(`configs/${o.task}-sft.yaml`, trainConfigSchema, [`run.output_dir=${sftDir}`, ...(o.setSft ?? [])]).config;
  const grpoLoaded = loadConfig(`configs/${o.task}-grpo.yaml`, grpoConfigSchema, [`run.output_dir=${grpoDir}`, `init_from=${sftDir}`, ...(o.setGrpo ?? [])]);
  const grpoCfg = grpoLoaded.config;

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
    const r = await trainGrpo(grpoCfg, { logger, rewardSource, resume: readLatest(grpoDir) !== null });
    tf.dispose(Object.values(r.params));
  }
  const t2 = performance.now();

  logger.info({ subset: o.subset }, 'stage 3/3: evaluating both checkpoints on the d1 test set');
  const dataDir = resolveDataDir(sftCfg.runtime.data_dir ?? undefined);
  const results: Awaited<ReturnType<typeof evaluate>>[] = [];
  for (const [label, dir] of [['SFT', sftDir], ['SFT + diffu-GRPO', grpoDir]] as const) {
    const model = loadModel(dir);
    const out = await evaluate(model, {
      task: o.task, subset: o.subset, seed: 0, dataDir, batch_size: 64,
      sampler: { gen_length: grpoCfg.sampler.gen_length, block_length: grpoCfg.sampler.block_length },
      onProgress: (done, total) => logger.debug({ label, done, total }, 'eval'),
    });
    model.dispose();
    writeEvalResults(path.join(o.outDir, 'eval', label === 'SFT' ? 'sft' : 'grpo'), out.summary, out.items);
    results.push(out);
  }
  const t3 = performance.now();
  const diffs = results[1].items.map((it, i) => it.score - results[0].items[i].score);
  const gain = diffs.reduce((a, b) => a + b, 0) / diffs.length;
  const sd = Math.sqrt(diffs.reduce((a, d) => a + (d - gain) ** 2, 0) / Math.max(diffs.length - 1, 1));
  const half = (1.96 * sd) / Math.sqrt(diffs.length);
  const gainCi95: [number, number] = [gain - half, gain + half];
  const [sft, grpo] = results.map((r) => r.summary);
  const metric = o.task === 'sudoku' ? 'cell accuracy' : 'accuracy';
  const pct = (x: number) => (100 * x).toFixed(1);
  const row = (name: string, s: EvalSummary) => `| ${name.padEnd(17)} | ${pct(s.accuracy).padStart(5)}% | [${pct(s.ci95[0])}, ${pct(s.ci95[1])}] |`;
  const table = [
    `${o.task}: ${metric} on ${sft.n} items of d1's test set (greedy, ${sft.sampler}, gen_length ${sft.gen_length})`,
    `| model             | ${metric.padEnd(6)} | 95% CI        |`,
    `|-------------------|--------|---------------|`,
    row('SFT', sft),
    row('SFT + diffu-GRPO', grpo),
    `gain ${gain >= 0 ? '+' : ''}${pct(gain)} points, paired 95% CI [${pct(gainCi95[0])}, ${pct(gainCi95[1])}]${gainCi95[0] > 0 ? ' (outside the CI of zero: a real gain)' : ' (not significant)'}`,
    `time: SFT ${((t1 - t0) / 1000).toFixed(0)} s, diffu-GRPO ${((t2 - t1) / 1000).toFixed(0)} s, eval ${((t3 - t2) / 1000).toFixed(0)} s`,
  ].join('\n');
  const result: QuickstartResult = { sft, grpo, gain, gainCi95, table, seconds: { sft: (t1 - t0) / 1000, grpo: (t2 - t1) / 1000, eval: (t3 - t2) / 1000 } };
  fs.writeFileSync(path.join(o.outDir, 'results.json'), JSON.stringify({ ...result, table: undefined }, null, 2));
  return result;
}

/** A run is finished when its latest checkpoint is at max_steps. */
function finished(runDir: string, maxSteps: number): boolean {
  const latest = readLatest(runDir);
  if (!latest) return false;
  const state = path.join(runDir, latest, 'trainer_state.json');
  return fs.existsSync(state) && (JSON.parse(fs.readFileSync(state, 'utf8')) as { step: number }).step >= maxSteps;
}
