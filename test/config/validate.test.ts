import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, DataError, jsonDataError, jsonErrorOffset } from '../../src/errors.ts';
import { inspectSafetensors, readSafetensors, writeSafetensors } from '../../src/checkpoint/safetensors.ts';
import { checkNumbers, failOneLine, userMessage } from '../../src/cli/common.ts';
import { loadConfig, parseConfig } from '../../src/config/load.ts';
import { grpoConfigSchema, trainConfigSchema, type GrpoConfig, type TrainConfig } from '../../src/config/schema.ts';
import { checkGrpoConfig, checkSampler, checkTrainConfig, SAMPLER_FLAGS, samplerKeys } from '../../src/config/validate.ts';

const where = () => 'x.yaml:1';
const limits = { max_seq_len: 34, source: 'checkpoint c' };

function grpo(patch: Record<string, unknown> = {}): GrpoConfig {
  return parseConfig({
    run: { output_dir: 'out' }, init_from: 'c', data: { task: 'sudoku' }, rewards: [{ name: 'sudoku' }],
    sampler: { gen_length: 17, block_length: 17, steps: 5 }, optimizer: { lr: 1e-3 }, training: { max_steps: 1 }, ...patch,
  }, grpoConfigSchema);
}

function sft(patch: Record<string, unknown> = {}): TrainConfig {
  return parseConfig({
    run: { output_dir: 'out' }, model: { d_model: 16, n_layers: 1, n_heads: 2, mlp_hidden: 32, max_seq_len: 34 },
    data: { task: 'sudoku', seq_len: 34, num_eval: 8 }, optimizer: { lr: 1e-3 }, training: { max_steps: 1, batch_size: 4 }, ...patch,
  }, trainConfigSchema);
}

describe('checkSampler', () => {
  const keys = samplerKeys('sampler');
  it('block_length must divide gen_length', () => {
    expect(() => checkSampler({ sampler: 'llada', gen_length: 17, block_length: 5, steps: 5 }, keys, where)).toThrow('x.yaml:1 sampler.block_length: (5) must divide sampler.gen_length (17)');
  });
  it('unset steps means gen_length / 2, which must be whole; steps must be a multiple of the block count', () => {
    expect(() => checkSampler({ sampler: 'llada', gen_length: 17, block_length: 17, steps: null }, keys, where)).toThrow(/sampler\.steps: is unset.*\(17\) is odd/);
    expect(() => checkSampler({ sampler: 'remdm', gen_length: 16, block_length: 4, steps: 6 }, keys, where)).toThrow(/sampler\.steps: \(6\) must be a multiple of the number of blocks .* = 4/);
    expect(() => checkSampler({ sampler: 'llada', gen_length: 16, block_length: 4, steps: null }, keys, where)).not.toThrow(); // 8 steps, 4 blocks
  });
  it('dus and threshold have no step budget; CLI flag names without a location', () => {
    expect(() => checkSampler({ sampler: 'dus', gen_length: 17, block_length: 17, steps: 4 }, keys, where)).not.toThrow();
    expect(() => checkSampler({ sampler: 'llada', gen_length: 16, block_length: 3, steps: 16 }, SAMPLER_FLAGS, () => '')).toThrow(/^--block-length: \(3\) must divide --gen-length \(16\)$/);
  });
});

describe('checkGrpoConfig', () => {
  it('passes the shipped shape', () => expect(() => checkGrpoConfig(grpo(), limits, where)).not.toThrow());
  it('gen_length must leave room for a prompt in the model', () => {
    expect(() => checkGrpoConfig(grpo({ sampler: { gen_length: 34, block_length: 34, steps: 2 } }), limits, where)).toThrow('sampler.gen_length: (34) leaves no room for a prompt in max_seq_len 34 of checkpoint c');
  });
  it('batch shapes: grad_accum divides prompts_per_step, workers divide grad_accum', () => {
    expect(() => checkGrpoConfig(grpo({ training: { max_steps: 1, grad_accum: 3 } }), limits, where)).toThrow(/training\.grad_accum: \(3\) must divide grpo\.prompts_per_step \(16\)/);
    expect(() => checkGrpoConfig(grpo({ training: { max_steps: 1, grad_accum: 2, workers: 4 } }), limits, where)).toThrow(/training\.workers: \(4\) must divide training\.grad_accum \(2\)/);
    expect(() => checkGrpoConfig(grpo({ training: { max_steps: 1, grad_accum: 2, workers: 'auto' } }), limits, where)).not.toThrow();
  });
  it('spg: its mask blocks divide gen_length, num_t at most the block count', () => {
    expect(() => checkGrpoConfig(grpo({ grpo: { objective: 'spg', spg: { block_length: 32 } } }), limits, where)).toThrow(/grpo\.spg\.block_length: \(32\) must divide sampler\.gen_length \(17\)/);
    expect(() => checkGrpoConfig(grpo({ grpo: { objective: 'spg' } }), limits, where)).not.toThrow(); // defaults: the sampler's block, num_t fits it
    expect(() => checkGrpoConfig(grpo({ grpo: { objective: 'spg', spg: { block_length: 17, num_t: 2 } } }), limits, where)).toThrow(/grpo\.spg\.num_t: \(2\) must be at most .* = 1/);
    expect(() => checkGrpoConfig(grpo({ grpo: { objective: 'spg', spg: { block_length: 17, num_t: 1 } } }), limits, where)).not.toThrow();
  });
  it('credit_baseline: group needs credit: token', () => {
    expect(() => checkGrpoConfig(grpo({ grpo: { credit_baseline: 'group' } }), limits, where)).toThrow(/grpo\.credit_baseline: \(group\) needs grpo\.credit: token \(got outcome\)/);
    expect(() => checkGrpoConfig(grpo({ grpo: { credit_baseline: 'group', credit: 'token' } }), limits, where)).not.toThrow();
  });

  it('trajectory_states needs the trajectory estimator', () => {
    expect(() => checkGrpoConfig(grpo({ grpo: { trajectory_states: 2 } }), limits, where)).toThrow(/grpo\.trajectory_states: \(2\) needs grpo\.logp_estimator: trajectory/);
  });
});

describe('checkTrainConfig', () => {
  it('fresh model: heads divide d_model into an even head size; seq_len fits', () => {
    expect(() => checkTrainConfig(sft(), null, where)).not.toThrow();
    expect(() => checkTrainConfig(sft({ model: { d_model: 16, n_layers: 1, n_heads: 3, mlp_hidden: 32, max_seq_len: 34 } }), null, where)).toThrow(/model\.n_heads: \(3\) must divide model\.d_model \(16\)/);
    expect(() => checkTrainConfig(sft({ model: { d_model: 12, n_layers: 1, n_heads: 4, mlp_hidden: 32, max_seq_len: 34 } }), null, where)).toThrow(/head size .* = 3 must be even/);
    expect(() => checkTrainConfig(sft({ data: { task: 'sudoku', seq_len: 40, num_eval: 8 } }), null, where)).toThrow('data.seq_len: (40) exceeds max_seq_len 34 of model.max_seq_len');
  });
  it('from a checkpoint, its max_seq_len counts', () => {
    expect(() => checkTrainConfig(sft(), { max_seq_len: 20, source: 'checkpoint c' }, where)).toThrow('data.seq_len: (34) exceeds max_seq_len 20 of checkpoint c');
  });
  it('eval set of at least one batch; workers divide batch_size', () => {
    expect(() => checkTrainConfig(sft({ data: { task: 'sudoku', seq_len: 34, num_eval: 2 } }), null, where)).toThrow(/data\.num_eval: \(2\) must be at least training\.batch_size \(4\)/);
    expect(() => checkTrainConfig(sft({ training: { max_steps: 1, batch_size: 4, workers: 3 } }), null, where)).toThrow(/training\.workers: \(3\) must divide training\.batch_size \(4\)/);
  });
});

describe('LoadedConfig.where', () => {
  it('names the line of a key, the line of its section when the key is a default, and --set keys', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'validate-'));
    const file = path.join(dir, 'g.yaml');
    fs.writeFileSync(file, 'run:\n  output_dir: out\ninit_from: c\ndata:\n  task: sudoku\nrewards:\n  - name: sudoku\nsampler:\n  gen_length: 17\noptimizer:\n  lr: 0.001\ntraining:\n  max_steps: 1\n');
    const loaded = loadConfig(file, grpoConfigSchema, ['grpo.beta=0']);
    expect(loaded.where!('sampler.gen_length')).toBe(`${file}:9`);
    expect(loaded.where!('sampler.block_length')).toBe(`${file}:8`);
    expect(loaded.where!('rewards.0.name')).toBe(`${file}:7`);
    expect(loaded.where!('grpo.beta')).toBe(`--set grpo.beta (${file})`);
    fs.rmSync(dir, { recursive: true });
  });
});

describe('JSON error positions', () => {
  it('jsonErrorOffset finds the first bad character, the end of a truncated text, or -1', () => {
    expect(jsonErrorOffset('{"a": [1, 2], "b": {"c": null}}')).toBe(-1);
    expect(jsonErrorOffset('{"a": ,}')).toBe(6);
    expect(jsonErrorOffset('{"a": 1')).toBe(7);
    expect(jsonErrorOffset('[1, 2,]')).toBe(6);
    expect(jsonErrorOffset('{"a": "x\\"y"} z')).toBe(14);
    expect(jsonErrorOffset('{\n  "a": tru\n}')).toBe(9);
  });
  it('jsonDataError names file:line:column on one line', () => {
    const text = '{\n  "vocab_size": 13,\n  "d_model": ,\n}\n';
    let e: unknown;
    try {
      JSON.parse(text);
    } catch (err) {
      e = err;
    }
    const d = jsonDataError('c/config.json', text, e);
    expect(d).toBeInstanceOf(DataError);
    expect(d.message).toMatch(/^c\/config\.json:3:14: not valid JSON \(/);
    expect(d.message).not.toContain('\n');
  });
});

describe('safetensors errors are DataErrors with byte offsets; inspectSafetensors reads only the header', () => {
  it('truncated file and non-JSON header', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'validate-st-'));
    const file = path.join(dir, 'm.safetensors');
    writeSafetensors(file, { w: { dtype: 'F32', shape: [4], data: new Float32Array(4) } });
    expect(inspectSafetensors(file)).toEqual({ w: { dtype: 'F32', shape: [4] } });
    const bytes = fs.readFileSync(file);
    fs.writeFileSync(file, bytes.subarray(0, bytes.length - 4));
    for (const read of [readSafetensors, inspectSafetensors]) {
      expect(() => read(file)).toThrow(DataError);
      expect(() => read(file)).toThrow(/m\.safetensors: tensor 'w': data_offsets \[0, 16\] \(file bytes \d+-\d+\) run past the 12-byte data buffer/);
    }
    const bad = Buffer.from(bytes);
    bad.write('{"w":', 8 + 2); // the header now has a '{' where a string key should close
    fs.writeFileSync(file, bad);
    expect(() => inspectSafetensors(file)).toThrow(/m\.safetensors: header is not valid JSON at byte \d+ \(header bytes 8-\d+;/);
    fs.rmSync(dir, { recursive: true });
  });
});

describe('CLI helpers', () => {
  it('checkNumbers refuses NaN, fractions and out-of-range values, naming the flag', () => {
    const rules = { subset: { int: true, min: 1 }, 'top-p': { gt: 0, max: 1 } };
    expect(() => checkNumbers({ subset: 3, 'top-p': 0.9 }, rules)).not.toThrow();
    expect(() => checkNumbers({}, rules)).not.toThrow();
    expect(() => checkNumbers({ subset: Number.NaN }, rules)).toThrow(ConfigError);
    expect(() => checkNumbers({ subset: 0 }, rules)).toThrow(/^--subset must be an integer >= 1, got/);
    expect(() => checkNumbers({ subset: 2.5 }, rules)).toThrow(/--subset must be an integer >= 1/);
    expect(() => checkNumbers({ 'top-p': 0 }, rules)).toThrow(/--top-p must be a number > 0 and <= 1/);
    expect(() => checkNumbers({ subset: [1, 2] }, rules)).toThrow(/got 2 values/);
  });
  it('failOneLine turns a yargs usage error into one ConfigError line; userMessage tells user errors from bugs', () => {
    expect(() => failOneLine('yarn eval')('Invalid values:\n  Argument: task, Given: "x"', undefined)).toThrow('Invalid values: Argument: task, Given: "x" (see yarn eval --help)');
    expect(userMessage(new ConfigError('bad key'))).toBe('bad key');
    expect(userMessage(Object.assign(new Error("ENOENT: no such file or directory, open 'x'"), { code: 'ENOENT', path: 'x' }))).toMatch(/ENOENT/);
    expect(userMessage(new TypeError('undefined is not a function'))).toBeNull();
  });
});
