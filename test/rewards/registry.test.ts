import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.ts';
import { rewardSourceFromConfig } from '../../src/rewards/registry.ts';

const spec = (s: Record<string, unknown>) => ({ weight: 1, args: {}, ...s });
const examples = path.resolve('examples');

describe('rewardSourceFromConfig', () => {
  it('loads the example module and combines weighted rewards with built-ins', async () => {
    const src = await rewardSourceFromConfig(
      [spec({ name: 'sudoku' }), spec({ module: 'length_penalty.ts', export: 'lengthPenalty', weight: 0.5, args: { target: 4 } })],
      examples,
    );
    const rows = [{ puzzle: '1200340000000000', solution: '1243342143122134' }];
    // 12 blanks (positions 2, 3, 6-15); the completion fills two correctly ('4' at 2, '3' at 3) and nothing else: 2/12.
    const out = await src.score(['p'], ['1243'], rows);
    expect(out.perFn.sudoku[0]).toBeCloseTo(2 / 12, 10);
    expect(out.perFn.lengthPenalty[0]).toBeCloseTo(0, 10); // length 4 = target
    expect(out.total[0]).toBeCloseTo(2 / 12, 10);
    const longer = await src.score(['p'], ['12434444'], rows);
    expect(longer.perFn.lengthPenalty[0]).toBe(-1); // |8 - 4| / 4
    expect(longer.total[0]).toBeCloseTo(longer.perFn.sudoku[0]! - 0.5, 10);
  });

  it('countdown + countdown_closeness (weight 0.3) as in configs/study/countdown-scarce.yaml: hand totals', async () => {
    const src = await rewardSourceFromConfig([spec({ name: 'countdown' }), spec({ name: 'countdown_closeness', weight: 0.3 })], examples);
    const row = { numbers: [30, 100, 93], target: 23 };
    const out = await src.score(['p', 'p', 'p'], ['<answer>+ 30-100+ 93</answer>', '<answer>+ 30+100- 93</answer>', 'no answer'], [row, row, row]);
    expect(out.total[0]).toBeCloseTo(1 + 0.3, 12); // right
    expect(out.total[1]).toBeCloseTo(0.1 + 0.3 * (1 - 14 / 100), 12); // 37: 14 away
    expect(out.total[2]).toBe(0);
  });

  it('checks a built-in reward\'s args when the config is loaded, naming the key', async () => {
    await expect(rewardSourceFromConfig([spec({ name: 'countdown' }), spec({ name: 'countdown_closeness', args: { scale: 0 } })], examples)).rejects.toThrow(
      /rewards\[1\]\.args: countdown_closeness: args.scale must be a positive number, got 0/,
    );
    await expect(rewardSourceFromConfig([spec({ name: 'sudoku', args: { parser: 'strict' } })], examples)).rejects.toThrow(/rewards\[0\]\.args: .*args.parser/);
  });

  it('code_tests runs the completion against the row\'s unit tests in the sandbox', async () => {
    const src = await rewardSourceFromConfig([spec({ name: 'code_tests', args: { timeout_ms: 10000 } })], examples);
    const rows = [{ test_list: ['assert add(1, 2) == 3', 'assert add(2, 2) == 4', 'assert add(0, 0) == 1'] }];
    const out = await src.score(['p', 'p'], ['```python\ndef add(a, b):\n    return a + b\n```', 'def add(a, b):\n    while True: pass'], [rows[0], rows[0]]);
    expect(out.perFn.code_tests[0]).toBeCloseTo(2 / 3, 10); // the third assert is wrong on purpose
    expect(out.perFn.code_tests[1]).toBe(0);
    expect(src.errors.code_tests ?? 0).toBe(0);
  }, 60000);

  it('rejects a missing file, a missing export and an unknown built-in with the config key', async () => {
    await expect(rewardSourceFromConfig([spec({ module: 'nope.ts' })], examples)).rejects.toThrow(/rewards\[0\]\.module: file not found/);
    await expect(rewardSourceFromConfig([spec({ name: 'sudoku' }), spec({ module: 'length_penalty.ts', export: 'missing' })], examples)).rejects.toThrow(
      /rewards\[1\]\.export: .* has no function export 'missing' \(it exports: lengthPenalty\)/,
    );
    await expect(rewardSourceFromConfig([spec({ name: 'nosuch' })], examples)).rejects.toThrow(ConfigError);
    await expect(rewardSourceFromConfig([spec({})], examples)).rejects.toThrow(/rewards\[0\]: give either name/);
  });

  it('rejects a wrong return shape or a throw at the probe call, before training', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rw-'));
    fs.writeFileSync(path.join(dir, 'bad.mjs'), 'export const shape = () => [1, 2];\nexport const boom = () => { throw new Error("kaboom"); };\n');
    await expect(rewardSourceFromConfig([spec({ module: 'bad.mjs', export: 'shape' })], dir)).rejects.toThrow(/probe call .* must return an array of 1/);
    await expect(rewardSourceFromConfig([spec({ module: 'bad.mjs', export: 'boom' })], dir)).rejects.toThrow(/probe call .*kaboom/);
  });

  it('passes process credit through, weighted, and rejects credit outside the completion', async () => {
    const src = await rewardSourceFromConfig([spec({ name: 'sudoku', weight: 2 })], examples);
    const rows = [{ puzzle: '1200340000000000', solution: '1243342143122134' }];
    const out = await src.score(['p'], ['1243'], rows);
    expect(out.perFn.sudoku[0]).toBeCloseTo(2 / 12, 10);
    expect(out.total[0]).toBeCloseTo(4 / 12, 10);
    // Cells 6-15 were never written: judged wrong (value 0) at the completion's end, offset 4.
    expect(out.credit![0]).toEqual([{ at: 2, value: 2 / 12 }, { at: 3, value: 2 / 12 }, ...Array(10).fill({ at: 4, value: 0 })]);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rw-'));
    fs.writeFileSync(path.join(dir, 'far.mjs'), 'export default ({ completions }) => completions.map((c) => ({ reward: 1, credit: [{ at: c.length + 1, value: 1 }] }));\n');
    await expect(rewardSourceFromConfig([spec({ module: 'far.mjs' })], dir)).rejects.toThrow(/character offset of the completion/);
  });

  it('a reward that fails during training scores 0 and is counted, never thrown', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rw-'));
    fs.writeFileSync(path.join(dir, 'flaky.mjs'), 'export default ({ completions }) => { if (completions.length > 1) throw new Error("late"); return [1]; };\n');
    const src = await rewardSourceFromConfig([spec({ module: 'flaky.mjs' })], dir);
    const out = await src.score(['a', 'b'], ['x', 'y'], [{}, {}]);
    expect(out.total).toEqual([0, 0]);
    expect(src.errors.default).toBe(1);
  });
});
