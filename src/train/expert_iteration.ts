/**
 * Expert iteration (rejection-sampling fine-tuning; ReST-EM, Singh et al. 2023; STaR, Zelikman et al. 2022), one
 * round, as `yarn train:ei`:
 *
 *   pool    = pool_size new generated problems (seed pool_seed + run.seed; none in the test file or `exclude`)
 *   samples = `samples` completions of each from model.init_from at `temperature` (LLaDA decoding, eval/evaluate.ts)
 *   kept    = every distinct completion the task's checker scores right (verifiedAnswers)
 *   SFT     = train/trainer.ts from model.init_from on the config's labels + kept, nothing else changed
 *
 * The reward is only a filter: the update is SFT on the policy's own right answers, at SFT's learning rate. A second
 * round is a second run from the first's checkpoint (the study's `start:`) with another pool_seed.
 *
 * Files in <run.output_dir>/ei/: pool.<csv|jsonl> (the problems, in the task's test-file format), samples.jsonl (every
 * sampled completion, scored, as `yarn eval --samples` writes it), verified.jsonl (the kept rows, in the training
 * rows' format) and ei.json (what they were made from, and the counts). A run that finds ei.json made from the same
 * inputs reuses them; `--resume` continues the SFT exactly.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { EiConfig } from '../config/ei_schema.ts';
import { readCsv, readJsonl, resolveDataDir } from '../data/index.ts';
import { ConfigError } from '../errors.ts';
import { evaluateArithmetic } from '../rewards/arithmetic.ts';
import { generateRows, writeHeldOut } from '../tasks/generate.ts';
import { countdownFields, formatExample, type TaskName } from '../tokenizer/templates.ts';
import type { Example } from './dataset.ts';

type Row = Record<string, unknown>;
export type EiTask = 'sudoku' | 'countdown' | 'arithmetic';

/** The eval task that reads a pool of each generated task (arithmetic problems are GSM8K-format). */
const EVAL_TASK = { sudoku: 'sudoku', countdown: 'countdown', arithmetic: 'gsm8k' } as const;

/** A problem's identity, for a generated row ({puzzle} / {numbers, target} / {question}) or a test-file row. */
export function problemKey(task: EiTask, row: Row): string {
  if (task === 'sudoku') return String(row.puzzle ?? row.Puzzle);
  if (task === 'countdown') {
    const { numbers, target } = countdownFields(row);
    return `${numbers.join(',')}|${target}`;
  }
  return String(row.question);
}

/**
 * The verified answers of a samples file (EvalItem rows, `yarn eval --samples`), distinct per pool index:
 * sudoku = the solution of a completion that solves the whole grid; countdown = the `<answer>` text of a right
 * completion; arithmetic = "{worked lines}\n#### {n}" of a right completion in the SFT template exactly whose every
 * line `a op b = c` is computed right (label-free, as the arithmetic_facts reward): a right answer under a miscomputed
 * line would teach the wrong fact. Returns them with how many right answers there were and how many of those were
 * dropped for a miscomputed (or malformed) line.
 */
export function verifiedAnswers(task: EiTask, samples: Row[]): { kept: Map<number, Set<string>>; right: number; wrongLine: number } {
  const kept = new Map<number, Set<string>>();
  let right = 0, wrongLine = 0;
  for (const r of samples) {
    if (r.summary !== undefined) continue;
    if (task === 'sudoku' ? r.solved !== true : Number(r.score) !== 1) continue;
    right++;
    const c = String(r.completion);
    let answer: string | null = null;
    if (task === 'sudoku') answer = String(r.gold);
    else if (task === 'countdown') answer = /^<answer>([^<]*)<\/answer>$/.exec(c.trim())?.[1] ?? null;
    else {
      const m = /^<reasoning>\n([\s\S]*?)\n<\/reasoning>\n<answer>\n(-?\d+)\n<\/answer>\n?$/.exec(c);
      if (!m) continue;
      const lines = m[1].split('\n').map((l) => /^(\d+) ([-+*/]) (\d+) = (-?\d+)$/.exec(l));
      if (!lines.every((l) => l !== null && evaluateArithmetic(`${l[1]}${l[2]}${l[3]}`) === Number(l[4]))) { wrongLine++; continue; }
      answer = `${m[1]}\n#### ${m[2]}`;
    }
    if (answer === null) continue;
    const i = Number(r.index);
    kept.set(i, (kept.get(i) ?? new Set<string>()).add(answer));
  }
  return { kept, right, wrongLine };
}

/** The kept answers as training rows (the format formatExample reads), pool order, then answer order. */
export function verifiedRows(task: EiTask, pool: Row[], kept: Map<number, Set<string>>): Row[] {
  return [...kept.entries()].sort((a, b) => a[0] - b[0]).flatMap(([i, answers]) => [...answers].map((a): Row => {
    if (task === 'sudoku') return { puzzle: pool[i].puzzle, solution: a };
    if (task === 'countdown') return { ...countdownFields(pool[i]), solution: a };
    return { question: pool[i].question, answer: a };
  }));
}

/** pool_size generated problems, none of them in `exclude`'s problems (the generator already skips the test file). */
export function generatePool(task: EiTask, seed: number, n: number, dataDir: string, exclude: Set<string>, opts: { countdownSigns: boolean; arithmeticSmall: boolean }): Row[] {
  const out: Row[] = [];
  for (let size = n + 64; out.length < n; size *= 2) {
    out.length = 0;
    const seen = new Set<string>(exclude);
    for (const r of generateRows(task, seed, size, dataDir, opts)) {
      const k = problemKey(task, r);
      if (seen.has(k)) continue; // excluded, or a repeat
      seen.add(k);
      out.push(r);
      if (out.length === n) break;
    }
    if (size > 64 * n + 1e6) throw new ConfigError(`expert_iteration.pool_size: the generator gave only ${out.length} new problems (of ${n})`);
  }
  return out;
}

function readProblems(file: string): Row[] {
  if (!fs.existsSync(file)) throw new ConfigError(`expert_iteration.exclude: ${file} does not exist`);
  return file.endsWith('.csv') ? readCsv(file) : readJsonl(file);
}

/** What a round needs beyond the schema (called before anything loads): returns the generated task. */
export function checkEiConfig(config: EiConfig): EiTask {
  const task = config.data.task;
  if (task !== 'sudoku' && task !== 'countdown' && task !== 'arithmetic') throw new ConfigError(`data.task: expert iteration generates its problems: sudoku, countdown or arithmetic (got '${task}')`);
  if (config.data.countdown_trace || config.data.countdown_ops) throw new ConfigError('data.countdown_trace / countdown_ops: expert iteration keeps answers only (use countdown_signs or plain answers)');
  if (!config.model.init_from) throw new ConfigError('model.init_from: expert iteration samples from a trained checkpoint; name it');
  for (const f of config.expert_iteration.exclude) if (!fs.existsSync(f)) throw new ConfigError(`expert_iteration.exclude: ${f} does not exist`);
  return task;
}

/**
 * Builds (or reuses) the round's verified rows and returns them as examples for the SFT. `sample` runs the sampling
 * (injected: the caller owns the model and backend).
 */
export async function verifiedExamples(
  config: EiConfig,
  sample: (poolFile: string, evalTask: 'sudoku' | 'countdown' | 'gsm8k') => Promise<Row[]>,
  logger: Logger,
): Promise<Example[]> {
  const e = config.expert_iteration;
  const task = checkEiConfig(config);
  const dir = path.join(config.run.output_dir, 'ei');
  const poolFile = path.join(dir, `pool.${task === 'sudoku' ? 'csv' : 'jsonl'}`);
  const made = JSON.stringify({ init_from: config.model.init_from, seed: config.run.seed, data: config.data, expert_iteration: e });
  const record = path.join(dir, 'ei.json');
  const verifiedFile = path.join(dir, 'verified.jsonl');
  const toExamples = (rows: Row[]) => rows.map((r) => formatExample(task as TaskName, r));
  if (fs.existsSync(record) && (JSON.parse(fs.readFileSync(record, 'utf8')) as { made: string }).made === made) {
    const rows = fs.statSync(verifiedFile).size > 0 ? readJsonl(verifiedFile) : [];
    logger.info({ verified: rows.length, file: verifiedFile }, 'expert iteration: reusing the verified completions');
    return toExamples(rows);
  }
  const dataDir = resolveDataDir(config.runtime.data_dir ?? undefined);
  const exclude = new Set(e.exclude.flatMap((f) => readProblems(f).map((r) => problemKey(task, r))));
  const pool = generatePool(task, e.pool_seed + config.run.seed, e.pool_size, dataDir, exclude, { countdownSigns: config.data.countdown_signs, arithmeticSmall: config.data.arithmetic_small });
  fs.mkdirSync(dir, { recursive: true });
  writeHeldOut(task, pool, poolFile);
  logger.info({ pool: pool.length, excluded: exclude.size, samples: e.samples, temperature: e.temperature }, 'expert iteration: sampling');
  const samples = await sample(poolFile, EVAL_TASK[task]);
  const { kept, right, wrongLine } = verifiedAnswers(task, samples);
  const rows = verifiedRows(task, pool, kept);
  fs.writeFileSync(verifiedFile, rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : ''));
  const counts = { problems: pool.length, samples: samples.length, right, dropped_wrong_line: wrongLine, solved_problems: kept.size, verified: rows.length };
  fs.writeFileSync(`${record}.tmp`, JSON.stringify({ made, ...counts }, null, 2));
  fs.renameSync(`${record}.tmp`, record); // written last: its presence means the files above are complete
  logger.info(counts, 'expert iteration: verified completions');
  return toExamples(rows);
}
