import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.ts';
import { grpoConfigSchema, OBJECTIVE_KEYS, OBJECTIVES, trainConfigSchema } from '../../src/config/schema.ts';
import { REPO_ROOT } from '../paths.ts';
import { ConfigError } from '../../src/errors.ts';

const GOOD = `run:
  output_dir: checkpoints/test
model:
  d_model: 32
  n_layers: 2
  n_heads: 2
  mlp_hidden: 64
  max_seq_len: 64
data:
  task: sudoku
  seq_len: 40
optimizer:
  lr: 0.001
training:
  max_steps: 10
  batch_size: 4
`;

function write(text: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-'));
  const file = path.join(dir, 'run.yaml');
  fs.writeFileSync(file, text);
  return file;
}

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('fills defaults for a minimal valid file', () => {
    const { config } = loadConfig(write(GOOD), trainConfigSchema);
    expect(config.optimizer.lr).toBe(0.001);
    expect(config.optimizer.beta1).toBe(0.9);
    expect(config.objective.type).toBe('sft');
    expect(config.runtime.backend).toBe('auto');
    expect(config.training.grad_accum).toBe(1);
  });

  it('names file, line and key path of an unknown key, and lists the known ones', () => {
    const file = write(GOOD.replace('  n_heads: 2', '  n_heads: 2\n  d_modle: 3'));
    const msg = errorOf(() => loadConfig(file, trainConfigSchema));
    expect(msg.split('\n')).toHaveLength(1);
    expect(msg).toContain(`${file}:7 model.d_modle: unknown key`);
    expect(msg).toContain('known: d_model, n_layers');
  });

  it('names file, line and key path of a wrong type', () => {
    const file = write(GOOD.replace('lr: 0.001', 'lr: fast'));
    const msg = errorOf(() => loadConfig(file, trainConfigSchema));
    expect(msg).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:13 optimizer\\.lr: .*number`));
  });

  it('reports a missing required key at its section', () => {
    const file = write(GOOD.replace('  max_steps: 10\n', ''));
    const msg = errorOf(() => loadConfig(file, trainConfigSchema));
    expect(msg).toContain(':14 training.max_steps: missing (required, number)');
  });

  it('reports a missing file', () => {
    expect(errorOf(() => loadConfig('/nonexistent/x.yaml', trainConfigSchema))).toBe('config file not found: /nonexistent/x.yaml');
  });

  it('reports invalid YAML with a line', () => {
    const msg = errorOf(() => loadConfig(write('run:\n  output_dir: [unclosed\n'), trainConfigSchema));
    expect(msg).toMatch(/invalid YAML/);
  });

  it('applies --set overrides with YAML typing, and names them in errors', () => {
    const file = write(GOOD);
    const { config } = loadConfig(file, trainConfigSchema, ['optimizer.lr=0.5', 'training.batch_size=8', 'runtime.backend=cpu']);
    expect(config.optimizer.lr).toBe(0.5);
    expect(config.training.batch_size).toBe(8);
    expect(config.runtime.backend).toBe('cpu');
    const msg = errorOf(() => loadConfig(file, trainConfigSchema, ['training.batch_size=many']));
    expect(msg).toContain('--set training.batch_size');
    expect(errorOf(() => loadConfig(file, trainConfigSchema, ['nokey']))).toContain('expected key.path=value');
  });
});

describe('grpo.objective from the command line', () => {
  const SHIPPED = path.join(REPO_ROOT, 'configs', 'sudoku-grpo.yaml'); // written for d1: epsilon, logp_estimator, ...

  it('--set grpo.objective=X on a d1 config loads for every objective, leaving out (with a note) the keys X does not read', () => {
    for (const objective of OBJECTIVES) {
      const { config, notes } = loadConfig(SHIPPED, grpoConfigSchema, [`grpo.objective=${objective}`]);
      expect(config.grpo.objective).toBe(objective);
      const dropped = Object.keys(OBJECTIVE_KEYS).filter((k) => !OBJECTIVE_KEYS[k].includes(objective) && ['epsilon', 'beta', 'logp_estimator', 'p_mask_prompt', 'loss_type'].includes(k));
      if (objective === 'd1') expect(notes).toEqual([]);
      else {
        expect(notes).toHaveLength(1);
        for (const k of dropped) expect(notes![0]).toContain(`grpo.${k}`);
      }
    }
    // the values that do apply are kept: espo reads epsilon and beta from the file, not its own defaults
    const espo = loadConfig(SHIPPED, grpoConfigSchema, ['grpo.objective=espo']).config.grpo;
    expect([espo.epsilon, espo.beta]).toEqual([0.5, 0.04]);
  });

  it('a key set for an objective that does not read it is still refused in one line', () => {
    const msg = errorOf(() => loadConfig(SHIPPED, grpoConfigSchema, ['grpo.objective=wd1', 'grpo.epsilon=0.3']));
    expect(msg.split('\n')).toHaveLength(1);
    expect(msg).toContain('grpo.epsilon: does not apply to grpo.objective: wd1');
    const file = write(`${fs.readFileSync(SHIPPED, 'utf8').replace('grpo:\n', 'grpo:\n  objective: wd1\n')}`);
    expect(errorOf(() => loadConfig(file, grpoConfigSchema))).toContain('grpo.epsilon: does not apply to grpo.objective: wd1');
  });
});
