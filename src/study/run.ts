/**
 * Runs a study plan cell by cell, resumably: a finished training run is reused, an interrupted one resumes from its
 * latest checkpoint (`--resume`), and every evaluation is cached as a file next to the checkpoint it scored.
 *
 * Per cell: train (a child process running the ordinary `yarn train:sft|grpo` entry point, its arguments saved in
 * study.json) -> score every saved checkpoint on the generated held-out set -> take the best -> evaluate it once on
 * each of the plan's evals (the test file). Results: study/table.ts.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { ConfigError } from '../errors.ts';
import os from 'node:os';
import { runInThread } from '../backend/threads.ts';
import { averageCheckpoints } from '../checkpoint/average.ts';
import { latestStep, readLatest } from '../checkpoint/resolve.ts';
import type { EvalSummary } from '../eval/evaluate.ts';
import { generateRows, writeHeldOut } from '../tasks/generate.ts';
import { cells, loadCellConfig, trainerArgs, type Cell, type EvalSpec, type StudyPlan } from './plan.ts';
import { currentBackend, scoreCheckpoint, type ScoreJob, type Scored } from './score.ts';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const TSX_CLI = path.join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');

/** What the study records in each cell's folder (study.json). */
interface CellRecord {
  args: string[];
  /** Training wall-clock, summed over resumed segments. */
  seconds: number;
}

export interface CellResult {
  cell: Cell;
  maxSteps: number;
  /**
   * The selected checkpoint, its step and held-out score (`averaged`: the steps whose weights it averages, when the
   * average won), and the held-out curve of the single checkpoints.
   */
  selected: { dir: string; step: number; accuracy: number; averaged?: number[] };
  curve: { step: number; accuracy: number }[];
  /** The run's weight average (`average_last`) and its held-out score, whether or not it was selected. */
  average?: { dir: string; steps: number[]; accuracy: number };
  trainSeconds: number;
  evals: Record<string, Scored>;
}

export interface StudyOptions {
  plan: StudyPlan;
  dataDir: string;
  logger: Logger;
  /** Only cells whose id contains one of these strings (plus the SFT starts they need). */
  only?: string[];
  /** Called with the results so far after every cell (the CLI rewrites results.md, so a long grid shows progress). */
  onResult?: (results: CellResult[]) => void;
}

/** A cell whose trainer exited with an error: the study goes on with the cells that do not need it. */
export interface FailedCell {
  id: string;
  log: string;
}

class TrainerFailed extends Error {}

/** Runs (or reuses) every cell; returns the results in the plan's order, and the cells whose trainer failed. */
export async function runStudy(o: StudyOptions): Promise<{ results: CellResult[]; failed: FailedCell[] }> {
  const { plan, logger } = o;
  const all = cells(plan);
  // An --only value that is a whole cell id (seed1/sft) selects that cell alone; any other value, every id containing it.
  const ids = new Set(all.map((c) => c.id));
  const picks = (id: string) => o.only!.some((s) => (ids.has(s) ? id === s : id.includes(s)));
  // A picked cell brings the cells it starts from (its SFT run, and a method named by `start` with its own start).
  const wanted = all.filter((c) => !o.only?.length || picks(c.id));
  for (let i = 0; i < wanted.length; i++) {
    const start = all.find((c) => c.id === wanted[i].startId);
    if (start && !wanted.includes(start)) wanted.push(start);
  }
  // Every config loads (and so is checked) before any run starts.
  const maxSteps = new Map(all.map((c) => [c.id, configSteps(c)]));
  const sets = heldOutSets(plan, o.dataDir);
  const results: CellResult[] = [];
  const failed: FailedCell[] = [];
  const byId = new Map<string, CellResult>();
  for (const cell of all) {
    const from = cell.startId === null ? null : byId.get(cell.startId);
    if (from === undefined) continue; // its start is neither wanted nor done
    const start = from === null ? null : from.selected.dir;
    // Cells left out by --only still appear in the results when they are finished and scored (nothing is computed).
    if (!wanted.includes(cell) && !done(cell, start, maxSteps.get(cell.id)!, plan, sets)) continue;
    let seconds: number;
    try {
      seconds = await train(cell, start, maxSteps.get(cell.id)!, logger);
    } catch (e) {
      if (!(e instanceof TrainerFailed)) throw e;
      logger.error({ cell: cell.id, log: e.message }, 'study: the trainer failed; going on with the cells that do not need it');
      failed.push({ id: cell.id, log: e.message });
      continue;
    }
    const { selected, curve, average } = await select(cell, plan, sets, o.dataDir, logger);
    const evals = await testEvals(selected.dir, plan, sets, o.dataDir, logger);
    const r: CellResult = { cell, maxSteps: maxSteps.get(cell.id)!, selected, curve, ...(average ? { average } : {}), trainSeconds: seconds, evals };
    byId.set(cell.id, r);
    results.push(r);
    o.onResult?.(results);
  }
  return { results, failed };
}

/** A cell whose training finished with these arguments and whose every evaluation is cached (with the plan's settings). */
function done(cell: Cell, initFrom: string | null, maxSteps: number, plan: StudyPlan, sets: HeldOut): boolean {
  const recordFile = path.join(cell.dir, 'study.json');
  if (!fs.existsSync(recordFile) || latestStep(cell.dir) < maxSteps) return false;
  if (JSON.stringify((JSON.parse(fs.readFileSync(recordFile, 'utf8')) as CellRecord).args) !== JSON.stringify(trainerArgs(cell, initFrom))) return false;
  const ckpts = checkpoints(cell.dir);
  const avg = cell.spec.average_last ? averageOf(cell, ckpts) : null;
  if (avg) {
    if (!averageCurrent(avg)) return false;
    ckpts.push({ dir: avg.dir, step: Infinity });
  }
  if (!ckpts.every((c) => cachedSelect(c.dir, selectKey(plan, sets)) !== null)) return false;
  return ckpts.some((c) => plan.evals.every((e) => cachedTest(path.join(c.dir, 'test', e.name), evalKey(e, sets.evals[e.name] ?? null))));
}

/**
 * What a cached evaluation was computed with: the eval's settings and the name of the items' file. A cache written
 * with another key (the plan's eval changed) is stale and recomputed.
 */
function evalKey(e: EvalSpec, file: string | null): string {
  return JSON.stringify({ task: e.task, subset: e.subset, parser: e.parser, gen_length: e.gen_length, block_length: e.block_length, steps: e.steps, file: file ? path.basename(file) : null });
}

/** The selection's settings: the first eval's decoding on the whole held-out selection set. */
const selectSpec = (plan: StudyPlan): EvalSpec => ({ ...plan.evals[0], subset: null, generated: undefined });
const selectKey = (plan: StudyPlan, sets: HeldOut) => evalKey(selectSpec(plan), sets.select);

/** <checkpoint>/select.json: its held-out accuracy, when computed with `key`. */
function cachedSelect(dir: string, key: string): number | null {
  const file = path.join(dir, 'select.json');
  if (!fs.existsSync(file)) return null;
  const c = JSON.parse(fs.readFileSync(file, 'utf8')) as { accuracy: number; key?: string };
  return c.key === key ? c.accuracy : null;
}

/** <base>.jsonl (the results) and <base>.key (what they were computed with). */
function cachedTest(base: string, key: string): boolean {
  return fs.existsSync(`${base}.jsonl`) && fs.existsSync(`${base}.key`) && fs.readFileSync(`${base}.key`, 'utf8') === key;
}

function configSteps(cell: Cell): number {
  return loadCellConfig(cell).training.max_steps;
}

/** The generated held-out sets, written once into <out_dir>/heldout/ (a plan that changes them must use a new out_dir). */
interface HeldOut {
  select: string;
  /** Generated eval sets by eval name (evals on the test file have none). */
  evals: Record<string, string>;
}

function heldOutSets(plan: StudyPlan, dataDir: string): HeldOut {
  const dir = path.join(plan.out_dir, 'heldout');
  const ext = plan.task === 'sudoku' ? 'csv' : 'jsonl';
  const make = (name: string, g: { n: number; seed: number; arithmetic_small?: boolean }): string => {
    const file = path.join(dir, `${name}.${ext}`);
    const meta = path.join(dir, `${name}.json`);
    const want = JSON.stringify({ task: plan.task, ...g });
    if (fs.existsSync(meta) && fs.readFileSync(meta, 'utf8') !== want) {
      throw new ConfigError(`${plan.out_dir}: the held-out set '${name}' was generated as ${fs.readFileSync(meta, 'utf8')}, the plan now asks for ${want}: use a new out_dir`);
    }
    if (!fs.existsSync(file)) {
      writeHeldOut(plan.task, generateRows(plan.task, g.seed, g.n, dataDir, { arithmeticSmall: g.arithmetic_small }), file);
      fs.writeFileSync(meta, want);
    }
    return file;
  };
  const evals: Record<string, string> = {};
  for (const e of plan.evals) if (e.generated) evals[e.name] = make(`eval-${e.name}`, e.generated);
  return { select: make('select', plan.select), evals };
}

/** Trains a cell unless it is finished; resumes an interrupted run. Returns the training wall-clock (all segments). */
async function train(cell: Cell, initFrom: string | null, maxSteps: number, logger: Logger): Promise<number> {
  const args = trainerArgs(cell, initFrom);
  const recordFile = path.join(cell.dir, 'study.json');
  let record: CellRecord = { args, seconds: 0 };
  if (fs.existsSync(recordFile)) {
    record = JSON.parse(fs.readFileSync(recordFile, 'utf8')) as CellRecord;
    if (JSON.stringify(record.args) !== JSON.stringify(args)) {
      throw new ConfigError(`${cell.id}: ${cell.dir} was trained with other arguments (${recordFile}); restore the plan or delete that folder`);
    }
  } else if (fs.existsSync(cell.dir) && fs.readdirSync(cell.dir).length > 0) {
    throw new ConfigError(`${cell.id}: ${cell.dir} exists but was not made by this study (no study.json); delete it or change out_dir`);
  }
  if (latestStep(cell.dir) >= maxSteps) return record.seconds;
  const resume = readLatest(cell.dir) !== null;
  fs.mkdirSync(cell.dir, { recursive: true });
  fs.writeFileSync(recordFile, JSON.stringify(record, null, 2));
  const script = path.join(REPO_ROOT, 'src', 'cli', { sft: 'train.ts', grpo: 'train_grpo.ts', ei: 'train_ei.ts' }[cell.trainer]);
  const full = [...(cell.trainer === 'sft' ? ['--objective', 'sft'] : []), ...args, ...(resume ? ['--resume'] : [])];
  logger.info({ cell: cell.id, resume, command: `yarn train:${cell.trainer} ${args.join(' ')}` }, 'study: training');
  const t0 = performance.now();
  const log = fs.openSync(path.join(cell.dir, 'train.log'), 'a');
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn(process.execPath, [TSX_CLI, script, ...full], { stdio: ['ignore', log, log] });
    child.on('error', reject);
    child.on('exit', (c) => resolve(c ?? 1));
  });
  fs.closeSync(log);
  record.seconds += (performance.now() - t0) / 1000;
  fs.writeFileSync(recordFile, JSON.stringify(record, null, 2));
  if (code !== 0) throw new TrainerFailed(path.join(cell.dir, 'train.log'));
  return record.seconds;
}

/** The step-* checkpoints of a run, oldest first. */
function checkpoints(runDir: string): { dir: string; step: number }[] {
  return fs.readdirSync(runDir).filter((e) => /^step-\d+$/.test(e)).sort()
    .map((e) => ({ dir: path.join(runDir, e), step: Number(e.slice(5)) }));
}

/** `average_last`: where the cell's weight average lives and which checkpoints it averages (the last K saved). */
function averageOf(cell: Cell, ckpts: { dir: string; step: number }[]): { dir: string; sources: { dir: string; step: number }[] } {
  const k = cell.spec.average_last!;
  if (ckpts.length < k) throw new ConfigError(`${cell.id}: average_last is ${k} but ${cell.dir} holds ${ckpts.length} step-* checkpoint(s); save more often (save_every) or average fewer`);
  return { dir: path.join(cell.dir, 'average', `last${k}`), sources: ckpts.slice(-k) };
}

/** The average on disk was made from exactly these checkpoints (config.json's averaged_from). */
function averageCurrent(avg: ReturnType<typeof averageOf>): boolean {
  const file = path.join(avg.dir, 'config.json');
  if (!fs.existsSync(file)) return false;
  const from = (JSON.parse(fs.readFileSync(file, 'utf8')) as { averaged_from?: string[] }).averaged_from;
  const runDir = path.dirname(avg.dir);
  return JSON.stringify(from) === JSON.stringify(avg.sources.map((c) => path.relative(runDir, c.dir)));
}

/**
 * Scores every checkpoint of the cell (and its weight average, with `average_last`) on the held-out selection set
 * (cached per checkpoint); the best is selected (ties: the earliest checkpoint; the average wins only outright).
 */
async function select(cell: Cell, plan: StudyPlan, sets: HeldOut, dataDir: string, logger: Logger) {
  const all = checkpoints(cell.dir);
  if (all.length === 0) throw new ConfigError(`${cell.id}: ${cell.dir} holds no step-* checkpoint to select from`);
  const avg = cell.spec.average_last ? averageOf(cell, all) : null;
  if (avg && !averageCurrent(avg)) {
    await averageCheckpoints(avg.sources.map((c) => c.dir), path.dirname(avg.dir), path.basename(avg.dir)); // replaces a stale one whole
  }
  const candidates = avg ? [...all, { dir: avg.dir, step: Infinity }] : all;
  const key = selectKey(plan, sets);
  const todo = candidates.filter((c) => cachedSelect(c.dir, key) === null);
  const backend = await currentBackend();
  const scored = await scoreAll(todo.map((c) => ({ backend, dir: c.dir, spec: selectSpec(plan), testFile: sets.select, dataDir, base: null })));
  todo.forEach((c, i) => fs.writeFileSync(path.join(c.dir, 'select.json'), JSON.stringify({ accuracy: scored[i].summary.accuracy, key })));
  const curve = all.map((c) => ({ step: c.step, accuracy: cachedSelect(c.dir, key)! }));
  const best = curve.reduce((b, p) => (p.accuracy > b.accuracy ? p : b)); // ties: the earliest
  let selected: CellResult['selected'] = { dir: all.find((c) => c.step === best.step)!.dir, step: best.step, accuracy: best.accuracy };
  let average: CellResult['average'];
  if (avg) {
    average = { dir: avg.dir, steps: avg.sources.map((c) => c.step), accuracy: cachedSelect(avg.dir, key)! };
    if (average.accuracy > best.accuracy) selected = { dir: avg.dir, step: all[all.length - 1].step, accuracy: average.accuracy, averaged: average.steps };
  }
  fs.writeFileSync(path.join(cell.dir, 'select.jsonl'), curve.map((p) => JSON.stringify(p)).join('\n') + '\n');
  logger.info({ cell: cell.id, step: selected.step, ...(selected.averaged ? { averaged: selected.averaged } : {}), heldout: +selected.accuracy.toFixed(4) }, 'study: selected');
  return { selected, curve, average };
}

/** The plan's evaluations of the selected checkpoint, each cached in <checkpoint>/test/<eval name>.jsonl (+ .key). */
async function testEvals(dir: string, plan: StudyPlan, sets: HeldOut, dataDir: string, logger: Logger): Promise<Record<string, Scored>> {
  const base = (name: string) => path.join(dir, 'test', name);
  const key = (e: EvalSpec) => evalKey(e, sets.evals[e.name] ?? null);
  const todo = plan.evals.filter((e) => !cachedTest(base(e.name), key(e)));
  const backend = await currentBackend();
  await scoreAll(todo.map((e) => ({ backend, dir, spec: e, testFile: sets.evals[e.name] ?? null, dataDir, base: base(e.name) })));
  for (const e of todo) fs.writeFileSync(`${base(e.name)}.key`, key(e));
  const out: Record<string, Scored> = {};
  for (const e of plan.evals) out[e.name] = readScored(`${base(e.name)}.jsonl`);
  if (todo.length > 0) logger.info({ checkpoint: dir, ...Object.fromEntries(todo.map((e) => [e.name, +out[e.name].summary.accuracy.toFixed(4)])) }, 'study: evaluated');
  return out;
}

/**
 * Runs evaluation jobs, in order of the list: on the embedded backend (one core per thread) two at a time in worker
 * threads when there are two cores; otherwise (tfjs-node uses every core already) one after another in this thread.
 */
async function scoreAll(jobs: ScoreJob[]): Promise<Scored[]> {
  const threads = jobs.length > 0 && ['wasm', 'cpu'].includes(jobs[0].backend) ? Math.min(2, os.availableParallelism(), jobs.length) : 1;
  if (threads <= 1) {
    const out: Scored[] = [];
    for (const j of jobs) out.push(await scoreCheckpoint(j));
    return out;
  }
  const out: Scored[] = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < jobs.length; i = next++) out[i] = await runInThread<Scored>(new URL('./eval_worker.ts', import.meta.url), jobs[i]);
  };
  await Promise.all(Array.from({ length: threads }, worker));
  return out;
}

function readScored(file: string): Scored {
  const lines = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { summary?: EvalSummary; score?: number });
  return { summary: lines[0].summary!, scores: lines.slice(1).map((l) => l.score!) };
}
