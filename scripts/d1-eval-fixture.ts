/**
 * Builds test/fixtures/d1_eval_generations/ from d1's released evaluation generations (see the README there):
 *   git --git-dir=<d1 mirror> archive HEAD eval/eval_baselines | tar x -C <dir>
 *   npx tsx scripts/d1-eval-fixture.ts --src <dir>/eval/eval_baselines
 * One gzipped JSONL per setup (<task>_<gen_length>.jsonl.gz), the shards concatenated in file-name order, keeping
 * only what scoring needs: the completion and the gold (Sudoku: also the puzzle from the question; Countdown: the
 * numbers and target).
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';

const argv = await yargs(hideBin(process.argv))
  .option('src', { type: 'string', demandOption: true, describe: "d1's eval/eval_baselines directory" })
  .option('out', { type: 'string', default: 'test/fixtures/d1_eval_generations' })
  .strict()
  .parse();

type Item = { question: string; generations: string; ground_truth: unknown };
const setups = new Map<string, Record<string, unknown>[]>();
for (const name of fs.readdirSync(argv.src).filter((f) => f.endsWith('_generations.json')).sort()) {
  const m = /^(\w+?)_instruct_(\d+)_\d+_\d+_generations\.json$/.exec(name);
  if (!m) throw new Error(`unexpected file name ${name}`);
  const [task, genLength] = [m[1], m[2]];
  const key = `${task}_${genLength}`;
  const { generations } = JSON.parse(fs.readFileSync(path.join(argv.src, name), 'utf8')) as { generations: Item[] };
  const rows = setups.get(key) ?? [];
  for (const g of generations) {
    if (task === 'sudoku') {
      const puzzle = /Sudoku puzzle: ([0-9]{16})/.exec(g.question)?.[1];
      if (!puzzle) throw new Error(`${name}: no puzzle in ${JSON.stringify(g.question)}`);
      rows.push({ completion: g.generations, puzzle, gold: g.ground_truth });
    } else if (task === 'countdown') {
      const [numbers, target] = g.ground_truth as [number[], number];
      rows.push({ completion: g.generations, numbers, target });
    } else rows.push({ completion: g.generations, gold: g.ground_truth });
  }
  setups.set(key, rows);
}
fs.mkdirSync(argv.out, { recursive: true });
for (const [key, rows] of setups) {
  const file = path.join(argv.out, `${key}.jsonl.gz`);
  fs.writeFileSync(file, zlib.gzipSync(rows.map((r) => JSON.stringify(r)).join('\n') + '\n', { level: 9 }));
  console.log(`${file}: ${rows.length} rows, ${fs.statSync(file).size} bytes`);
}
