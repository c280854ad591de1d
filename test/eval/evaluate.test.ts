import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { tableFromIPC } from 'apache-arrow';
import { beforeAll, describe, expect, it } from 'vitest';
import { saveCheckpoint } from '../../src/checkpoint/checkpoint.ts';
import { resolveDataDir } from '../../src/data/index.ts';
import { evaluate, writeEvalResults } from '../../src/eval/evaluate.ts';
import { meanInterval, wilson } from '../../src/eval/stats.ts';
import { sudokuCellAccuracy, sudokuCellCredit } from '../../src/parsing/sudoku_score.ts';
import type { ModelConfig } from '../../src/model/config.ts';
import { loadModel } from '../../src/checkpoint/load_model.ts';
import { disposeParams, initParams } from '../../src/model/model.ts';
import { buildCharTokenizer } from '../../src/tokenizer/index.ts';

const tok = buildCharTokenizer('0123456789+-*/()=,:<>answer ');
let ckpt = '';

beforeAll(async () => {
  await tf.setBackend('cpu');
  const cfg: ModelConfig = { vocab_size: tok.vocabSize, d_model: 16, n_layers: 1, n_heads: 2, mlp_hidden: 32, max_seq_len: 64, rope_theta: 10000, norm_eps: 1e-5, mask_token_id: tok.maskId, eos_token_id: tok.eosId, pad_token_id: tok.padId, init_seed: 2 };
  ckpt = fs.mkdtempSync(path.join(os.tmpdir(), 'eval-'));
  const params = initParams(cfg);
  await saveCheckpoint(ckpt, 'step-000001', { config: cfg as unknown as object, params, tokenizerJson: tok.toJSON() });
  disposeParams(params);
});

describe('evaluate', () => {
  it('scores a deterministic 5-item subset of countdown and sudoku and writes JSONL + Arrow', async () => {
    const model = loadModel(ckpt);
    for (const task of ['countdown', 'sudoku'] as const) {
      const opts = { task, subset: 5, seed: 3, dataDir: resolveDataDir(), batch_size: 4, sampler: { gen_length: 8, block_length: 8, steps: 8 } };
      const a = await evaluate(model, opts);
      const b = await evaluate(model, opts);
      expect(a.summary.n).toBe(5);
      expect(a.items.map((i) => i.index)).toEqual(b.items.map((i) => i.index)); // same subset for the same seed
      expect(a.items.map((i) => i.completion)).toEqual(b.items.map((i) => i.completion)); // greedy: same outputs
      expect(a.summary.nfe).toBe(2 * 8); // two batches (4 + 1) of 8 steps
      for (const it of a.items) expect(it.score).toBeGreaterThanOrEqual(0);
      const base = path.join(ckpt, 'eval', task);
      writeEvalResults(base, a.summary, a.items);
      expect(fs.readFileSync(`${base}.jsonl`, 'utf8').trim().split('\n')).toHaveLength(6);
      expect(fs.statSync(`${base}.arrow`).size).toBeGreaterThan(0);
    }
    model.dispose();
  });

  it('the summary names the parser (default d1) and Sudoku reports the solve rate; the rows carry it in Arrow too', async () => {
    const model = loadModel(ckpt);
    const opts = { task: 'sudoku' as const, subset: 3, seed: 1, dataDir: resolveDataDir(), batch_size: 4, sampler: { gen_length: 8, block_length: 8, steps: 8 } };
    const d1 = await evaluate(model, opts);
    const lenient = await evaluate(model, { ...opts, parser: 'lenient' });
    expect(d1.summary.parser).toBe('d1');
    expect(lenient.summary.parser).toBe('lenient');
    for (const r of [d1, lenient]) {
      expect(r.summary.solve_rate).toBe(r.items.filter((i) => i.solved).length / 3);
      expect(r.summary.solve_ci95).toHaveLength(2);
    }
    const counted = await evaluate(model, { ...opts, task: 'countdown' });
    expect(counted.summary.parser).toBe('d1');
    expect(counted.summary.solve_rate).toBeUndefined();
    const base = path.join(ckpt, 'eval', 'parser');
    writeEvalResults(base, lenient.summary, lenient.items);
    const table = tableFromIPC(fs.readFileSync(`${base}.arrow`));
    expect(table.getChild('parser')!.get(0)).toBe('lenient');
    expect(table.getChild('solved')).not.toBeNull();
    model.dispose();
  });

  it('yarn eval prints the summary line with accuracy, CI and NFE', async () => {
    const { stdout } = await promisify(execFile)('node', ['--import', 'tsx', 'src/cli/eval.ts', '--checkpoint', ckpt, '--task', 'sudoku', '--subset', '5', '--backend', 'cpu', '--gen-length', '8', '--block-length', '8', '--steps', '4']);
    const out = JSON.parse(stdout.trim().split('\n').pop()!);
    expect(out).toMatchObject({ task: 'sudoku', n: 5, nfe: 4, gen_length: 8, parser: 'd1' });
    expect(out.solve_rate).toBeGreaterThanOrEqual(0);
    expect(out.ci95[0]).toBeLessThanOrEqual(out.accuracy);
    expect(fs.existsSync(out.results)).toBe(true);
  });
});

describe('eval statistics and Sudoku scoring', () => {
  it('Wilson interval by hand: 8 of 10', () => {
    // p = 0.8, z = 1.96: centre (0.8 + 0.19208) / 1.38416 = 0.71675, half 1.96*sqrt(0.016 + 0.00096)/1.38416 = 0.18441
    const [lo, hi] = wilson(8, 10);
    expect(lo).toBeCloseTo(0.4902, 3);
    expect(hi).toBeCloseTo(0.9433, 3);
  });
  it('fractional scores use mean ± 1.96 s / sqrt(n)', () => {
    const [lo, hi] = meanInterval([0.5, 0.75, 1, 0.25]); // mean 0.625, s = 0.3227
    expect(lo).toBeCloseTo(0.625 - (1.96 * 0.32275) / 2, 3);
    expect(hi).toBeCloseTo(0.625 + (1.96 * 0.32275) / 2, 3);
  });
  it('cell accuracy counts only the empty cells, with or without <answer> tags', () => {
    const puzzle = '1200340000000000';
    const solution = '1243342143122134';
    expect(sudokuCellAccuracy(solution, puzzle, solution).accuracy).toBe(1);
    expect(sudokuCellAccuracy(`<answer>${solution}</answer>`, puzzle, solution).accuracy).toBe(1);
    expect(sudokuCellAccuracy('12', puzzle, solution).accuracy).toBe(0); // padded with 0s
    expect(sudokuCellAccuracy('1243', puzzle, solution).accuracy).toBeCloseTo(2 / 12, 10);
  });
  it('process credit: 1/empty at the character of each correct empty cell, 0 at each wrong or unwritten one, summing to the accuracy', () => {
    const puzzle = '1200340000000000';
    const solution = '1243342143122134';
    // '1243' fills cells 2 and 3 correctly: their digits sit at offsets 2 and 3; cells 6-15 are never written, judged
    // wrong (0) at the completion's end, offset 4.
    const unwritten = (at: number) => Array(10).fill({ at, value: 0 });
    expect(sudokuCellCredit('1243', puzzle, solution).credit).toEqual([{ at: 2, value: 1 / 12 }, { at: 3, value: 1 / 12 }, ...unwritten(4)]);
    // In tags, after some text, with a wrong digit at cell 3 (judged: value 0): offsets point into the completion string.
    const text = 'x <answer>1 2 4 1</answer>';
    const { credit, accuracy } = sudokuCellCredit(text, puzzle, solution);
    expect(credit).toEqual([{ at: text.indexOf('4'), value: 1 / 12 }, { at: text.lastIndexOf('1'), value: 0 }, ...unwritten(text.length)]);
    expect(accuracy).toBeCloseTo(1 / 12, 12);
    const full = sudokuCellCredit(solution, puzzle, solution);
    expect(full.credit.map((c) => c.at)).toEqual([2, 3, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    expect(full.credit.reduce((a, c) => a + c.value, 0)).toBeCloseTo(full.accuracy, 12);
  });
});

describe('code tasks (sandboxed pass@1)', () => {
  it('HumanEval and MBPP reference solutions score 1, a wrong one 0', async () => {
    const { taskSpec } = await import('../../src/eval/tasks.ts');
    const dataDir = resolveDataDir();
    const he = taskSpec('humaneval');
    const row = he.load(dataDir)[0];
    expect(he.prompt(row)).toContain('def ');
    expect((await he.score(String(row.canonical_solution), row)).score).toBe(1);
    expect((await he.score('    return None\n', row)).score).toBe(0);
    const mb = taskSpec('mbpp');
    const rows = mb.load(dataDir);
    expect(rows).toHaveLength(500);
    expect((await mb.score('```python\n' + String(rows[0].code) + '\n```', rows[0])).score).toBe(1);
  });
});

describe('several samples per item: unbiased pass@k', () => {
  it('passAtK by hand (n 4): c 1 → 1/4, 1 − C(3,2)/C(4,2) = 1/2, 1; c 2, k 2 → 5/6; none or all', async () => {
    const { passAtK } = await import('../../src/eval/stats.ts');
    expect([1, 2, 4].map((k) => passAtK(4, 1, k))).toEqual([0.25, 0.5, 1]);
    expect(passAtK(4, 2, 2)).toBeCloseTo(5 / 6, 12);
    expect(passAtK(4, 0, 3)).toBe(0);
    expect(passAtK(4, 4, 1)).toBe(1);
    // a large n against C(n−c, k) / C(n, k) in logs
    const logChoose = (a: number, b: number) => Array.from({ length: b }, (_, i) => Math.log((a - b + 1 + i) / (1 + i))).reduce((x, y) => x + y, 0);
    expect(passAtK(200, 10, 100)).toBeCloseTo(1 - Math.exp(logChoose(190, 100) - logChoose(200, 100)), 12);
    expect(() => passAtK(4, 5, 1)).toThrow(/0 <= c <= n/);
  });

  it('S samples per item: S rows each, accuracy = pass@1, pass@k from the passes per item, CI over items', async () => {
    const { taskSpec, loadEvalItems } = await import('../../src/eval/tasks.ts');
    const model = loadModel(ckpt);
    const dataDir = resolveDataDir();
    const spec = taskSpec('sudoku');
    const byPrompt = new Map(loadEvalItems('sudoku', dataDir, null).map((it) => [spec.prompt(it), spec.gold(it)]));
    const seen: number[] = [];
    // Item j of each batch (in order) gets its solution in its first (order % 5) samples, a wrong grid in the others.
    let order = 0;
    const fake = async (g: { prompts: number[][]; num_generations?: number }) => {
      const S = g.num_generations ?? 1;
      seen.push(g.prompts.length * S);
      const sequences = g.prompts.flatMap((p) => {
        const solution = byPrompt.get(model.tokenizer.decode(p, { skipSpecial: true }))!;
        const c = order++ % 5;
        return Array.from({ length: S }, (_, s) => model.tokenizer.encode(s < c ? solution : '1'.repeat(16)));
      });
      return { sequences, full: sequences, nfe: 1, positions: 0, promptLengths: [] } as never;
    };
    const { summary, items } = await evaluate({ ...model, generate: fake }, { task: 'sudoku', subset: 5, seed: 1, parser: 'lenient', dataDir, batch_size: 8, samples: 4, sampler: { gen_length: 17 } });
    expect(seen).toEqual([8, 8, 4]); // 2 items × 4 samples per batch of 8 rows
    expect(items).toHaveLength(20);
    expect(items.map((i) => i.sample)).toEqual(Array.from({ length: 20 }, (_, r) => r % 4));
    expect(summary.n).toBe(5);
    expect(summary.samples).toBe(4);
    // passes per item 0, 1, 2, 3, 4 (c = 0 … 4)
    const passes = Array.from({ length: 5 }, (_, j) => items.slice(j * 4, j * 4 + 4).filter((i) => i.score === 1).length);
    expect(passes).toEqual([0, 1, 2, 3, 4]);
    expect(summary.pass_at_k!['1']).toBeCloseTo((0 + 1 / 4 + 2 / 4 + 3 / 4 + 1) / 5, 12);
    expect(summary.pass_at_k!['2']).toBeCloseTo((0 + 1 / 2 + 5 / 6 + 1 + 1) / 5, 12);
    expect(summary.pass_at_k!['4']).toBeCloseTo(4 / 5, 12);
    expect(Object.keys(summary.pass_at_k!)).toEqual(['1', '2', '4']);
    // the wrong grid '1111…' still gets the cells that happen to be 1, so accuracy ≥ pass@1; the CI is over the 5 items
    expect(summary.accuracy).toBeGreaterThanOrEqual(summary.pass_at_k!['1']);
    const perItem = Array.from({ length: 5 }, (_, j) => items.slice(j * 4, j * 4 + 4).reduce((a, i) => a + i.score, 0) / 4);
    expect(summary.ci95).toEqual(meanInterval(perItem));
    model.dispose();
  });
});
