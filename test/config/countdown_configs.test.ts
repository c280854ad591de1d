import path from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { readJsonl } from '../../src/data/index.ts';
import { loadConfig } from '../../src/config/load.ts';
import { grpoConfigSchema, trainConfigSchema } from '../../src/config/schema.ts';
import { loadPlan } from '../../src/study/plan.ts';
import { generateCountdownSet, signedSumSigns } from '../../src/tasks/countdown.ts';
import { loadPromptRows } from '../../src/rl/prompts.ts';
import { referenceAnswer } from '../../src/rl/inpaint.ts';
import { prepareData } from '../../src/train/prepare.ts';
import { formatExample, formatPrompt } from '../../src/tokenizer/index.ts';
import { REPO_ROOT, dataPath } from '../paths.ts';

const at = (f: string) => path.join(REPO_ROOT, f);

describe('countdown configs (configs/countdown-*.yaml, configs/study/countdown.yaml)', () => {
  const sft = loadConfig(at('configs/countdown-sft.yaml'), trainConfigSchema, ['data.num_train=256', 'data.num_eval=16', 'runtime.data_dir=' + at('data')]).config;
  const grpo = loadConfig(at('configs/countdown-grpo.yaml'), grpoConfigSchema, []).config;

  it('the answer tags are one token, every row fits data.seq_len, and gen_length holds the longest answer after the longest prompt', () => {
    const { tokenizer, trainSet } = prepareData(sft, null, pino({ level: 'silent' }));
    expect(trainSet.dropped).toBe(0);
    for (const tag of ['<answer>', '</answer>']) expect(tokenizer.encode(tag)).toHaveLength(1);
    const rows = generateCountdownSet(77, 3000, { trace: true }) as unknown as Record<string, unknown>[];
    const test = readJsonl(dataPath('countdown/countdown_cd3_test.jsonl'));
    const longestPrompt = Math.max(...[...rows, ...test].map((r) => tokenizer.encode(formatPrompt('countdown', r)).length));
    const longestAnswer = Math.max(...rows.map((r) => tokenizer.encode(formatExample('countdown', r).answer).length));
    expect(longestPrompt).toBe(17); // "030,100,093->023:" for every puzzle
    expect(longestPrompt + grpo.sampler.gen_length).toBeLessThanOrEqual(sft.data.seq_len);
    expect(longestAnswer + 1).toBeLessThanOrEqual(grpo.sampler.gen_length); // + EOS
  });

  it('configs/countdown-ops.yaml: every line fits its 12 tokens, and its tokenizer encodes the trace SFT rows that continue from it', () => {
    const ops = loadConfig(at('configs/countdown-ops.yaml'), trainConfigSchema, ['data.num_train=500', 'data.num_eval=16', 'runtime.data_dir=' + at('data')]).config;
    const { tokenizer, trainSet } = prepareData(ops, null, pino({ level: 'silent' }));
    expect(trainSet.dropped).toBe(0);
    expect(ops.model.max_seq_len).toBe(sft.data.seq_len);
    const rows = generateCountdownSet(78, 500, { trace: true }) as unknown as Record<string, unknown>[];
    for (const r of rows) {
      const { prompt, answer } = formatExample('countdown', r);
      expect(tokenizer.decode(tokenizer.encode(prompt + answer))).toBe(prompt + answer); // no character unknown to it
    }
  });

  it('the study plan\'s evals decode what the rollouts decode (its cells are validated in test/study/plans.test.ts)', () => {
    const plan = loadPlan(at('configs/study/countdown.yaml'));
    expect(plan.evals.every((e) => e.gen_length === grpo.sampler.gen_length)).toBe(true);
  });

  it('the signs format (configs/countdown-signs-*.yaml, configs/study/countdown-signs.yaml, countdown-scarce.yaml): every row fits, the answer fits gen_length, the plans decode what the rollouts decode', () => {
    const signs = loadConfig(at('configs/countdown-signs-sft.yaml'), trainConfigSchema, ['data.num_train=500', 'data.num_eval=16', 'runtime.data_dir=' + at('data')]).config;
    const signsGrpo = loadConfig(at('configs/countdown-signs-grpo.yaml'), grpoConfigSchema, []).config;
    const { tokenizer, trainSet } = prepareData(signs, null, pino({ level: 'silent' }));
    expect(trainSet.dropped).toBe(0);
    const rows = generateCountdownSet(79, 500, { signs: true }) as unknown as Record<string, unknown>[];
    for (const r of rows) {
      const { prompt, answer } = formatExample('countdown', r);
      expect(tokenizer.encode(prompt)).toHaveLength(17);
      expect(tokenizer.encode(answer)).toHaveLength(14); // <answer> + 12 characters + </answer>
      expect(tokenizer.decode(tokenizer.encode(prompt + answer))).toBe(prompt + answer);
    }
    expect(17 + signsGrpo.sampler.gen_length).toBeLessThanOrEqual(signs.model.max_seq_len);
    expect(14 + 1).toBeLessThanOrEqual(signsGrpo.sampler.gen_length);
    for (const file of ['configs/study/countdown-signs.yaml', 'configs/study/countdown-scarce.yaml']) {
      const plan = loadPlan(at(file)); // every cell's config: test/study/plans.test.ts
      expect(plan.evals.every((e) => e.gen_length === signsGrpo.sampler.gen_length)).toBe(true);
    }
    // The scarce plan's SFT trains on 500 labels, and its selection/test match countdown-signs.yaml's (the tables compare).
    const scarce = loadPlan(at('configs/study/countdown-scarce.yaml'));
    expect(scarce.sft.set).toContain('data.num_train=500');
    expect(scarce.select).toEqual(loadPlan(at('configs/study/countdown-signs.yaml')).select);
  });

  it('GRPO data.countdown_signs: every prompt is a signed-sum puzzle and its inpainting reference is in the signs format', () => {
    const g = loadConfig(at('configs/countdown-signs-grpo.yaml'), grpoConfigSchema, ['data.num_train=200', 'runtime.data_dir=' + at('data')]).config;
    const rows = loadPromptRows(g);
    expect(rows).toHaveLength(200);
    for (const { prompt, row } of rows) {
      const signs = signedSumSigns(row.numbers as number[], row.target as number);
      expect(signs).not.toBeNull();
      expect(prompt).toMatch(/^\d{3},\d{3},\d{3}->\d{3}:$/);
      expect(referenceAnswer('countdown', row)).toBe(`<answer>${signs}</answer>`);
    }
  });
});
