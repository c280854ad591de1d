/**
 * Evaluation of a model on a task's test set: deterministic subset by seed, batched generation, scoring with d1's
 * parsers or the lenient ones (`parser`), a summary (accuracy, 95% CI, n, seconds, NFE, the parser; Sudoku also the
 * solve rate) and per-item rows. Callable from the CLI (`yarn eval`) and from
 * training every N steps.
 */
import fs from 'node:fs';
import path from 'node:path';
import { tableFromArrays, tableToIPC } from 'apache-arrow';
import { Rng } from '../rng.ts';
import type { ModelConfig } from '../model/config.ts';
import type { Params } from '../model/model.ts';
import { modelDenoiser } from '../model/block_cache.ts';
import { cachedDecoder } from '../model/kv_cache.ts';
import { generate, generateAutoregressive, type GenerateOptions, type GenerateResult } from '../sampling/index.ts';
import type { Tokenizer } from '../tokenizer/index.ts';
import { yieldToEventLoop } from '../engine/step.ts';
import { meanInterval, passAtK, wilson } from './stats.ts';
import { loadEvalItems, taskSpec, type EvalParser, type EvalTask } from './tasks.ts';

export interface EvalOptions {
  task: EvalTask;
  /** Number of test items (null = all), drawn by a permutation seeded with `seed`. */
  subset: number | null;
  seed: number;
  /** Scorer for GSM8K, MATH500, Countdown and Sudoku (default d1's exact parsers); ignored by the code tasks. */
  parser?: EvalParser;
  dataDir: string;
  /** Evaluate on this file (the task's test-file format) instead of the task's test file, e.g. a held-out generated set. */
  testFile?: string | null;
  /** Rows per generation batch. */
  batch_size: number;
  /** Sampler settings; unset ones take the task's defaults (d1 eval: greedy, steps = gen_length / 2, block 32). */
  sampler: Partial<Omit<GenerateOptions, 'prompts' | 'maskId' | 'eosId' | 'padId' | 'rng' | 'num_generations'>>;
  /**
   * Completions per item (default 1). With S > 1 each item is sampled S times (needs a stochastic sampler), the rows
   * hold every sample, `accuracy` is the mean over all of them and the summary adds unbiased pass@k.
   */
  samples?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface EvalItem {
  index: number;
  prompt: string;
  completion: string;
  parsed: string | null;
  gold: string;
  /** 1/0 for exact tasks; a fraction for Sudoku cell accuracy and code tests passed. */
  score: number;
  /** Sudoku: every one of the 16 cells right. */
  solved?: boolean;
  /** Which of the item's samples this row is (only with `samples` > 1). */
  sample?: number;
}

export interface EvalSummary {
  task: EvalTask;
  accuracy: number;
  ci95: [number, number];
  n: number;
  seconds: number;
  nfe: number;
  /** Row-positions the model computed over all batches (GenerateResult.positions; 0 when the generator does not count them). */
  positions: number;
  sampler: string;
  gen_length: number;
  /** Which scorer produced the scores: `d1`, `lenient`, or `unit tests` (code tasks). */
  parser: EvalParser | 'unit tests';
  /** Sudoku: fraction of puzzles with the whole grid right, and its Wilson 95% CI. */
  solve_rate?: number;
  solve_ci95?: [number, number];
  /** With `samples` S > 1: S, and the mean over items of the unbiased pass@k (a sample passes when it scores 1: the
   * exact answer, every Sudoku cell, every unit test) for k = 1, 2, 4, … and S. */
  samples?: number;
  pass_at_k?: Record<string, number>;
}

/** Generation for a batch when the model brings its own (L2D, l2d/generate.ts); else the sampler options decide. */
export type GenerateFn = (o: GenerateOptions) => Promise<GenerateResult>;

export async function evaluate(model: { params: Params; cfg: ModelConfig; tokenizer: Tokenizer; generate?: GenerateFn }, o: EvalOptions): Promise<{ summary: EvalSummary; items: EvalItem[] }> {
  const spec = taskSpec(o.task);
  const parser = o.parser ?? 'd1';
  const all = loadEvalItems(o.task, o.dataDir, o.testFile);
  const order = new Rng(o.seed, 'eval-subset').permutation(all.length);
  const chosen = (o.subset === null ? order : order.slice(0, Math.min(o.subset, all.length))).sort((a, b) => a - b);
  const sampler = { ...spec.sampler, ...Object.fromEntries(Object.entries(o.sampler).filter(([, v]) => v !== undefined)) } as GenerateOptions;
  const rng = new Rng(o.seed, 'eval-sampling');
  const { cfg, tokenizer: tok } = model;
  const S = o.samples ?? 1;
  if (!Number.isInteger(S) || S < 1) throw new Error(`evaluate: samples must be an integer >= 1, got ${S}`);
  const perBatch = Math.max(1, Math.floor(o.batch_size / S)); // items per batch: batch_size rows in all
  const items: EvalItem[] = [];
  let nfe = 0;
  let positions = 0;
  const t0 = performance.now();
  for (let start = 0; start < chosen.length; start += perBatch) {
    await yieldToEventLoop();
    const idx = chosen.slice(start, start + perBatch);
    const prompts = idx.map((i) => spec.prompt(all[i]));
    // A causal model decodes left to right with its KV cache (the sampler's name and steps do not apply).
    const run: GenerateFn = model.generate ?? (cfg.causal ? (g) => generateAutoregressive(cachedDecoder(model.params, cfg), g) : (g) => generate(modelDenoiser(model.params, cfg), g));
    const out = await run({
      ...sampler,
      ...(S > 1 ? { num_generations: S } : {}), // row = item·S + sample
      prompts: prompts.map((p) => tok.encode(p)),
      maskId: cfg.mask_token_id,
      eosId: cfg.eos_token_id,
      padId: cfg.pad_token_id,
      rng,
    });
    nfe += out.nfe;
    positions += out.positions ?? 0;
    for (let j = 0; j < idx.length; j++) {
      for (let s = 0; s < S; s++) {
        const seq = out.sequences[j * S + s];
        const eos = seq.indexOf(cfg.eos_token_id);
        const completion = tok.decode(eos === -1 ? seq : seq.slice(0, eos), { skipSpecial: true });
        const { score, parsed, solved } = await spec.score(completion, all[idx[j]], parser);
        items.push({ index: idx[j], prompt: prompts[j], completion, parsed, gold: spec.gold(all[idx[j]]), score, ...(solved === undefined ? {} : { solved }), ...(S > 1 ? { sample: s } : {}) });
      }
    }
    o.onProgress?.(items.length / S, chosen.length);
  }
  const summary = summarizeItems(o.task, items, S, {
    seconds: (performance.now() - t0) / 1000, nfe, positions,
    sampler: model.generate || cfg.causal ? 'autoregressive' : sampler.sampler, gen_length: sampler.gen_length, parser: spec.d1 ? parser : 'unit tests',
  });
  return { summary, items };
}

/**
 * The summary of scored rows (S per item, item by item): accuracy, the CI over items, Sudoku's solve rate, and with
 * S > 1 the unbiased pass@k. `meta`: how they were made (also used to merge the rows of several evaluations).
 */
export function summarizeItems(task: EvalTask, items: EvalItem[], S: number, meta: Pick<EvalSummary, 'seconds' | 'nfe' | 'positions' | 'sampler' | 'gen_length' | 'parser'>): EvalSummary {
  const scores = items.map((i) => i.score);
  // Rows item by item (S each); the CIs are over items, since the samples of one item are correlated.
  const byItem = Array.from({ length: items.length / S }, (_, j) => items.slice(j * S, (j + 1) * S));
  const meanOf = (rows: EvalItem[], f: (i: EvalItem) => number) => rows.reduce((a, i) => a + f(i), 0) / rows.length;
  const perItem = byItem.map((rows) => meanOf(rows, (i) => i.score)); // its score when S = 1
  const summary: EvalSummary = {
    task,
    accuracy: scores.reduce((a, b) => a + b, 0) / Math.max(scores.length, 1),
    ci95: meanInterval(perItem),
    n: perItem.length,
    ...meta,
  };
  if (task === 'sudoku') {
    // d1 reports cell accuracy pooled over cells (Σcorrect / Σempty): the item mean here, since every puzzle of its test file has 8 empty cells.
    const solved = items.filter((i) => i.solved).length;
    summary.solve_rate = solved / Math.max(items.length, 1);
    summary.solve_ci95 = S === 1 ? wilson(solved, items.length) : meanInterval(byItem.map((rows) => meanOf(rows, (i) => (i.solved ? 1 : 0))));
  }
  if (S > 1) {
    const passes = byItem.map((rows) => rows.filter((i) => i.score === 1).length);
    const ks = [...new Set([...Array.from({ length: Math.floor(Math.log2(S)) + 1 }, (_, e) => 2 ** e), S])];
    summary.samples = S;
    summary.pass_at_k = Object.fromEntries(ks.map((k) => [String(k), passes.reduce((a, c) => a + passAtK(S, c, k), 0) / Math.max(passes.length, 1)]));
  }
  return summary;
}

/** Writes `<base>.jsonl` (summary line first, then one row per item) and `<base>.arrow` (the item rows). */
export function writeEvalResults(base: string, summary: EvalSummary, items: EvalItem[]): void {
  fs.mkdirSync(path.dirname(base), { recursive: true });
  fs.writeFileSync(`${base}.jsonl`, [JSON.stringify({ summary }), ...items.map((i) => JSON.stringify(i))].join('\n') + '\n');
  const table = tableFromArrays({
    index: Int32Array.from(items, (i) => i.index),
    prompt: items.map((i) => i.prompt),
    completion: items.map((i) => i.completion),
    parsed: items.map((i) => i.parsed ?? ''),
    gold: items.map((i) => i.gold),
    score: Float64Array.from(items, (i) => i.score),
    parser: items.map(() => summary.parser),
    ...(summary.task === 'sudoku' ? { solved: items.map((i) => i.solved === true) } : {}),
    ...(summary.samples ? { sample: Int32Array.from(items, (i) => i.sample ?? 0) } : {}),
  });
  fs.writeFileSync(`${base}.arrow`, tableToIPC(table, 'file'));
}
