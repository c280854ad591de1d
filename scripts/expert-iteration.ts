/**
 * One round of expert iteration (rejection-sampling fine-tuning; ReST-EM, Singh et al. 2023; STaR): sample K
 * completions per unlabeled problem from the SFT start, keep the ones the task's checker scores right, and fine-tune
 * on them beside the start's own labels. Research script behind docs/study/arithmetic.md and countdown.md
 * ("Expert iteration"), kept so that those runs repeat as they were made; `yarn train:ei` (src/train/expert_iteration.ts,
 * which also holds the verification used here) is the same round as one run. Here a round is four commands:
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
import { verifiedAnswers } from '../src/train/expert_iteration.ts';
import { generateArithmeticSet } from '../src/tasks/arithmetic.ts';
import { generateCountdownSet } from '../src/tasks/countdown.ts';
import { generateRows, writeHeldOut } from '../src/tasks/generate.ts';
import { countdownFields } from '../src/tokenizer/templates.ts';

type Row = Record<string, unknown>;

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
