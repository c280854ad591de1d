/**
 * Malformed inputs, each run through the real CLI as a child process: every one must exit non-zero with ONE line
 * `error: ...` naming the file/line/key (no stack trace) and write nothing. The cases run a few at a time; each
 * fails during validation, before the compute backend loads, so the whole table takes seconds per core.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { saveCheckpoint } from '../../src/checkpoint/checkpoint.ts';
import type { ModelConfig } from '../../src/model/config.ts';
import { disposeParams, initParams } from '../../src/model/model.ts';
import { buildCharTokenizer } from '../../src/tokenizer/index.ts';
import { REPO_ROOT } from '../paths.ts';

const run = promisify(execFile);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-malformed-'));
const at = (...p: string[]) => path.join(tmp, ...p);
const tok = buildCharTokenizer('0123456789=');
const MAX_SEQ_LEN = 34; // a Sudoku prompt (17) + gen_length 17

interface Case {
  name: string;
  cli: 'train_grpo' | 'train' | 'eval' | 'sample' | 'score' | 'quickstart' | 'study' | 'average';
  args: () => string[];
  /** Every pattern must match the one error line. */
  expect: RegExp[];
  /** A directory the run would write to: it must not exist afterwards. */
  out?: string;
}

interface Result {
  code: number | null;
  stderr: string;
  stdout: string;
}

async function runCli(c: Case, args: string[]): Promise<Result> {
  const script = path.join('src', 'cli', `${c.cli}.ts`);
  try {
    const { stdout, stderr } = await run('node', ['--import', 'tsx', script, ...args], { cwd: REPO_ROOT, env: { ...process.env, FORCE_COLOR: '0', DIFFRL_DATA_DIR: '' } });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

// ---- fixtures ----

const GRPO_BASE = {
  run: { output_dir: '' },
  init_from: '',
  data: { task: 'sudoku', num_train: 64 },
  rewards: [{ name: 'sudoku' }],
  sampler: { gen_length: 17, block_length: 17, steps: 5 },
  grpo: { num_generations: 2, prompts_per_step: 4, num_iterations: 1 },
  optimizer: { lr: 1e-3 },
  training: { max_steps: 1 },
};

const SFT_BASE = {
  run: { output_dir: '' },
  model: { d_model: 16, n_layers: 1, n_heads: 2, mlp_hidden: 32, max_seq_len: MAX_SEQ_LEN },
  data: { task: 'sudoku', num_train: 64, num_eval: 8, seq_len: MAX_SEQ_LEN },
  optimizer: { lr: 1e-3 },
  training: { max_steps: 1, batch_size: 4 },
};

type Obj = Record<string, unknown>;
/** base with `patch` merged in, section by section. */
function merge(base: Obj, patch: Obj): Obj {
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(patch)) {
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && base[k] && typeof base[k] === 'object' ? merge(base[k] as Obj, v as Obj) : v;
  }
  return out;
}

/** Writes `<name>.yaml` (GRPO from the good checkpoint, output under out/<name>) and returns its path. */
function grpoConfig(name: string, patch: Obj = {}): string {
  const file = at(`${name}.yaml`);
  fs.writeFileSync(file, YAML.stringify(merge({ ...GRPO_BASE, run: { output_dir: at('out', name) }, init_from: at('ckpt') }, patch)));
  return file;
}

function sftConfig(name: string, patch: Obj = {}): string {
  const file = at(`${name}.yaml`);
  fs.writeFileSync(file, YAML.stringify(merge({ ...SFT_BASE, run: { output_dir: at('out', name) } }, patch)));
  return file;
}

/** A copy of the good checkpoint with model.safetensors (or config.json) changed by `edit`. */
function brokenCheckpoint(name: string, file: string, edit: (bytes: Buffer) => Buffer): string {
  const dir = at(name);
  fs.cpSync(at('ckpt', 'step-000001'), dir, { recursive: true });
  fs.writeFileSync(path.join(dir, file), edit(fs.readFileSync(path.join(dir, file))));
  return dir;
}

const grpo = (name: string, expect: RegExp[], patch: Obj = {}, extra: string[] = []): Case => ({
  name, cli: 'train_grpo', args: () => ['--config', grpoConfig(name, patch), ...extra], expect, out: at('out', name),
});

const CASES: Case[] = [
  // -- the cases of issue 19 --
  grpo('block-length', [/block-length\.yaml:\d+ sampler\.block_length: \(5\) must divide sampler\.gen_length \(17\)/], { sampler: { block_length: 5 } }),
  grpo('gen-length-too-long', [/sampler\.gen_length: \(34\) leaves no room for a prompt in max_seq_len 34 of checkpoint/], { sampler: { gen_length: 34 } }),
  grpo('prompt-too-long', [/generated sudoku prompt 0: the prompt is 17 tokens; with sampler\.gen_length 18 that is 35, more than max_seq_len 34/], { sampler: { gen_length: 18, block_length: 18, steps: 6 } }),
  grpo('reward-syntax-error', [/rewards\[0\]\.module: cannot load .*bad_reward\.ts:3:\d+: /], { rewards: [{ module: 'bad_reward.ts' }] }),
  grpo('csv-wrong-columns', [/wrong_columns\.csv:2: sudoku row: puzzle must be 16 digits 0-4, got ""/, /columns: quiz, answer/], { data: { train_path: at('wrong_columns.csv') } }),
  {
    name: 'broken-yaml', cli: 'train_grpo', out: at('out', 'broken-yaml'),
    args: () => {
      fs.writeFileSync(at('broken-yaml.yaml'), `run:\n  output_dir: ${at('out', 'broken-yaml')}\ninit_from: ${at('ckpt')}\nsampler:\n  gen_length: 17\n\tblock_length: 17\n`);
      return ['--config', at('broken-yaml.yaml')];
    },
    expect: [/broken-yaml\.yaml:6: invalid YAML: Tabs are not allowed/],
  },
  grpo('truncated-safetensors', [/truncated\/model\.safetensors: tensor '[^']+': data_offsets \[\d+, \d+\] \(file bytes \d+-\d+\) run past the \d+-byte data buffer, which ends at byte \d+ \(truncated\?\)/], { init_from: at('truncated') }),
  grpo('header-past-file', [/header-past-file\/model\.safetensors: header length 1000000 runs past the end of the \d+-byte file \(the length field, bytes 0-7/], { init_from: at('header-past-file') }),
  grpo('header-not-json', [/header-not-json\/model\.safetensors: header is not valid JSON at byte 8/], { init_from: at('header-not-json') }),
  { name: 'eval-subset-0', cli: 'eval', args: () => ['--checkpoint', at('ckpt'), '--task', 'sudoku', '--subset', '0'], expect: [/--subset must be an integer >= 1, got '0'/] },
  { name: 'eval-subset-abc', cli: 'eval', args: () => ['--checkpoint', at('ckpt'), '--task', 'sudoku', '--subset', 'abc'], expect: [/--subset must be an integer >= 1, got 'abc'/] },
  { name: 'eval-subset-negative', cli: 'eval', args: () => ['--checkpoint', at('ckpt'), '--task', 'sudoku', '--subset', '-1'], expect: [/--subset must be an integer >= 1, got '-1'/] },
  // -- more --
  { name: 'eval-subset-too-large', cli: 'eval', args: () => ['--checkpoint', at('ckpt'), '--task', 'sudoku', '--subset', '501'], expect: [/--subset \(501\) must be at most the 500 items of the sudoku test set/] },
  { name: 'eval-gen-length-too-long', cli: 'eval', args: () => ['--checkpoint', at('ckpt'), '--task', 'sudoku', '--gen-length', '34', '--block-length', '34'], expect: [/sudoku test item \d+: the prompt is 17 tokens; with --gen-length 34 that is 51, more than max_seq_len 34/] },
  { name: 'eval-truncated-checkpoint', cli: 'eval', args: () => ['--checkpoint', at('truncated'), '--task', 'sudoku'], expect: [/truncated\/model\.safetensors: .*truncated\?/] },
  { name: 'eval-samples-greedy', cli: 'eval', args: () => ['--checkpoint', at('ckpt'), '--task', 'sudoku', '--samples', '4'], expect: [/--samples 4 draws 4 completions per item: it needs --temperature > 0/] },
  { name: 'eval-unknown-task', cli: 'eval', args: () => ['--checkpoint', at('ckpt'), '--task', 'chess'], expect: [/Invalid values: Argument: task, Given: "chess"/, /see yarn eval --help/] },
  grpo('grad-accum', [/training\.grad_accum: \(3\) must divide grpo\.prompts_per_step \(4\)/], { training: { grad_accum: 3 } }),
  grpo('workers', [/training\.workers: \(2\) must divide training\.grad_accum \(1\)/], { training: { workers: 2 } }),
  grpo('missing-init-from', [/missing-init-from\.yaml:\d+ init_from: .*no-such-checkpoint does not exist/], { init_from: at('no-such-checkpoint') }),
  grpo('config-json', [/config-json\/config\.json:3:\d+: not valid JSON/], { init_from: at('config-json') }),
  grpo('unknown-key', [/unknown-key\.yaml:\d+ sampler\.gen_lenght: unknown key \(known: name, gen_length/], { sampler: { gen_lenght: 17 } }),
  grpo('wrong-type', [/wrong-type\.yaml:\d+ optimizer\.lr: .*expected number, received string/], { optimizer: { lr: 'fast' } }),
  grpo('negative-lr', [/negative-lr\.yaml:\d+ optimizer\.lr: .*>0/], { optimizer: { lr: -1e-3 } }),
  grpo('unknown-task', [/unknown-task\.yaml:\d+ data\.task: /, /sudoku/], { data: { task: 'chess' } }),
  grpo('jsonl-broken-line', [/broken\.jsonl:2: malformed JSON/], { data: { task: 'plain', train_path: at('broken.jsonl') } }),
  grpo('empty-csv', [/empty\.csv: empty CSV \(no header row\)/], { data: { train_path: at('empty.csv') } }),
  grpo('missing-data-file', [/no-such-file\.csv: file not found/], { data: { train_path: at('no-such-file.csv') } }),
  grpo('reward-module-missing', [/rewards\[0\]\.module: file not found: .*no_such_reward\.ts/], { rewards: [{ module: 'no_such_reward.ts' }] }),
  grpo('periodic-eval-steps', [/periodic-eval-steps\.yaml:\d+ eval\.task: sudoku is decoded with its 17 steps .*sampler\.steps: \(17\) must be a multiple of the number of blocks .* = 2/], { sampler: { gen_length: 16, block_length: 8, steps: 4 }, eval: { task: 'sudoku' }, training: { max_steps: 1, eval_every: 1 } }),
  grpo('resume-without-run', [/--resume \(run\.output_dir\): .*resume-without-run does not exist/], {}, ['--resume']),
  grpo('bad-set', [/--set sampler\.gen_length: expected key\.path=value/], {}, ['--set', 'sampler.gen_length']),
  grpo('unknown-flag', [/Unknown argument: epochs \(see yarn train:grpo --help\)/], {}, ['--epochs', '3']),
  { name: 'sft-seq-len', cli: 'train', args: () => ['--config', sftConfig('sft-seq-len', { data: { seq_len: 40 } })], expect: [/sft-seq-len\.yaml:\d+ data\.seq_len: \(40\) exceeds max_seq_len 34 of model\.max_seq_len/], out: at('out', 'sft-seq-len') },
  { name: 'sft-file-task-without-file', cli: 'train', args: () => ['--config', sftConfig('sft-file-task-without-file', { data: { task: 'gsm8k' } })], expect: [/sft-file-task-without-file\.yaml:\d+ data\.train_path: is required for task 'gsm8k'/], out: at('out', 'sft-file-task-without-file') },
  { name: 'sft-num-eval', cli: 'train', args: () => ['--config', sftConfig('sft-num-eval', { data: { num_eval: 2 } })], expect: [/sft-num-eval\.yaml:\d+ data\.num_eval: \(2\) must be at least training\.batch_size \(4\)/], out: at('out', 'sft-num-eval') },
  {
    name: 'sft-row-missing-field', cli: 'train', out: at('out', 'sft-row-missing-field'),
    args: () => ['--config', sftConfig('sft-row-missing-field', { data: { task: 'plain', train_path: at('plain.jsonl'), num_train: null, num_eval: 4 } })],
    expect: [/plain\.jsonl:2: plain row: field 'prompt' is missing/],
  },
  { name: 'sample-block-length', cli: 'sample', args: () => ['--checkpoint', at('ckpt'), '--prompt', '1=', '--gen-length', '16', '--block-length', '5'], expect: [/--block-length: \(5\) must divide --gen-length \(16\)/] },
  { name: 'average-one-checkpoint', cli: 'average', args: () => ['--out', at('out', 'avg-one'), at('ckpt')], expect: [/give at least two checkpoint directories/], out: at('out', 'avg-one') },
  { name: 'average-missing-checkpoint', cli: 'average', args: () => ['--out', at('out', 'avg-missing'), at('ckpt'), at('nope')], expect: [/checkpoint 2: .*nope does not exist/], out: at('out', 'avg-missing') },
  { name: 'score-answer-vocab', cli: 'score', args: () => ['--checkpoint', at('ckpt'), '--prompt', '1=', '--answer', 'x'], expect: [/--answer: char tokenizer: character "x" is not in the vocabulary/] },
  {
    name: 'quickstart-fresh-keeps-output', cli: 'quickstart',
    args: () => ['--out', at('quickstart'), '--fresh', '--set-grpo', 'sampler.block_length=5'],
    expect: [/--set sampler\.block_length \(configs\/sudoku-grpo\.yaml\) sampler\.block_length: \(5\) must divide sampler\.gen_length \(17\)/],
  },
  { name: 'eval-test-file-missing', cli: 'eval', args: () => ['--checkpoint', at('ckpt'), '--task', 'sudoku', '--test-file', at('no-such.csv')], expect: [/no-such\.csv/] },
  { name: 'study-plan-missing', cli: 'study', args: () => ['--plan', at('no-plan.yaml')], expect: [/study plan not found: .*no-plan\.yaml/] },
  {
    name: 'study-plan-bad-key', cli: 'study', out: at('out', 'study-bad'),
    args: () => {
      const plan = { task: 'sudoku', out_dir: at('out', 'study-bad'), seeds: [0], select: { n: 8, seed: 1, size: 3 }, evals: [], sft: { name: 'sft', config: 'configs/sudoku-sft.yaml', save_every: 1 } };
      fs.writeFileSync(at('study-bad.yaml'), YAML.stringify(plan));
      return ['--plan', at('study-bad.yaml')];
    },
    expect: [/study-bad\.yaml: select: Unrecognized key: "size"/],
  },
];

let before: string[];
let results: Map<string, Result>;

/** Every file under `dir`, with its size (a changed or new file shows up). */
function listing(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).sort().map((f) => `${f} ${fs.statSync(path.join(dir, f)).size}`);
}

beforeAll(async () => {
  await tf.setBackend('cpu');
  const cfg: ModelConfig = {
    vocab_size: tok.vocabSize, d_model: 16, n_layers: 1, n_heads: 2, mlp_hidden: 32, max_seq_len: MAX_SEQ_LEN, rope_theta: 10000,
    norm_eps: 1e-5, mask_token_id: tok.maskId, eos_token_id: tok.eosId, pad_token_id: tok.padId, init_seed: 1,
  };
  const params = initParams(cfg);
  await saveCheckpoint(at('ckpt'), 'step-000001', { config: cfg, params, tokenizerJson: tok.toJSON() });
  disposeParams(params);
  brokenCheckpoint('truncated', 'model.safetensors', (b) => b.subarray(0, b.length - 100));
  brokenCheckpoint('header-past-file', 'model.safetensors', (b) => {
    const c = Buffer.from(b);
    c.writeBigUInt64LE(1_000_000n, 0);
    return c;
  });
  brokenCheckpoint('header-not-json', 'model.safetensors', (b) => {
    const c = Buffer.from(b);
    c.write('X', 8);
    return c;
  });
  brokenCheckpoint('config-json', 'config.json', () => Buffer.from('{\n  "vocab_size": 13,\n  "d_model": ,\n}\n'));
  fs.writeFileSync(at('bad_reward.ts'), 'export default function reward({ completions }: { completions: string[] }) {\n  return completions.map((c) => (\n}\n');
  fs.writeFileSync(at('wrong_columns.csv'), 'quiz,answer\n1234,4321\n');
  fs.writeFileSync(at('broken.jsonl'), '{"prompt": "1+1=", "answer": "2"}\n{"prompt": "2+2=", "answer": \n');
  fs.writeFileSync(at('empty.csv'), '');
  fs.writeFileSync(at('plain.jsonl'), Array.from({ length: 12 }, (_, i) => JSON.stringify(i === 1 ? { question: '1+1', answer: '2' } : { prompt: `${i}+1=`, answer: String(i + 1) })).join('\n') + '\n');
  fs.mkdirSync(at('quickstart', 'sudoku'), { recursive: true });
  fs.writeFileSync(at('quickstart', 'sudoku', 'keep.txt'), 'an earlier run');
  const args = new Map(CASES.map((c) => [c.name, c.args()])); // writes each case's config file
  before = listing(tmp);

  // A few at a time: each is a Node process that loads the TypeScript loader, yargs and the config code.
  results = new Map();
  const queue = [...CASES];
  const worker = async () => {
    for (let c = queue.shift(); c; c = queue.shift()) results.set(c.name, await runCli(c, args.get(c.name)!));
  };
  await Promise.all(Array.from({ length: Math.max(2, os.availableParallelism()) + 1 }, worker));
}, 180_000);

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('malformed inputs: one line, non-zero exit, nothing written', () => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const r = results.get(c.name)!;
    const lines = r.stderr.trim().split('\n');
    expect(lines.filter((l) => l.startsWith('    at '))).toEqual([]); // no stack trace
    expect(r.code, r.stderr).not.toBe(0);
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^error: /);
    for (const re of c.expect) expect(lines[0]).toMatch(re);
    expect(r.stdout).toBe('');
    if (c.out) expect(fs.existsSync(c.out)).toBe(false);
  });

  it('no case wrote, changed or deleted a file (checkpoints, data, an earlier quickstart run under --fresh)', () => {
    expect(listing(tmp)).toEqual(before);
  });
});
