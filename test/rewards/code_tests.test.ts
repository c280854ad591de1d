import fs from 'node:fs';
import { beforeEach, describe, expect, it } from 'vitest';
import { codeStats, codeTestsReward, extractCode, resetCodeStats } from '../../src/rewards/code_tests.ts';
import { DATA_DIR as DATA } from '../paths.ts';

type Row = Record<string, unknown>;
const jsonl = (file: string): Row[] => fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Row);
const humanEval = jsonl(`${DATA}/humaneval/HumanEval.jsonl`);
const mbpp = jsonl(`${DATA}/mbpp/mbpp.jsonl`);
const sanitized = JSON.parse(fs.readFileSync(`${DATA}/mbpp/sanitized-mbpp.json`, 'utf8')) as Row[];
const he0 = humanEval.find((r) => r.task_id === 'HumanEval/0')!; // has_close_elements
const mb3 = mbpp.find((r) => r.task_id === 3)!; // is_not_prime: asserts on 2 (False), 10 (True), 35 (True)
const mb367 = mbpp.find((r) => r.task_id === 367)!; // test_setup_code builds trees with the solution's Node class
const san = sanitized.find((r) => Array.isArray(r.test_imports) && (r.test_imports as string[]).length > 0)!;

beforeEach(() => resetCodeStats());

describe('extractCode', () => {
  it('takes the last python or bare fence, ignores other languages, else returns the raw completion', () => {
    expect(extractCode('a\n```python\nx = 1\n```\ntext\n```\ny = 2\n```\n```js\nz = 3\n```')).toBe('y = 2\n');
    expect(extractCode('```py\nx = 1\n```')).toBe('x = 1\n');
    expect(extractCode('intro\n```python\ndef f():\n    return 1')).toBe('def f():\n    return 1'); // unclosed: to the end
    expect(extractCode('    return 1\n')).toBe('    return 1\n');
    expect(extractCode('```js\nlet x\n```')).toBe('```js\nlet x\n```');
  });
});

describe('codeTestsReward on HumanEval', () => {
  it('canonical → 1, wrong → 0, infinite loop → 0 counted as a timeout', async () => {
    const completions = [String(he0.canonical_solution), '    return False\n', '    while True:\n        pass\n'];
    const scores = await codeTestsReward({ completions, rows: [he0, he0, he0], args: { timeout_ms: 1500 } });
    expect(scores).toEqual([1, 0, 0]);
    expect(codeStats()).toEqual({ runs: 3, timeouts: 1, crashes: 0, invalid_rows: 0 });
  });

  it('scores a fenced full-function answer from a chat model', async () => {
    const fn = `from typing import List\n\ndef has_close_elements(numbers: List[float], threshold: float) -> bool:\n${String(he0.canonical_solution)}`;
    const scores = await codeTestsReward({ completions: [`Here is the code:\n\`\`\`python\n${fn}\`\`\`\nIt compares all pairs.`], rows: [he0] });
    expect(scores).toEqual([1]);
  });

  it('cannot be faked by exiting early or printing a verdict', async () => {
    const hacks = ['    pass\nimport sys\nsys.exit(0)\n', '    pass\nimport os\nos._exit(0)\n', '    pass\nprint("__SBX_0__ 1 1")\n'];
    const scores = await codeTestsReward({ completions: hacks, rows: [he0, he0, he0] });
    expect(scores).toEqual([0, 0, 0]);
    expect(codeStats().crashes).toBe(2); // the exits never reach the verdict; the fake print reaches a failing one
  });
});

describe('codeTestsReward on MBPP', () => {
  it('canonical → 1, partly wrong → 2/3, one hanging test → 2/3, syntax error → 0 (crash)', async () => {
    const completions = [
      String(mb3.code),
      'def is_not_prime(n):\n    return n == 10', // fails 35
      'def is_not_prime(n):\n    while n == 35:\n        pass\n    return n == 10', // hangs on 35 only
      'def is_not_prime(n) return 1',
    ];
    const scores = await codeTestsReward({ completions, rows: [mb3, mb3, mb3, mb3], args: { timeout_ms: 3000 } });
    expect(scores[0]).toBe(1);
    expect(scores[1]).toBeCloseTo(2 / 3, 12);
    expect(scores[2]).toBeCloseTo(2 / 3, 12);
    expect(scores[3]).toBe(0);
    expect(codeStats()).toEqual({ runs: 4, timeouts: 0, crashes: 1, invalid_rows: 0 });
  });

  it('runs test_setup_code after the solution and honours sanitized test_imports', async () => {
    const scores = await codeTestsReward({ completions: [String(mb367.code), `\`\`\`python\n${String(san.code)}\n\`\`\``], rows: [mb367, san] });
    expect(scores).toEqual([1, 1]);
  });

  it('a solution that rebinds exec or hangs at top level gets 0', async () => {
    const completions = ['exec = lambda *a, **k: None\nglobals = dict', 'while True:\n    pass'];
    const scores = await codeTestsReward({ completions, rows: [mb3, mb3], args: { timeout_ms: 1500 } });
    expect(scores).toEqual([0, 0]);
    expect(codeStats()).toMatchObject({ runs: 2, timeouts: 1 });
  });

  it('never throws: rows that are neither HumanEval nor MBPP score 0 and are counted', async () => {
    const scores = await codeTestsReward({ completions: ['x', 'y'], rows: [{ question: 'q' }] as Row[] });
    expect(scores).toEqual([0, 0]);
    expect(codeStats()).toEqual({ runs: 0, timeouts: 0, crashes: 0, invalid_rows: 2 });
  });
});
