/**
 * The paired gain of one or more evaluations over a start on the same items: `npx tsx scripts/paired-gain.ts
 * <start>.jsonl <run>.jsonl [...]` (files written by `yarn eval`, or a study's `<checkpoint>/test/<eval>.jsonl`),
 * each run's accuracy and its gain over the start with the paired 95% CI, as `yarn study`'s tables compute it. Rows are
 * matched by item index (and sample, with --samples); the files must hold the same items.
 */
import { readJsonl } from '../src/data/index.ts';
import { pairedDifference } from '../src/eval/stats.ts';

function scores(file: string): Map<string, number> {
  const rows = readJsonl(file).filter((r) => r.summary === undefined); // the first line of a `yarn eval` file is its summary
  return new Map(rows.map((r) => [`${r.index}/${r.sample ?? 0}`, Number(r.score)]));
}
const [startFile, ...runs] = process.argv.slice(2);
if (!startFile || runs.length === 0) throw new Error('usage: paired-gain.ts <start>.jsonl <run>.jsonl [...]');
const start = scores(startFile);
const keys = [...start.keys()];
const pct = (x: number) => (100 * x).toFixed(1);
const signed = (x: number) => `${x >= 0 ? '+' : ''}${pct(x)}`;
console.log(`start ${startFile}: ${pct(keys.reduce((a, k) => a + start.get(k)!, 0) / keys.length)}% of ${keys.length}`);
for (const file of runs) {
  const run = scores(file);
  const missing = keys.find((k) => !run.has(k));
  if (missing !== undefined || run.size !== start.size) throw new Error(`${file}: not the start's items (item ${missing ?? '?'}; ${run.size} rows against ${start.size})`);
  const g = pairedDifference(keys.map((k) => start.get(k)!), keys.map((k) => run.get(k)!));
  console.log(`${file}: ${pct(keys.reduce((a, k) => a + run.get(k)!, 0) / keys.length)}%, gain ${signed(g.mean)} [${signed(g.ci95[0])}, ${signed(g.ci95[1])}]`);
}
