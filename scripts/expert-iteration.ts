/**
 * One round of expert iteration (rejection-sampling fine-tuning; ReST-EM, Singh et al. 2023; STaR): sample K
 * completions per unlabeled problem from the SFT start, keep the ones the task's checker scores right, and fine-tune
 * on them beside the start's own labels. Research script behind docs/study/arithmetic.md and countdown.md
 * ("Expert iteration"); a round is three commands:
 *
 *   npx tsx scripts/expert-iteration.ts pool  <task> <seed> <n> <pool.jsonl> [held-out files to exclude...]
 *   yarn eval --checkpoint <sft> --task <gsm8k|countdown> --test-file <pool.jsonl> --samples 8 --temperature 0.9 ... --out <samples>
 *   npx tsx scripts/expert-iteration.ts build <task> <samples>.jsonl <pool.jsonl> <sft seed> <labels> <num_eval> <train.jsonl>
 *   yarn train:sft --config <the SFT's config> --set model.init_from=<sft> --set data.train_path=$PWD/<train.jsonl> --set data.num_train=null ...
 *
 * task: arithmetic (single-digit problems, data.arithmetic_small) or countdown (signs format). `build` writes the start's
 * labels first (the generator's first <labels> items for the SFT's seed, as the SFT run drew them), then the distinct
 * verified completions, then the SFT run's <num_eval> eval-loss items last (data.num_eval holds out the file's last rows).
 * An arithmetic completion is kept only if its answer is right (score 1), it is in the SFT template exactly, and every
 * worked line is computed right (label-free, as the arithmetic_facts reward): a right answer under a miscomputed line
 * (or a line that is not `a op b = c`) would teach the wrong fact; those are counted as dropped.
 */
import fs from 'node:fs';
import { pathToFileURL } from 'node:url';
import { readJsonl } from '../src/data/index.ts';
import { evaluateArithmetic } from '../src/rewards/arithmetic.ts';
import { generateArithmeticSet } from '../src/tasks/arithmetic.ts';
import { generateCountdownSet } from '../src/tasks/countdown.ts';
import { generateRows, writeHeldOut } from '../src/tasks/generate.ts';
import { countdownFields } from '../src/tokenizer/templates.ts';

type Row = Record<string, unknown>;

/**
 * The verified answers of a `yarn eval --samples` file, distinct per pool item: countdown = the `<answer>` text of a
 * right completion; arithmetic = "{worked lines}\n#### {n}" of a right completion in the SFT template whose every
 * line is computed right. Returns them by pool index, with how many right answers there were and how many of those
 * were dropped for a miscomputed (or malformed) line.
 */
export function verifiedAnswers(task: 'arithmetic' | 'countdown', samples: Row[]): { kept: Map<number, Set<string>>; right: number; wrongLine: number } {
  const kept = new Map<number, Set<string>>();
  let right = 0, wrongLine = 0;
  for (const r of samples) {
    if (r.summary !== undefined || Number(r.score) !== 1) continue;
    right++;
    const c = String(r.completion);
    let answer: string | null = null;
    if (task === 'countdown') answer = /^<answer>([^<]*)<\/answer>$/.exec(c.trim())?.[1] ?? null;
    else {
      // Only completions in the SFT template exactly: worked lines `a op b = c`, then the answer.
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

function main(cmd: string | undefined, task: string | undefined, rest: string[]): void {
  if (task !== 'arithmetic' && task !== 'countdown') throw new Error(`task must be arithmetic or countdown, got ${task}`);

  if (cmd === 'pool') {
    const [seed, n, out, ...excludeFiles] = rest;
    const exclude = new Set<string>();
    for (const f of excludeFiles) for (const r of readJsonl(f)) exclude.add(task === 'countdown' ? `${r.input}|${r.output}` : String(r.question));
    const rows = task === 'countdown'
      ? generateCountdownSet(Number(seed), Number(n), { exclude, signs: true })
      : generateArithmeticSet(Number(seed), Number(n), { exclude, small: true });
    writeHeldOut(task, rows as unknown as Record<string, unknown>[], out);
    console.log(`${out}: ${rows.length} ${task} problems, none of the ${exclude.size} excluded`);
  } else if (cmd === 'build') {
    const [samplesFile, poolFile, seed, labelsN, evalN, out] = rest;
    const pool = readJsonl(poolFile);
    const { kept, right, wrongLine } = verifiedAnswers(task, readJsonl(samplesFile));
    const row = (r: Record<string, unknown>) => (task === 'countdown' ? { numbers: r.numbers, target: r.target, solution: r.solution } : { question: r.question, answer: r.answer });
    const gen = generateRows(task, Number(seed), Number(labelsN) + Number(evalN), 'data', task === 'countdown' ? { countdownSigns: true } : { arithmeticSmall: true });
    const self = [...kept.entries()].sort((a, b) => a[0] - b[0]).flatMap(([i, answers]) => [...answers].map((a) =>
      task === 'countdown' ? { ...countdownFields(pool[i]), solution: a } : { question: pool[i].question, answer: a }));
    const rows = [...gen.slice(0, Number(labelsN)).map(row), ...self, ...gen.slice(Number(labelsN)).map(row)];
    fs.writeFileSync(out, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    console.log(`${out}: ${labelsN} labels + ${self.length} verified completions of ${kept.size} / ${pool.length} problems (${right} right answers, ${wrongLine} dropped for a miscomputed line) + ${evalN} eval rows`);
  } else {
    throw new Error('usage: expert-iteration.ts pool|build <task> ... (see the header)');
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [cmd, task, ...rest] = process.argv.slice(2);
  main(cmd, task, rest);
}
