import { describe, expect, it } from 'vitest';
import { gsm8kCorrectness, gsm8kGold } from '../../src/rewards/gsm8k.ts';
import { generateArithmeticSet } from '../../src/tasks/arithmetic.ts';
import { parse } from 'yaml';
import { parseConfig } from '../../src/config/load.ts';
import { grpoConfigSchema, trainConfigSchema } from '../../src/config/schema.ts';
import { loadPromptRows } from '../../src/rl/prompts.ts';
import { loadExamples } from '../../src/train/dataset.ts';
import { generateRows } from '../../src/tasks/generate.ts';
import { SYSTEM_PROMPT } from '../../src/tokenizer/templates.ts';

/** Recomputes the answer from the question's own numbers and wording, independently of the generator. */
function solve(q: string): number {
  const n = (q.match(/\d+/g) ?? []).map(Number);
  if (q.includes('gets') && q.includes('more')) return n[0] + n[1];
  if (q.includes('gives away')) return n[0] - n[1];
  if (q.includes('packs of')) return n[0] * n[1] - n[2];
  if (q.includes('boxes with')) return n[0] * n[1];
  if (q.includes('shares')) return n[0] / n[1];
  throw new Error(`unknown template: ${q}`);
}

describe('arithmetic word problems', () => {
  const set = generateArithmeticSet(3, 300);

  it('every answer matches an independent recomputation and is a non-negative integer', () => {
    for (const it of set) {
      expect(solve(it.question)).toBe(it.value);
      expect(Number.isInteger(it.value) && it.value >= 0).toBe(true);
    }
    const kinds = new Set(set.map((i) => ['more', 'gives away', 'packs of', 'boxes with', 'shares'].find((k) => i.question.includes(k))));
    expect(kinds.size).toBe(5); // all five templates (+, −, ×, ÷, two-step) occur
  });

  it('is deterministic by seed, distinct within a set, and honours exclude', () => {
    expect(generateArithmeticSet(3, 300)).toEqual(set);
    expect(generateArithmeticSet(4, 300)).not.toEqual(set);
    expect(new Set(set.map((i) => i.question)).size).toBe(300);
    const held = new Set(set.slice(0, 50).map((i) => i.question));
    const other = generateArithmeticSet(3, 300, { exclude: held });
    for (const it of other) expect(held.has(it.question)).toBe(false);
  });

  it('answers are GSM8K-formatted: the GSM8K gold parser and correctness reward read them', () => {
    const it0 = set[0];
    expect(gsm8kGold({ answer: it0.answer })).toBe(String(it0.value));
    const good = `<reasoning>\nwork\n</reasoning>\n<answer>\n${it0.value}\n</answer>\n`;
    const bad = `<reasoning>\nwork\n</reasoning>\n<answer>\n${it0.value + 1}\n</answer>\n`;
    expect(gsm8kCorrectness({ completions: [good, bad], rows: [{ answer: it0.answer }, { answer: it0.answer }] })).toEqual([2, 0]);
  });
});

describe('arithmetic word problems, small numbers (data.arithmetic_small)', () => {
  const small = generateArithmeticSet(3, 400, { small: true });

  it('keeps the five templates and their answers; every number but a share\'s dividend is one digit', () => {
    for (const it of small) {
      expect(solve(it.question)).toBe(it.value);
      expect(Number.isInteger(it.value) && it.value >= 0).toBe(true);
      const n = (it.question.match(/\d+/g) ?? []).map(Number);
      const operands = it.question.includes('shares') ? n.slice(1) : n;
      for (const x of operands) expect(x >= 1 && x <= 9).toBe(true);
      if (it.question.includes('shares')) expect(n[0]).toBeLessThanOrEqual(81);
    }
    const kinds = new Set(small.map((i) => ['more', 'gives away', 'packs of', 'boxes with', 'shares'].find((k) => i.question.includes(k))));
    expect(kinds.size).toBe(5);
    expect(generateArithmeticSet(3, 400, { small: true })).toEqual(small); // deterministic
    expect(small).not.toEqual(generateArithmeticSet(3, 400)); // and not the standard ranges
  });

  it('is only for task arithmetic: another task names the key', () => {
    expect(() => generateRows('sudoku', 1, 4, 'data', { arithmeticSmall: true })).toThrow(/data\.arithmetic_small/);
  });
});

describe('data.task: arithmetic (SFT and GRPO)', () => {
  const yaml = (extra: string) => `run:\n  output_dir: checkpoints/t\n  seed: 5\ndata:\n  task: arithmetic\n  num_train: 40\n  num_eval: 8\n${extra}`;

  it('SFT: generated problems become GSM8K-template examples (reasoning + <answer> with the number)', () => {
    const cfg = parseConfig(parse(yaml('  seq_len: 512\nmodel: { d_model: 16, n_layers: 1, n_heads: 2, mlp_hidden: 32, max_seq_len: 512 }\noptimizer: { lr: 0.001 }\ntraining: { max_steps: 1, batch_size: 2 }\n')), trainConfigSchema);
    const { train, heldOut } = loadExamples(cfg);
    expect(train.length).toBe(40);
    expect(heldOut.length).toBe(8);
    const items = generateArithmeticSet(5, 48);
    expect(train[0].prompt).toBe(`${SYSTEM_PROMPT}\n\n${items[0].question}`);
    expect(train[0].answer).toBe(`<reasoning>\n${items[0].answer.split('\n####')[0]}\n</reasoning>\n<answer>\n${items[0].value}\n</answer>\n`);
  });

  it('GRPO: prompt rows carry the GSM8K-style answer, so gsm8k_correctness pays 2 for the right number', () => {
    const cfg = parseConfig(
      parse(yaml(`init_from: checkpoints/x\nrewards: [{ name: gsm8k_correctness }]\nsampler: { gen_length: 32, block_length: 32, steps: 32 }\noptimizer: { lr: 0.001 }\ntraining: { max_steps: 1 }\n`).replace('  num_eval: 8\n', '')),
      grpoConfigSchema,
    );
    const rows = loadPromptRows(cfg);
    expect(rows.length).toBe(40);
    expect(rows[0].prompt.startsWith(SYSTEM_PROMPT)).toBe(true);
    const value = Number(gsm8kGold(rows[0].row));
    expect(gsm8kCorrectness({ completions: [`<answer>\n${value}\n</answer>`], rows: [rows[0].row] })).toEqual([2]);
  });

  it('data.arithmetic_small reaches both: SFT examples and GRPO prompts are the small problems', () => {
    const sft = parseConfig(parse(yaml('  seq_len: 512\n  arithmetic_small: true\nmodel: { d_model: 16, n_layers: 1, n_heads: 2, mlp_hidden: 32, max_seq_len: 512 }\noptimizer: { lr: 0.001 }\ntraining: { max_steps: 1, batch_size: 2 }\n')), trainConfigSchema);
    const items = generateArithmeticSet(5, 48, { small: true });
    expect(loadExamples(sft).train[0].prompt).toBe(`${SYSTEM_PROMPT}\n\n${items[0].question}`);
    const grpo = parseConfig(
      parse(yaml(`  arithmetic_small: true\ninit_from: checkpoints/x\nrewards: [{ name: gsm8k_correctness }]\nsampler: { gen_length: 32, block_length: 32, steps: 32 }\noptimizer: { lr: 0.001 }\ntraining: { max_steps: 1 }\n`).replace('  num_eval: 8\n', '')),
      grpoConfigSchema,
    );
    const prompts = generateArithmeticSet(6, 40, { small: true }); // GRPO's prompt seed: run.seed + 1
    expect(loadPromptRows(grpo)[0].prompt).toBe(`${SYSTEM_PROMPT}\n\n${prompts[0].question}`);
  });
});
