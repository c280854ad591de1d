/**
 * A study's results: per run and seed, each eval's accuracy with its 95% CI, the paired gain over the run's start
 * (same items: the seed's SFT run, or the method a `start` names) with its 95% CI, the selected step and the training wall-clock; per run, the mean over seeds.
 * Written as results.json (every number) and results.md (the tables README shows).
 */
import fs from 'node:fs';
import path from 'node:path';
import { pairedDifference } from '../eval/stats.ts';
import type { StudyPlan } from './plan.ts';
import type { CellResult } from './run.ts';

export interface ResultRow {
  run: string;
  kind: string;
  seed: number;
  /** The method whose selected checkpoint the run started from (and its gain is paired against), when not the SFT run. */
  from?: string;
  step: number;
  /** The steps whose weights the selected checkpoint averages (`average_last`), when the average was selected. */
  averaged?: number[];
  max_steps: number;
  heldout: number;
  train_seconds: number;
  evals: Record<string, { accuracy: number; ci95: [number, number]; n: number; solve_rate?: number; gain?: { mean: number; ci95: [number, number] } }>;
}

export function resultRows(results: CellResult[]): ResultRow[] {
  const byId = new Map(results.map((r) => [r.cell.id, r]));
  const sft = new Map(results.filter((r) => r.cell.kind === 'sft').map((r) => [r.cell.seed, r]));
  return results.map((r) => {
    // A method's gain is paired against its own start; a reference's against the seed's SFT run.
    const start = r.cell.kind === 'sft' ? null : (r.cell.startId ? byId.get(r.cell.startId) : sft.get(r.cell.seed)) ?? null;
    const evals: ResultRow['evals'] = {};
    for (const [name, e] of Object.entries(r.evals)) {
      const base = start?.evals[name];
      evals[name] = {
        accuracy: e.summary.accuracy, ci95: e.summary.ci95, n: e.summary.n,
        ...(e.summary.solve_rate === undefined ? {} : { solve_rate: e.summary.solve_rate }),
        ...(base ? { gain: pairedDifference(base.scores, e.scores) } : {}),
      };
    }
    return { run: r.cell.spec.name, kind: r.cell.kind, seed: r.cell.seed, ...(r.cell.spec.start ? { from: r.cell.spec.start } : {}), step: r.selected.step, ...(r.selected.averaged ? { averaged: r.selected.averaged } : {}), max_steps: r.maxSteps, heldout: r.selected.accuracy, train_seconds: r.trainSeconds, evals };
  });
}

const pct = (x: number) => (100 * x).toFixed(1);
const signed = (x: number) => `${x >= 0 ? '+' : ''}${pct(x)}`;

/** One Markdown table per eval: a row per run and seed, then a row per run with the means over seeds. */
export function markdown(plan: StudyPlan, rows: ResultRow[]): string {
  const out: string[] = [];
  for (const e of plan.evals) {
    const where = e.generated ? `${e.generated.n} generated held-out items (seed ${e.generated.seed})` : `${e.subset ?? 'all'} items of the ${e.task} test file`;
    const solve = rows.some((r) => r.evals[e.name]?.solve_rate !== undefined);
    out.push(`### ${e.name}: ${e.task}, ${where}, greedy, ${e.steps} steps, ${e.parser} parser`, '');
    out.push(`| run | seed | selected step | held-out | accuracy [95% CI] |${solve ? ' solve rate |' : ''} gain over its start [paired 95% CI] | train time |`);
    out.push(`|---|---|---|---|---|${solve ? '---|' : ''}---|---|`);
    for (const r of rows) {
      const v = r.evals[e.name];
      if (!v) continue;
      const gain = v.gain ? `${signed(v.gain.mean)} [${signed(v.gain.ci95[0])}, ${signed(v.gain.ci95[1])}]` : '(start)';
      out.push(`| ${r.from ? `${r.run} (from ${r.from})` : r.run} | ${r.seed} | ${r.averaged ? `avg ${r.averaged[0]}–${r.averaged[r.averaged.length - 1]}` : r.step}/${r.max_steps} | ${pct(r.heldout)} | ${pct(v.accuracy)} [${pct(v.ci95[0])}, ${pct(v.ci95[1])}] |${solve ? ` ${pct(v.solve_rate ?? 0)} |` : ''} ${gain} | ${fmtTime(r.train_seconds)} |`);
    }
    out.push('', '| run | seeds | mean accuracy | mean gain | seeds with paired CI > 0 |', '|---|---|---|---|---|');
    for (const run of [...new Set(rows.map((r) => r.run))]) {
      const vs = rows.filter((r) => r.run === run && r.evals[e.name]).map((r) => r.evals[e.name]);
      const gains = vs.filter((v) => v.gain).map((v) => v.gain!);
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      out.push(`| ${run} | ${vs.length} | ${pct(mean(vs.map((v) => v.accuracy)))} | ${gains.length ? signed(mean(gains.map((g) => g.mean))) : '—'} | ${gains.length ? `${gains.filter((g) => g.ci95[0] > 0).length}/${gains.length}` : '—'} |`);
    }
    out.push('');
  }
  return out.join('\n');
}

/** Wall-clock as "18 min 59 s" (rounded to whole seconds first, so 1139.6 s is "19 min 0 s", never "18 min 60 s"). */
export function fmtTime(seconds: number): string {
  const s = Math.round(seconds);
  return s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
}

/** Writes <out_dir>/results.json and results.md; returns the Markdown. */
export function writeResults(plan: StudyPlan, results: CellResult[]): string {
  const rows = resultRows(results);
  const md = markdown(plan, rows);
  fs.writeFileSync(path.join(plan.out_dir, 'results.json'), JSON.stringify({ plan, rows, curves: results.map((r) => ({ run: r.cell.spec.name, seed: r.cell.seed, dir: r.cell.dir, heldout: r.curve, ...(r.average ? { average: { steps: r.average.steps, heldout: r.average.accuracy } } : {}) })) }, null, 2));
  fs.writeFileSync(path.join(plan.out_dir, 'results.md'), md);
  return md;
}
