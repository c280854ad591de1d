/**
 * What `yarn report` reads from a run directory (README "See training"):
 *   <run>/metrics.jsonl                     one JSON object per logged step (engine/run_log.ts): every numeric key a curve
 *   eval results (eval/evaluate.ts writeEvalResults: `<base>.jsonl`, summary line first, then one row per item), found
 *     <run>/eval/*.jsonl, <run>/<checkpoint>/eval/*.jsonl (where `yarn eval` writes them), and
 *     <run>/../eval/<run name>[-<schedule>].jsonl (where `yarn quickstart` writes them for its sft and grpo runs)
 *   <run>/rollouts.arrow                    GRPO's sampled rollouts (rl/rollout_log.ts)
 *   <run>/traces/*.jsonl                    `yarn sample --trace` files kept with the run (more with `--trace FILE`)
 * A directory with none of these is refused with its name.
 */
import fs from 'node:fs';
import path from 'node:path';
import { readArrow } from '../data/index.ts';
import { DataError } from '../errors.ts';
import type { ReportGain } from './report_data.ts';

/** One line of metrics.jsonl: the step and every numeric value logged with it. */
export type MetricsRow = Record<string, number>;

export interface EvalResult {
  /** Matches the same evaluation across runs: the file name with the run's own name cut off (`sft-standard` -> `standard`). */
  key: string;
  file: string;
  summary: { task: string; accuracy: number; ci95: [number, number]; n: number; sampler?: string; gen_length?: number; parser?: string; solve_rate?: number; solve_ci95?: [number, number]; nfe?: number };
  /** Per-item scores by test-set index (for paired gains). */
  scores: Map<number, number>;
}

export interface TraceStep {
  step: number;
  block: number;
  nfe: number;
  /** Decoded rows ([MASK] shown as `_` for character vocabularies). */
  text: string[];
}

export interface Trace {
  file: string;
  steps: TraceStep[];
}

export interface RunData {
  /** The directory as given on the command line. */
  dir: string;
  /** Short label: the directory's last one or two path parts. */
  name: string;
  metrics: MetricsRow[];
  evals: EvalResult[];
  rollouts: Record<string, string | number | null>[];
  traces: Trace[];
}

/** Reads one JSON-lines file; a bad line is a DataError naming file:line. */
export function readJsonLines(file: string): unknown[] {
  return fs.readFileSync(file, 'utf8').split('\n').flatMap((line, i) => {
    if (line.trim() === '') return [];
    try {
      return [JSON.parse(line)];
    } catch (e) {
      throw new DataError(`${file}:${i + 1}: not valid JSON (${(e as Error).message})`);
    }
  });
}

export function readMetrics(file: string): MetricsRow[] {
  if (!fs.existsSync(file)) return [];
  return readJsonLines(file).map((obj, i) => {
    const row: MetricsRow = {};
    for (const [k, v] of Object.entries(obj as Record<string, unknown>)) if (typeof v === 'number' && Number.isFinite(v)) row[k] = v;
    if (row.step === undefined) throw new DataError(`${file}:${i + 1}: metrics line has no numeric 'step'`);
    return row;
  });
}

function readEval(file: string, key: string): EvalResult {
  const [head, ...items] = readJsonLines(file) as Record<string, unknown>[];
  const summary = head?.summary as EvalResult['summary'] | undefined;
  if (!summary || typeof summary.accuracy !== 'number' || !Array.isArray(summary.ci95)) {
    throw new DataError(`${file}:1: expected {"summary": {"accuracy", "ci95", ...}} (eval results of yarn eval / yarn quickstart)`);
  }
  const scores = new Map<number, number>();
  for (const it of items) if (typeof it.index === 'number' && typeof it.score === 'number') scores.set(it.index, it.score);
  return { key, file, summary, scores };
}

/** Eval result files of a run, each with its cross-run key. */
function findEvals(dir: string): { file: string; key: string }[] {
  const found: { file: string; key: string }[] = [];
  const jsonlIn = (d: string) => (fs.existsSync(d) ? fs.readdirSync(d).filter((f) => f.endsWith('.jsonl')).sort() : []);
  for (const f of jsonlIn(path.join(dir, 'eval'))) found.push({ file: path.join(dir, 'eval', f), key: f.replace(/\.jsonl$/, '') });
  for (const sub of fs.readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory() && d.name !== 'eval' && d.name !== 'traces').map((d) => d.name).sort()) {
    for (const f of jsonlIn(path.join(dir, sub, 'eval'))) found.push({ file: path.join(dir, sub, 'eval', f), key: `${f.replace(/\.jsonl$/, '')}` });
  }
  const name = path.basename(path.resolve(dir));
  for (const f of jsonlIn(path.join(dir, '..', 'eval'))) {
    const stem = f.replace(/\.jsonl$/, '');
    if (stem === name) found.push({ file: path.join(dir, '..', 'eval', f), key: 'eval' });
    else if (stem.startsWith(`${name}-`)) found.push({ file: path.join(dir, '..', 'eval', f), key: stem.slice(name.length + 1) });
  }
  return found;
}

/** A `yarn sample --trace` file: {step, block, nfe, text} per line. */
export function readTrace(file: string): Trace {
  const steps = readJsonLines(file).map((obj, i) => {
    const s = obj as Partial<TraceStep>;
    if (typeof s.step !== 'number' || !Array.isArray(s.text)) throw new DataError(`${file}:${i + 1}: expected a yarn sample --trace line {step, block, nfe, text: [...]}`);
    return { step: s.step, block: s.block ?? 0, nfe: s.nfe ?? s.step, text: s.text };
  });
  return { file, steps };
}

function runName(dir: string): string {
  const parts = path.resolve(dir).split(path.sep).filter(Boolean);
  return parts.slice(-2).join('/');
}

/** Everything the report shows of one run directory. */
export function loadRun(dir: string): RunData {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new DataError(`${dir}: run directory not found`);
  const metrics = readMetrics(path.join(dir, 'metrics.jsonl'));
  const evals = findEvals(dir).map(({ file, key }) => readEval(file, key));
  const rolloutFile = path.join(dir, 'rollouts.arrow');
  const rollouts = fs.existsSync(rolloutFile) ? (readArrow(rolloutFile) as RunData['rollouts']) : [];
  const traceDir = path.join(dir, 'traces');
  const traces = fs.existsSync(traceDir) ? fs.readdirSync(traceDir).filter((f) => f.endsWith('.jsonl')).sort().map((f) => readTrace(path.join(traceDir, f))) : [];
  if (metrics.length === 0 && evals.length === 0 && rollouts.length === 0 && traces.length === 0) {
    throw new DataError(`${dir}: nothing to report (no metrics.jsonl, eval results, rollouts.arrow or traces/*.jsonl)`);
  }
  return { dir, name: runName(dir), metrics, evals, rollouts, traces };
}

/**
 * For two runs, the paired gain of every evaluation both have (same key, task and items): mean of b − a over the
 * shared items, with a normal 95% CI of that mean (mean ± 1.96·sd/√n), as `yarn quickstart` reports it.
 */
export function pairedGains(a: RunData, b: RunData): ReportGain[] {
  const out: ReportGain[] = [];
  for (const ea of a.evals) {
    const eb = b.evals.find((e) => e.key === ea.key && e.summary.task === ea.summary.task);
    if (!eb) continue;
    const diffs = [...ea.scores].filter(([i]) => eb.scores.has(i)).map(([i, s]) => eb.scores.get(i)! - s);
    const n = diffs.length;
    if (n === 0) continue;
    const gain = diffs.reduce((x, y) => x + y, 0) / n;
    const sd = n > 1 ? Math.sqrt(diffs.reduce((x, d) => x + (d - gain) ** 2, 0) / (n - 1)) : 0;
    const half = (1.96 * sd) / Math.sqrt(n);
    out.push({ key: ea.key, task: ea.summary.task, a: a.name, b: b.name, n, gain, ci95: [gain - half, gain + half] });
  }
  return out;
}
