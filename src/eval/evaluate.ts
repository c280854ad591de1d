/**
 * Evaluation of a model on a task's test set: deterministic subset by seed, batched generation, scoring with d1's
 * parsing, a summary (accuracy, 95% CI, n, seconds, NFE) and per-item rows. Callable from the CLI (`yarn eval`) and from
 * training every N steps.
 */
import fs from 'node:fs';
import path from 'node:path';
import { tableFromArrays, tableToIPC } from 'apache-arrow';
import { Rng } from '../backend/rng.ts';
import type { ModelConfig } from '../model/config.ts';
import { forward, type Params } from '../model/model.ts';
import { generate, type GenerateOptions } from '../sampling/index.ts';
import type { Tokenizer } from '../tokenizer/index.ts';
import { meanInterval } from './stats.ts';
import { taskSpec, type EvalTask } from './tasks.ts';

export interface EvalOptions {
  task: EvalTask;
  /** Number of test items (null = all), drawn by a permutation seeded with `seed`. */
  subset: number | null;
  seed: number;
  dataDir: string;
  /** Rows per generation batch. */
  batch_size: number;
  /** Sampler settings; unset ones take the task's defaults (d1 eval: greedy, steps = gen_length / 2, block 32). */
  sampler: Partial<Omit<GenerateOptions, 'prompts' | 'maskId' | 'eosId' | 'padId' | 'rng' | 'num_generations'>>;
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
}

export interface EvalSummary {
  task: EvalTask;
  accuracy: number;
  ci95: [number, number];
  n: number;
  seconds: number;
  nfe: number;
  sampler: string;
  gen_length: number;
}

export async function evaluate(model: { params: Params; cfg: ModelConfig; tokenizer: Tokenizer }, o: EvalOptions): Promise<{ summary: EvalSummary; items: EvalItem[] }> {
  const spec = taskSpec(o.task);
  const all = spec.load(o.dataDir);
  const order = new Rng(o.seed, 'eval-subset').permutation(all.length);
  const chosen = (o.subset === null ? order : order.slice(0, Math.min(o.subset, all.length))).sort((a, b) => a - b);
  const sampler = { ...spec.sampler, ...Object.fromEntries(Object.entries(o.sampler).filter(([, v]) => v !== undefined)) } as GenerateOptions;
  const rng = new Rng(o.seed, 'eval-sampling');
  const { cfg, tokenizer: tok } = model;
  const items: EvalItem[] = [];
  let nfe = 0;
  const t0 = performance.now();
  for (let start = 0; start < chosen.length; start += o.batch_size) {
    const idx = chosen.slice(start, start + o.batch_size);
    const prompts = idx.map((i) => spec.prompt(all[i]));
    const out = await generate((ids, mask) => forward(model.params, cfg, ids, mask), {
      ...sampler,
      prompts: prompts.map((p) => tok.encode(p)),
      maskId: cfg.mask_token_id,
      eosId: cfg.eos_token_id,
      padId: cfg.pad_token_id,
      rng,
    });
    nfe += out.nfe;
    for (let j = 0; j < idx.length; j++) {
      const seq = out.sequences[j];
      const eos = seq.indexOf(cfg.eos_token_id);
      const completion = tok.decode(eos === -1 ? seq : seq.slice(0, eos), { skipSpecial: true });
      const { score, parsed } = await spec.score(completion, all[idx[j]]);
      items.push({ index: idx[j], prompt: prompts[j], completion, parsed, gold: spec.gold(all[idx[j]]), score });
    }
    o.onProgress?.(items.length, chosen.length);
  }
  const scores = items.map((i) => i.score);
  const summary: EvalSummary = {
    task: o.task,
    accuracy: scores.reduce((a, b) => a + b, 0) / Math.max(scores.length, 1),
    ci95: meanInterval(scores),
    n: items.length,
    seconds: (performance.now() - t0) / 1000,
    nfe,
    sampler: sampler.sampler,
    gen_length: sampler.gen_length,
  };
  return { summary, items };
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
  });
  fs.writeFileSync(`${base}.arrow`, tableToIPC(table, 'file'));
}
