/**
 * A tiny SFT + GRPO run pair in `yarn quickstart`'s layout, with the metric keys the trainers log, eval results of
 * both checkpoints on the same 10 items, rollouts.arrow and a trace:
 *   <root>/sft/metrics.jsonl, <root>/grpo/{metrics.jsonl,rollouts.arrow,traces/sample.jsonl}, <root>/eval/{sft,grpo}.jsonl
 */
import fs from 'node:fs';
import path from 'node:path';
import { tableFromArrays, tableToIPC } from 'apache-arrow';

export const SFT_KEYS = ['loss/train', 'grad_norm', 'lr', 'tokens_per_s', 'tokens_seen'];
export const GRPO_KEYS = [
  'reward', 'reward_std', 'frac_reward_zero_std', 'rewards/sudoku/mean', 'rewards/sudoku/std', 'completions/mean_length',
  'completions/min_length', 'completions/max_length', 'loss', 'grad_norm', 'learning_rate', 'nfe', 'time/generation',
  'time/rewards', 'time/logprobs', 'time/update', 'time/step', 'kl', 'clip_ratio/low_mean', 'clip_ratio/high_mean',
];
/** Logged on their own lines: SFT's eval loss every 20 steps, GRPO's periodic eval every 5. */
export const SFT_EVAL_KEYS = ['loss/eval'];
export const GRPO_EVAL_KEYS = ['eval/sudoku/accuracy', 'eval/sudoku/ci95_low', 'eval/sudoku/ci95_high'];

/** Per-item scores: GRPO is better by 0.125 on items 0-7 and equal on 8-9, so the paired gain is 0.1. */
export const SFT_SCORES = [0.5, 0.5, 0.625, 0.25, 0.75, 0.5, 0.375, 0.5, 1, 0.875];
export const GRPO_SCORES = SFT_SCORES.map((s, i) => (i < 8 ? s + 0.125 : s));

function lines(rows: object[]): string {
  return rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
}

function evalFile(file: string, scores: number[]): void {
  const accuracy = scores.reduce((a, b) => a + b, 0) / scores.length;
  const summary = { task: 'sudoku', accuracy, ci95: [accuracy - 0.1, accuracy + 0.1], n: scores.length, seconds: 1, nfe: 170, sampler: 'llada', gen_length: 17, parser: 'lenient', solve_rate: 0.1, solve_ci95: [0.02, 0.4] };
  const items = scores.map((score, index) => ({ index, prompt: '3102200002100320=', completion: '3142213443121324', parsed: '3142213443121324', gold: '3142213443121324', score, solved: score === 1 }));
  fs.writeFileSync(file, lines([{ summary }, ...items]));
}

export function writeFixtureRuns(root: string): { sft: string; grpo: string } {
  const sft = path.join(root, 'sft');
  const grpo = path.join(root, 'grpo');
  fs.mkdirSync(path.join(grpo, 'traces'), { recursive: true });
  fs.mkdirSync(sft, { recursive: true });
  fs.mkdirSync(path.join(root, 'eval'));
  const sftRows: object[] = [];
  for (let step = 10; step <= 100; step += 10) {
    sftRows.push({ step, ...Object.fromEntries(SFT_KEYS.map((k, j) => [k, 2 / step + j + Math.sin(step) * 0.01])) });
    if (step % 20 === 0) sftRows.push({ step, 'loss/eval': 2.2 / step });
  }
  fs.writeFileSync(path.join(sft, 'metrics.jsonl'), lines(sftRows));
  const grpoRows: object[] = [];
  for (let step = 1; step <= 12; step++) {
    grpoRows.push({ step, ...Object.fromEntries(GRPO_KEYS.map((k, j) => [k, 0.4 + 0.01 * step + j * 0.1])) });
    if (step % 5 === 0 || step === 12) grpoRows.push({ step, 'eval/sudoku/accuracy': 0.6 + step / 100, 'eval/sudoku/ci95_low': 0.55, 'eval/sudoku/ci95_high': 0.7 });
  }
  fs.writeFileSync(path.join(grpo, 'metrics.jsonl'), lines(grpoRows));
  evalFile(path.join(root, 'eval', 'sft.jsonl'), SFT_SCORES);
  evalFile(path.join(root, 'eval', 'grpo.jsonl'), GRPO_SCORES);
  const steps = Int32Array.from({ length: 24 }, (_, i) => 1 + Math.floor(i / 2));
  fs.writeFileSync(path.join(grpo, 'rollouts.arrow'), tableToIPC(tableFromArrays({
    step: steps,
    prompt: Array.from(steps, () => '0100200030004000='),
    completion: Array.from(steps, (s, i) => `<b>${s}-${i}</b>`), // markup must show as text
    reward: Float64Array.from(steps, (s) => s / 12),
    advantage: Float64Array.from(steps, (_, i) => (i % 2 ? 0.5 : -0.5)),
    reward_sudoku: Float64Array.from(steps, (s) => s / 12),
  }), 'file'));
  const trace = ['3102200002100320=_________________', '3102200002100320=3___2___________⏎', '3102200002100320=3142213443121324⏎'];
  fs.writeFileSync(path.join(grpo, 'traces', 'sample.jsonl'), lines(trace.map((t, i) => ({ step: i + 1, block: 0, nfe: i + 1, text: [t], ids: [[]] }))));
  return { sft, grpo };
}
