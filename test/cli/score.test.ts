import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../src/rng.ts';
import { saveCheckpoint } from '../../src/checkpoint/checkpoint.ts';
import type { ModelConfig } from '../../src/model/config.ts';
import { loadModel } from '../../src/checkpoint/load_model.ts';
import { disposeParams, initParams } from '../../src/model/model.ts';
import { oneStepLogLikelihood } from '../../src/rl/objectives/estimators.ts';
import { mcLogLikelihood } from '../../src/sampling/index.ts';
import { buildCharTokenizer } from '../../src/tokenizer/index.ts';

const run = promisify(execFile);
const tok = buildCharTokenizer('0123456789=');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-score-'));
const ckpt = path.join(tmp, 'run');

async function score(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('node', ['--import', 'tsx', 'src/cli/score.ts', '--backend', 'cpu', ...args], { env: { ...process.env, FORCE_COLOR: '0' } });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

beforeAll(async () => {
  await tf.setBackend('cpu');
  const cfg: ModelConfig = {
    vocab_size: tok.vocabSize, d_model: 16, n_layers: 1, n_heads: 2, mlp_hidden: 32, max_seq_len: 16, rope_theta: 10000,
    norm_eps: 1e-5, mask_token_id: tok.maskId, eos_token_id: tok.eosId, pad_token_id: tok.padId, init_seed: 5,
  };
  const params = initParams(cfg);
  await saveCheckpoint(ckpt, 'step-000001', { config: cfg, params, tokenizerJson: tok.toJSON() });
  disposeParams(params);
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('yarn score', () => {
  it('mc (default): a finite negative log-likelihood, and --json equals mcLogLikelihood with the same seed', async () => {
    const [text, json] = await Promise.all([
      score(['--checkpoint', ckpt, '--prompt', '12=', '--answer', '345', '--mc', '8', '--batch-size', '4']),
      score(['--checkpoint', ckpt, '--prompt', '12=', '--answer', '345', '--mc', '8', '--batch-size', '4', '--seed', '3', '--json']),
    ]);
    expect([text.code, json.code]).toEqual([0, 0]);
    const m = /^log p\(answer \| prompt\) ≈ (-?\d+\.\d{4}) \(Monte Carlo, 8 samples; 3 answer tokens; \d+\.\d\d s\)$/.exec(text.stdout.trim());
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeLessThan(0);
    const out = JSON.parse(json.stdout);
    expect(out.estimator).toBe('mc');
    expect(Number.isFinite(out.log_likelihood)).toBe(true);
    expect(out.log_likelihood).toBeLessThan(0);
    expect(out.prompt_ids).toEqual(tok.encode('12='));
    expect(out.answer_ids).toEqual(tok.encode('345'));
    expect(out.per_token).toHaveLength(3);
    expect(out.per_token.reduce((a: number, b: number) => a + b, 0)).toBeCloseTo(out.log_likelihood, 10);
    const model = loadModel(ckpt);
    const direct = await mcLogLikelihood(model.logitsFn, tok.encode('12='), tok.encode('345'), { maskId: tok.maskId, rng: new Rng(3, 'score'), mc_num: 8, batch_size: 4 });
    model.dispose();
    expect(out.log_likelihood).toBeCloseTo(direct.logLikelihood, 5);
  });

  it('the one-step estimator equals oneStepLogLikelihood called directly', async () => {
    const r = await score(['--checkpoint', ckpt, '--prompt', '12=', '--answer', '3456', '--estimator', 'one-step', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    const model = loadModel(ckpt);
    const direct = await oneStepLogLikelihood(model.logitsFn, [tok.encode('12=')], [tok.encode('3456')], { maskId: tok.maskId, padId: tok.padId });
    model.dispose();
    expect(out.estimator).toBe('one-step');
    expect(out.per_token).toHaveLength(4);
    expect(out.log_likelihood).toBeLessThan(0);
    expect(out.log_likelihood).toBeCloseTo(direct.total[0], 5);
    out.per_token.forEach((v: number, i: number) => expect(v).toBeCloseTo(direct.perToken[0][i], 5));
  });

  it('user errors are one line and exit code 1', async () => {
    const [bad, notMultiple, cfgOneStep] = await Promise.all([
      score(['--checkpoint', path.join(tmp, 'nope'), '--prompt', '1=', '--answer', '2']),
      score(['--checkpoint', ckpt, '--prompt', '1=', '--answer', '2', '--mc', '10', '--batch-size', '4']),
      score(['--checkpoint', ckpt, '--prompt', '1=', '--answer', '2', '--estimator', 'one-step', '--cfg-scale', '1']),
    ]);
    expect([bad.code, bad.stderr]).toEqual([1, `error: --checkpoint: ${path.join(tmp, 'nope')} does not exist\n`]);
    expect([notMultiple.code, notMultiple.stderr]).toEqual([1, 'error: --mc (10) must be a positive multiple of --batch-size (4)\n']);
    expect([cfgOneStep.code, cfgOneStep.stderr]).toEqual([1, 'error: --cfg-scale applies to --estimator mc only\n']);
  });
});
