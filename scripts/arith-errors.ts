/**
 * Where arithmetic answers go wrong: `npx tsx scripts/arith-errors.ts <checkpoint>/test/heldout.jsonl ...` puts each
 * scored completion of a study evaluation in the first class it fits: right; no worked `a op b = c` line; a line
 * miscomputed; the <answer> not the last line's result; every line right but on the wrong operands or operation.
 * (README, "Arithmetic word problems": "Where the SFT starts miss".)
 */
import fs from 'node:fs';
import { evaluateArithmetic, workedLines } from '../src/rewards/arithmetic.ts';
import { extractXmlAnswer, toNumber } from '../src/rewards/gsm8k.ts';
for (const file of process.argv.slice(2)) {
  const rows = fs.readFileSync(file, 'utf8').trim().split('\n').slice(1).map((l) => JSON.parse(l) as { completion: string; score: number });
  const c: Record<string, number> = {};
  for (const r of rows) {
    const lines = workedLines(r.completion)?.lines ?? [];
    const ans = toNumber(extractXmlAnswer(r.completion)); // d1's reading, as arithmetic_steps's "answered"
    let k: string;
    if (r.score > 0) k = 'right';
    else if (lines.length === 0) k = 'no worked line';
    else if (!lines.every((m) => evaluateArithmetic(`${m[1]}${m[2]}${m[3]}`) === Number(m[4]))) k = 'a line miscomputed';
    else if (ans === null || ans !== Number(lines[lines.length - 1][4])) k = 'answer != last result';
    else k = 'lines right, wrong operands/operation';
    c[k] = (c[k] ?? 0) + 1;
  }
  console.log(file, rows.length, Object.entries(c).map(([k, v]) => `${k} ${(100 * v / rows.length).toFixed(1)}%`).join(', '));
}
