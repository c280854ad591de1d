/**
 * `rewards:` in a GRPO config -> one RewardSource: each function is called TRL-style with the prompts, completions and
 * every column of the data rows, returns a number or null (not applicable) per completion; the total is the weighted
 * sum with nulls skipped. A reward that throws scores 0 for that batch and is counted (`rewards/<name>/errors`), so a
 * failing reward never kills training. Custom modules are loaded and probed, and built-ins called once with no
 * completions (which checks their args), before any training time is spent.
 *
 * A reward may also say which part of the completion earned it (process supervision, DeepSeekMath §4.1.3): instead of
 * a number it returns `{ reward, credit: [{ at, value }] }`, where `at` is a character offset in the completion and
 * the values sum to at most `reward` (the rest is outcome reward, earned by the completion as a whole). Only
 * `grpo.credit: process` uses the credit (see advantages.ts); otherwise `reward` is all that counts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '../errors.ts';
import { arithmeticFacts, arithmeticSteps } from './arithmetic.ts';
import { codeTestsReward } from './code_tests.ts';
import { countdownClosenessReward, countdownReward, countdownSignsReward } from './countdown.ts';
import { mathBoxed, mathFormat } from './math.ts';
import { sudokuReward } from './sudoku.ts';
import { gsm8kCorrectness, gsm8kInt, gsm8kSoftFormat, gsm8kStrictFormat, gsm8kXmlCount } from './gsm8k.ts';
import type { Credit, CreditedReward, RewardFn, RewardSource, RewardSpec, RewardValue } from './types.ts';

/** Built-in rewards by config name. */
export const BUILTIN_REWARDS: Record<string, RewardFn> = {
  /** Sudoku: fraction of the empty cells filled correctly, credit 1/empty per right digit; `args: { parser: d1 }` for d1's reading. */
  sudoku: sudokuReward,
  /** d1's Countdown reward: 1.0 correct, 0.1 parses but wrong (value or numbers), 0 no <answer>. */
  countdown: countdownReward,
  /** Countdown partial credit (ours): max(0, 1 - |value - target| / args.scale (100)) for a well-formed answer, else 0. */
  countdown_closeness: countdownClosenessReward,
  /** Countdown signs format (ours): 1/n per sign agreeing with the nearest solving sign pattern, credited at each sign (0 at a wrong one). */
  countdown_signs: countdownSignsReward,
  /** d1's GSM8K rewards (total max 4.0); `args: { d1_exact: true }` reproduces d1's regex/isdigit/string quirks. */
  gsm8k_xmlcount: gsm8kXmlCount,
  gsm8k_soft_format: gsm8kSoftFormat,
  gsm8k_strict_format: gsm8kStrictFormat,
  gsm8k_int: gsm8kInt,
  gsm8k_correctness: gsm8kCorrectness,
  /** Worked `a op b = c` lines (ours, label-free): operands from the question or earlier lines, computed right, answer = last result. */
  arithmetic_steps: arithmeticSteps,
  /** Each digit of each worked line's result judged against the line's own operands (ours, label-free): the number of right digits, each credited. */
  arithmetic_facts: arithmeticFacts,
  /** MATH: 2.0 when the last \boxed{} is equivalent to the gold answer; format up to 1.0 (d1: 0.75, see rewards/math.ts). */
  math_boxed: mathBoxed,
  math_format: mathFormat,
  /** Code (HumanEval / MBPP rows): fraction of the unit tests passed in the sandbox (src/sandbox); args timeout_ms, memory_mb. */
  code_tests: codeTestsReward,
};

export async function rewardSourceFromConfig(specs: RewardSpec[], baseDir: string): Promise<RewardSource & { errors: Record<string, number> }> {
  const fns: { name: string; fn: RewardFn; weight: number; args: Record<string, unknown> }[] = [];
  for (const [i, spec] of specs.entries()) {
    const key = `rewards[${i}]`;
    if (spec.module) {
      const fn = await loadModuleReward(spec, baseDir, key);
      fns.push({ name: spec.name ?? spec.export ?? 'default', fn, weight: spec.weight, args: spec.args });
    } else if (spec.name) {
      const fn = BUILTIN_REWARDS[spec.name];
      if (!fn) throw new ConfigError(`${key}.name: unknown reward '${spec.name}' (built-ins: ${Object.keys(BUILTIN_REWARDS).join(', ')}; or give module + export)`);
      // An empty call checks the args now: at training time a throwing reward only scores 0 and is counted.
      try {
        await fn({ prompts: [], completions: [], rows: [], args: spec.args });
      } catch (e) {
        throw new ConfigError(`${key}.args: ${(e as Error).message}`);
      }
      fns.push({ name: spec.name, fn, weight: spec.weight, args: spec.args });
    } else {
      throw new ConfigError(`${key}: give either name (a built-in reward) or module (+ export)`);
    }
  }
  const errors: Record<string, number> = {};
  return {
    errors,
    async score(prompts, completions, rows) {
      const perFn: Record<string, (number | null)[]> = {};
      const total = new Array<number>(completions.length).fill(0);
      const credit: Credit[][] = completions.map(() => []);
      for (const { name, fn, weight, args } of fns) {
        let values: RewardValue[];
        try {
          values = checkShape(await fn({ prompts, completions, rows, args }), completions, name);
        } catch {
          errors[name] = (errors[name] ?? 0) + 1;
          values = new Array(completions.length).fill(0);
        }
        perFn[name] = values.map((v) => (v !== null && typeof v === 'object' ? v.reward : v));
        values.forEach((v, j) => {
          if (v === null) return;
          if (typeof v === 'number') total[j] += weight * v;
          else {
            total[j] += weight * v.reward;
            for (const c of v.credit) credit[j].push({ at: c.at, value: weight * c.value });
          }
        });
      }
      return { total, perFn, credit };
    },
  };
}

async function loadModuleReward(spec: RewardSpec, baseDir: string, key: string): Promise<RewardFn> {
  const file = path.resolve(baseDir, spec.module!);
  if (!fs.existsSync(file)) throw new ConfigError(`${key}.module: file not found: ${file}`);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (e) {
    // A syntax error (the TS transpiler's multi-line report) or a throw at import time: its first line is the cause.
    throw new ConfigError(`${key}.module: cannot load ${loadFailure(file, e)}`);
  }
  const name = spec.export ?? 'default';
  const fn = mod[name];
  if (typeof fn !== 'function') {
    const exported = Object.keys(mod).join(', ') || 'nothing';
    throw new ConfigError(`${key}.export: ${file} has no function export '${name}' (it exports: ${exported})`);
  }
  // Probe once with a tiny fake batch, so a broken reward fails now rather than an hour into training.
  try {
    checkShape(await (fn as RewardFn)({ prompts: ['1+1?'], completions: ['2'], rows: [{}], args: spec.args }), ['2'], `${key} (${file}#${name})`);
  } catch (e) {
    throw new ConfigError(`${key}: probe call of ${file}#${name} failed: ${(e as Error).message}`);
  }
  return fn as RewardFn;
}

function checkShape(values: unknown, completions: string[], name: string): RewardValue[] {
  const n = completions.length;
  const finite = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
  const ok = (v: unknown, j: number) =>
    v === null || finite(v) ||
    (typeof v === 'object' && finite((v as CreditedReward).reward) && Array.isArray((v as CreditedReward).credit) &&
      (v as CreditedReward).credit.every((c) => finite(c?.value) && Number.isInteger(c?.at) && c.at >= 0 && c.at <= completions[j].length));
  if (!Array.isArray(values) || values.length !== n || !values.every(ok)) {
    throw new Error(`reward ${name} must return an array of ${n} finite numbers, nulls or { reward, credit: [{ at, value }] } (at: a character offset of the completion, or its length for its end), got ${JSON.stringify(values)?.slice(0, 80)}`);
  }
  return values as RewardValue[];
}

/** `file:line:col: message` from the transpiler's report (`Transform failed with 1 error:\n<file:l:c>: ERROR: ...`), else `file: first line`. */
function loadFailure(file: string, e: unknown): string {
  const lines = (e instanceof Error ? e.message : String(e)).split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const located = lines.map((l) => /^(.+:\d+:\d+): ERROR: (.*)$/.exec(l)).find((m) => m !== null);
  return located ? `${located[1]}: ${located[2]}` : `${file}: ${lines[0] ?? String(e)}`;
}
