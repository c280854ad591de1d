import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { saveCheckpoint } from '../../src/checkpoint/checkpoint.ts';
import type { ModelConfig } from '../../src/model/config.ts';
import { loadModel } from '../../src/model/load.ts';
import { disposeParams, initParams } from '../../src/model/model.ts';
import { oneStepLogLikelihood } from '../../src/sampling/index.ts';
import { buildCharTokenizer } from '../../src/tokenizer/index.ts';

const run = promisify(execFile);
const tok = buildCharTokenizer('0123456789=');
let ckpt = '';

async function cli(script: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('node', ['--import', 'tsx', `src/cli/${script}.ts`, '--backend', 'cpu', ...args], { env: { ...process.env, FORCE_COLOR: '0' } });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

beforeAll(async () => {
  await tf.setBackend('cpu');
  const cfg: ModelConfig = { vocab_size: tok.vocabSize, d_model: 16, n_layers: 1, n_heads: 2, mlp_hidden: 32, max_seq_len: 32, rope_theta: 10000, norm_eps: 1e-5, mask_token_id: tok.maskId, eos_token_id: tok.eosId, pad_token_id: tok.padId, init_seed: 4 };
  ckpt = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-'));
  const params = initParams(cfg);
  await saveCheckpoint(ckpt, 'step-000001', { config: cfg as unknown as object, params, tokenizerJson: tok.toJSON() });
  disposeParams(params);
});

describe('yarn sample', () => {
  it('prints the completion and the NFE, and --trace writes one line per step with the prompt untouched', async () => {
    const trace = path.join(ckpt, 'trace.jsonl');
    const r = await cli('sample', ['--checkpoint', ckpt, '--prompt', '12=', '--prompt', '3=', '--gen-length', '8', '--block-length', '4', '--steps', '8', '--trace', trace]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^12= → /m);
    expect(r.stdout).toMatch(/^3= → /m);
    expect(r.stdout).toMatch(/^NFE 8 \(model calls/m); // llada: 2 blocks x 4 steps
    const lines = fs.readFileSync(trace, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(8);
    for (const l of lines) {
      expect(l.text[0].startsWith('12=')).toBe(true);
      expect(l.text[1].startsWith('3=')).toBe(true); // left padding is shown as nothing
    }
    expect(lines[7].text.join('')).not.toContain('_'); // no [MASK] left
    expect(lines[0].text[0].split('_').length - 1).toBe(7); // one of 8 committed after the first step
  });

  it('a bad checkpoint path is one clear line and exit code 1', async () => {
    const r = await cli('sample', ['--checkpoint', '/no/such/dir', '--prompt', 'x']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n').pop()).toBe('error: resolveCheckpoint: /no/such/dir does not exist');
  });
});

describe('yarn score', () => {
  it('mc prints a finite negative log-likelihood; --json has per-token values', async () => {
    const r = await cli('score', ['--checkpoint', ckpt, '--prompt', '12=', '--answer', '345', '--mc', '8', '--batch-size', '4', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.log_likelihood).toBeLessThan(0);
    expect(Number.isFinite(out.log_likelihood)).toBe(true);
    expect(out.per_token).toHaveLength(3);
    expect(out.answer_ids).toEqual(tok.encode('345'));
  });

  it('the one-step estimator equals oneStepLogLikelihood called directly', async () => {
    const r = await cli('score', ['--checkpoint', ckpt, '--prompt', '12=', '--answer', '345', '--estimator', 'one-step', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    const model = loadModel(ckpt);
    const direct = await oneStepLogLikelihood(model.logitsFn, [tok.encode('12=')], [tok.encode('345')], { maskId: tok.maskId, padId: tok.padId });
    model.dispose();
    expect(out.log_likelihood).toBeCloseTo(direct.total[0], 5);
    expect(out.per_token.map((x: number) => x.toFixed(5))).toEqual(direct.perToken[0].map((x) => x.toFixed(5)));
  });
});
