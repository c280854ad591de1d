/** train/expert_iteration.ts: which sampled completions become training rows, the pool, and the round's files. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { eiConfigSchema, type EiConfig } from '../../src/config/ei_schema.ts';
import { loadConfig } from '../../src/config/load.ts';
import { readJsonl } from '../../src/data/index.ts';
import { generatePool, problemKey, verifiedAnswers, verifiedExamples, verifiedRows } from '../../src/train/expert_iteration.ts';
import { formatExample } from '../../src/tokenizer/templates.ts';
import { DATA_DIR, REPO_ROOT } from '../paths.ts';

const ar = (index: number, completion: string, score: number) => ({ index, completion, score, sample: 0 });
const tpl = (lines: string, n: string) => `<reasoning>\n${lines}\n</reasoning>\n<answer>\n${n}\n</answer>\n`;
const entries = (kept: Map<number, Set<string>>) => [...kept.entries()].map(([i, s]) => [i, [...s]]);

describe('expert iteration: verified answers', () => {
  it('arithmetic: keeps right answers in the template whose every line is computed right, distinct per item', () => {
    const { kept, right, wrongLine } = verifiedAnswers('arithmetic', [
      { summary: { accuracy: 0.5 } },
      ar(0, tpl('2 * 3 = 6\n6 - 3 = 3', '3'), 1),
      ar(0, tpl('2 * 3 = 6\n6 - 3 = 3', '3'), 1), // a duplicate: one row
      ar(1, tpl('9 + 2 = 10', '11'), 1), // right answer under a miscomputed line: dropped
      ar(1, tpl('9 + 1 = 11', '11'), 1), // wrong operand, line miscomputed: dropped
      ar(2, tpl('4 + 3 = 7', '7'), 0), // wrong per the checker (score 0): not counted
      ar(3, '<answer>\n5\n</answer>\n', 1), // no worked lines: not the template, skipped (not counted as a wrong line)
      ar(4, tpl('63 / 7 = 9', '9'), 1),
    ]);
    expect(right).toBe(6);
    expect(wrongLine).toBe(2);
    expect(entries(kept)).toEqual([[0, ['2 * 3 = 6\n6 - 3 = 3\n#### 3']], [4, ['63 / 7 = 9\n#### 9']]]);
  });

  it('countdown: the <answer> text of right completions, every distinct one', () => {
    const { kept, right } = verifiedAnswers('countdown', [
      { index: 0, completion: '<answer>+ 30-100+ 93</answer>', score: 1 },
      { index: 0, completion: '<answer>- 30+100- 93</answer>', score: 1 },
      { index: 0, completion: '<answer>+ 30-100+ 93</answer>', score: 1 },
      { index: 1, completion: '<answer>+ 30+100+ 93</answer>', score: 0 },
      { index: 2, completion: 'no answer', score: 1 },
    ]);
    expect(right).toBe(4);
    expect(entries(kept)).toEqual([[0, ['+ 30-100+ 93', '- 30+100- 93']]]);
  });

  it('sudoku: only completions that solve the whole grid, as the solution', () => {
    const { kept, right } = verifiedAnswers('sudoku', [
      { index: 0, completion: '1234341221434321', gold: '1234341221434321', score: 1, solved: true },
      { index: 1, completion: '1234341221434312', gold: '1234341221434321', score: 0.75, solved: false },
      { index: 2, completion: '4321123434122143', gold: '4321123434122143', score: 1, solved: true },
    ]);
    expect(right).toBe(2);
    expect(entries(kept)).toEqual([[0, ['1234341221434321']], [2, ['4321123434122143']]]);
  });

  it('builds training rows the templates read: the pool problem with the verified answer', () => {
    const pool = [{ numbers: [30, 100, 93], target: 23 }, { numbers: [1, 2, 3], target: 6 }];
    const rows = verifiedRows('countdown', pool, new Map([[1, new Set(['+ 1+ 2+ 3'])], [0, new Set(['+ 30-100+ 93', '- 30+100- 93'])]]));
    expect(rows).toEqual([
      { numbers: [30, 100, 93], target: 23, solution: '+ 30-100+ 93' },
      { numbers: [30, 100, 93], target: 23, solution: '- 30+100- 93' },
      { numbers: [1, 2, 3], target: 6, solution: '+ 1+ 2+ 3' },
    ]);
    expect(formatExample('countdown', rows[2]).answer).toBe('<answer>+ 1+ 2+ 3</answer>');
    const ar = verifiedRows('arithmetic', [{ question: 'Q?' }], new Map([[0, new Set(['2 + 3 = 5\n#### 5'])]]));
    expect(formatExample('arithmetic', ar[0]).answer).toBe('<reasoning>\n2 + 3 = 5\n</reasoning>\n<answer>\n5\n</answer>\n');
  });
});

describe('expert iteration: the pool', () => {
  it('n new problems, deterministic, none excluded, none repeated, none from the test file', () => {
    const opts = { countdownSigns: true, arithmeticSmall: false };
    const first = generatePool('countdown', 3, 50, DATA_DIR, new Set(), opts);
    const exclude = new Set(first.slice(0, 10).map((r) => problemKey('countdown', r)));
    const pool = generatePool('countdown', 3, 50, DATA_DIR, exclude, opts);
    expect(pool).toHaveLength(50);
    expect(generatePool('countdown', 3, 50, DATA_DIR, exclude, opts)).toEqual(pool);
    const keys = pool.map((r) => problemKey('countdown', r));
    expect(new Set(keys).size).toBe(50);
    expect(keys.some((k) => exclude.has(k))).toBe(false);
    expect(pool.slice(0, 40)).toEqual(first.slice(10, 50)); // the same stream with the excluded ones skipped
    const test = new Set(readJsonl(path.join(DATA_DIR, 'countdown/countdown_cd3_test.jsonl')).map((r) => problemKey('countdown', r)));
    expect(keys.some((k) => test.has(k))).toBe(false);
    // A test-file row and a generated row of the same puzzle have the same key.
    expect(problemKey('countdown', { input: '30,100,93', output: '23' })).toBe(problemKey('countdown', { numbers: [30, 100, 93], target: 23 }));
  });
});

describe('expert iteration: a round', () => {
  it('samples once, writes pool/verified/ei.json, returns labels-to-add; a rerun with the same inputs reuses them', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ei-'));
    const exclude = path.join(dir, 'select.jsonl');
    fs.writeFileSync(exclude, JSON.stringify({ input: '30,100,93', output: '23' }) + '\n');
    const sets = [`run.output_dir=${path.join(dir, 'run')}`, 'model.init_from=somewhere', 'expert_iteration.pool_size=6', `expert_iteration.exclude=[${exclude}]`];
    const config = loadConfig(path.join(REPO_ROOT, 'configs/countdown-signs-ei.yaml'), eiConfigSchema, sets).config as EiConfig;
    let calls = 0;
    let poolSeen: Record<string, unknown>[] = [];
    // A stand-in sampler: item 0 right twice (one distinct answer), item 3 right once, everything else wrong.
    const sample = async (poolFile: string, task: string) => {
      calls++;
      expect(task).toBe('countdown');
      poolSeen = readJsonl(poolFile);
      const sol = (i: number) => `<answer>+${poolSeen[i].input}</answer>`; // not checked here: the checker's score is
      return [
        { summary: { accuracy: 0.25 } },
        { index: 0, completion: sol(0), score: 1, sample: 0 }, { index: 0, completion: sol(0), score: 1, sample: 1 },
        { index: 1, completion: 'x', score: 0, sample: 0 }, { index: 3, completion: sol(3), score: 1, sample: 0 },
      ];
    };
    const logger = pino({ level: 'silent' });
    const examples = await verifiedExamples(config, sample, logger);
    expect(calls).toBe(1);
    expect(poolSeen).toHaveLength(6);
    expect(poolSeen.some((r) => r.input === '30,100,93' && r.output === '23')).toBe(false);
    expect(examples).toHaveLength(2);
    expect(examples[0].prompt).toBe(formatExample('countdown', { input: poolSeen[0].input, output: poolSeen[0].output }).prompt);
    expect(examples[1].answer).toBe(`<answer>+${poolSeen[3].input}</answer>`);
    const record = JSON.parse(fs.readFileSync(path.join(dir, 'run', 'ei', 'ei.json'), 'utf8'));
    expect(record).toMatchObject({ problems: 6, samples: 5, right: 3, solved_problems: 2, verified: 2 });
    expect(fs.readFileSync(path.join(dir, 'run', 'ei', 'verified.jsonl'), 'utf8').trim().split('\n')).toHaveLength(2);
    // Same inputs: reused without sampling; other inputs (another pool seed): sampled again.
    expect(await verifiedExamples(config, sample, logger)).toEqual(examples);
    expect(calls).toBe(1);
    await verifiedExamples({ ...config, expert_iteration: { ...config.expert_iteration, pool_seed: 5 } }, sample, logger);
    expect(calls).toBe(2);
  });

  it('refuses what it cannot do, naming the key', async () => {
    const logger = pino({ level: 'silent' });
    const load = (sets: string[]) => loadConfig(path.join(REPO_ROOT, 'configs/countdown-signs-ei.yaml'), eiConfigSchema, ['run.output_dir=/nonexistent/x', ...sets]).config as EiConfig;
    const never = async () => { throw new Error('no sampling expected'); };
    await expect(verifiedExamples(load([]), never, logger)).rejects.toThrow(/model\.init_from/);
    await expect(verifiedExamples(load(['model.init_from=a', 'expert_iteration.exclude=[no-such-file.jsonl]']), never, logger)).rejects.toThrow(/expert_iteration\.exclude: no-such-file\.jsonl does not exist/);
    await expect(verifiedExamples(load(['model.init_from=a', 'data.countdown_signs=false', 'data.countdown_trace=true']), never, logger)).rejects.toThrow(/countdown_trace/);
    expect(() => load(['expert_iteration.temperature=0'])).toThrow(/expert_iteration\.temperature/);
    expect(() => load(['expert_iteration.pool=3'])).toThrow(/pool/);
  });
});

describe('expert iteration: sampling in worker threads', () => {
  it('splits the pool into contiguous parts and merges them back in pool order (indices, prompts, summary)', async () => {
    const { train } = await import('../../src/train/trainer.ts');
    const { samplePool } = await import('../../src/train/ei_sampling.ts');
    const { trainConfigSchema } = await import('../../src/config/schema.ts');
    const { formatPrompt } = await import('../../src/tokenizer/templates.ts');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ei-threads-'));
    const micro = ['model.d_model=16', 'model.n_layers=1', 'model.n_heads=2', 'model.mlp_hidden=32', 'logging.progress=off', 'data.num_train=40', 'data.num_eval=8', 'training.batch_size=8', 'training.max_steps=2', 'training.eval_every=0', `run.output_dir=${path.join(dir, 'sft')}`];
    const logger = pino({ level: 'silent' });
    await train(loadConfig(path.join(REPO_ROOT, 'configs/sudoku-sft.yaml'), trainConfigSchema, micro).config, { logger });
    const ei = ['expert_iteration.pool_size=6', 'expert_iteration.samples=2', 'expert_iteration.gen_length=17', 'expert_iteration.block_length=17', 'expert_iteration.steps=5', `model.init_from=${path.join(dir, 'sft')}`];
    const config = (w: number) => loadConfig(path.join(REPO_ROOT, 'configs/sudoku-sft.yaml'), eiConfigSchema, [...micro, ...ei, `training.workers=${w}`]).config as EiConfig;
    const pool = generatePool('sudoku', 1, 6, DATA_DIR, new Set(), { countdownSigns: false, arithmeticSmall: false });
    const poolFile = path.join(dir, 'ei', 'pool.csv');
    fs.mkdirSync(path.dirname(poolFile));
    fs.writeFileSync(poolFile, ['Puzzle,Solution', ...pool.map((r) => `${r.puzzle},${r.solution}`)].join('\n') + '\n');
    const lines: string[] = [];
    const items = await samplePool(config(2), 'wasm', poolFile, 'sudoku', DATA_DIR, pino({ level: 'info' }, { write: (l: string) => lines.push(l) }));
    // The threads' progress is logged as the pool's total, never going back, up to every problem.
    const progress = lines.map((l) => JSON.parse(l)).filter((m) => m.msg === 'expert iteration: sampling progress');
    expect(progress.length).toBeGreaterThan(0);
    progress.forEach((m, i) => expect(m.done).toBeGreaterThanOrEqual(i === 0 ? 1 : progress[i - 1].done));
    expect(progress.at(-1)).toMatchObject({ done: 6, total: 6 });
    expect(items.map((i) => [i.index, i.sample])).toEqual([0, 1, 2, 3, 4, 5].flatMap((i) => [[i, 0], [i, 1]]));
    items.forEach((it) => expect(it.prompt).toBe(formatPrompt('sudoku', pool[it.index])));
    expect(fs.readdirSync(path.join(dir, 'ei')).sort()).toEqual(['pool.csv', 'samples.arrow', 'samples.jsonl']); // parts removed
    const summary = JSON.parse(fs.readFileSync(path.join(dir, 'ei', 'samples.jsonl'), 'utf8').split('\n')[0]).summary;
    expect(summary).toMatchObject({ n: 6, samples: 2 });
    expect(summary.accuracy).toBeCloseTo(items.reduce((a, i) => a + i.score, 0) / 12, 12);
    // One thread: the same rows in the same order (other random draws: part k is sampled with seed run.seed + k).
    const one = await samplePool(config(1), 'wasm', poolFile, 'sudoku', DATA_DIR, logger);
    expect(one.map((i) => [i.index, i.prompt])).toEqual(items.map((i) => [i.index, i.prompt]));
  }, 120_000);
});
