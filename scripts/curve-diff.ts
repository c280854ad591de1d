/**
 * Two GRPO runs' rollout reward, side by side: the mean per window of steps and the per-step paired difference B − A
 * with a 95% CI that treats the steps as independent (the same seed draws the same prompts at each step, so the
 * pairing removes the prompts' difficulty). Used for issue 14's "reward curve within noise" (README, "Sudoku with
 * every label").
 *
 *   npx tsx scripts/curve-diff.ts RUN_A RUN_B [--window 25] [--key reward]
 *
 * RUN_A / RUN_B: run folders with a metrics.jsonl (`yarn train:grpo` writes one line per step).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pairedDifference } from '../src/eval/stats.ts';
import { readMetrics } from '../src/report/load.ts';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: { window: { type: 'string', default: '25' }, key: { type: 'string', default: 'reward' } },
});
if (positionals.length !== 2) {
  process.stderr.write('usage: npx tsx scripts/curve-diff.ts RUN_A RUN_B [--window 25] [--key reward]\n');
  process.exit(1);
}
const key = args.key;
const window = Number(args.window);

/** step → metrics of one run (the step lines of its metrics.jsonl that carry `key`; report/load.ts reads the file). */
function readRun(dir: string): Map<number, Record<string, number>> {
  const file = path.join(dir, 'metrics.jsonl');
  if (!fs.existsSync(file)) {
    process.stderr.write(`${file}: not found (give a run folder written by yarn train:grpo)\n`);
    process.exit(1);
  }
  return new Map(readMetrics(file).filter((m) => typeof m[key] === 'number').map((m) => [m.step, m]));
}

const mean = (v: number[]) => v.reduce((a, x) => a + x, 0) / v.length;
const a = readRun(positionals[0]);
const b = readRun(positionals[1]);
const last = Math.min(Math.max(...a.keys()), Math.max(...b.keys()));
const fmt = (x: number) => (x >= 0 ? '+' : '') + x.toFixed(3);
for (let lo = 1; lo <= last; lo += window) {
  const steps = [...Array(Math.min(window, last - lo + 1)).keys()].map((i) => lo + i).filter((s) => a.has(s) && b.has(s));
  if (steps.length < 2) continue;
  const A = steps.map((s) => a.get(s)![key]);
  const B = steps.map((s) => b.get(s)![key]);
  const d = pairedDifference(A, B);
  process.stdout.write(`steps ${lo}-${steps[steps.length - 1]}: A ${mean(A).toFixed(3)}  B ${mean(B).toFixed(3)}  B-A ${fmt(d.mean)} [${fmt(d.ci95[0])}, ${fmt(d.ci95[1])}]\n`);
}
const avg = (r: Map<number, Record<string, number>>, k: string) => mean([...r.values()].map((m) => m[k] ?? 0));
process.stdout.write(
  `seconds per step A ${avg(a, 'time/step').toFixed(2)} (generation ${avg(a, 'time/generation').toFixed(2)})  B ${avg(b, 'time/step').toFixed(2)} (generation ${avg(b, 'time/generation').toFixed(2)})\n`,
);
