import path from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.ts';
import { grpoConfigSchema, trainConfigSchema } from '../../src/config/schema.ts';
import { cells, loadCellConfig, loadPlan } from '../../src/study/plan.ts';
import { generateArithmeticSet } from '../../src/tasks/arithmetic.ts';
import { prepareData } from '../../src/train/prepare.ts';
import { formatExample, formatPrompt, tokenizerFromJSON } from '../../src/tokenizer/index.ts';
import { REPO_ROOT } from '../paths.ts';

const at = (f: string) => path.join(REPO_ROOT, f);

describe('arithmetic configs (configs/arithmetic-*.yaml, configs/study/arithmetic-*.yaml)', () => {
  const sft = loadConfig(at('configs/arithmetic-sft.yaml'), trainConfigSchema, ['data.num_train=128', 'data.num_eval=16', 'runtime.data_dir=' + at('data')]).config;
  const grpo = loadConfig(at('configs/arithmetic-grpo.yaml'), grpoConfigSchema, []).config;

  it("tokenizes d1's tags as single tokens, fits every row in data.seq_len, and leaves room for gen_length after the longest prompt", () => {
    const { tokenizer, trainSet } = prepareData(sft, null, pino({ level: 'silent' }));
    expect(trainSet.dropped).toBe(0);
    for (const tag of ['<reasoning>', '</reasoning>', '<answer>', '</answer>']) expect(tokenizer.encode(tag)).toHaveLength(1);
    // Problems the tokenizer was not trained on (another seed) fit too: the prompt plus the sampler's gen_length is <= seq_len.
    const rows = generateArithmeticSet(77, 2000).map((it) => ({ ...it }));
    const longestPrompt = Math.max(...rows.map((r) => tokenizer.encode(formatPrompt('arithmetic', r)).length));
    const longestAnswer = Math.max(...rows.map((r) => tokenizer.encode(formatExample('arithmetic', r).answer).length));
    expect(longestPrompt + grpo.sampler.gen_length).toBeLessThanOrEqual(sft.data.seq_len);
    expect(longestAnswer + 1).toBeLessThanOrEqual(grpo.sampler.gen_length); // + EOS
    // What a checkpoint stores (tokenizer.json) loads back to the same tokenizer.
    const back = tokenizerFromJSON(tokenizer.toJSON());
    const text = formatPrompt('arithmetic', rows[0]) + formatExample('arithmetic', rows[0]).answer;
    expect(back.encode(text)).toEqual(tokenizer.encode(text));
  });

  for (const name of ['arithmetic-scarce', 'arithmetic-small', 'arithmetic-small-scarce']) {
    it(`${name}: every cell trains and is selected on the same kind of problem`, () => {
      const plan = loadPlan(at(`configs/study/${name}.yaml`));
      for (const cell of cells(plan)) {
        const config = loadCellConfig(cell); // valid: test/study/plans.test.ts
        // SFT data, RL prompts and the held-out sets are the same kind of problem
        const small = name !== 'arithmetic-scarce';
        expect((config.data as { arithmetic_small: boolean }).arithmetic_small).toBe(small);
        expect(plan.select.arithmetic_small ?? false).toBe(small);
      }
      expect(plan.evals.every((e) => e.gen_length === grpo.sampler.gen_length)).toBe(true);
    });
  }

  it('the scarce plan trains on 500 labels, the other on the config\'s 20,000', () => {
    const n = (name: string) => loadConfig(at('configs/arithmetic-sft.yaml'), trainConfigSchema, cells(loadPlan(at(`configs/study/${name}.yaml`))).find((c) => c.kind === 'sft')!.spec.set).config.data.num_train;
    expect(n('arithmetic-small-scarce')).toBe(500);
    expect(n('arithmetic-small')).toBe(20000);
  });
});
