import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { saveCheckpoint } from '../../src/checkpoint/checkpoint.ts';
import type { ModelConfig } from '../../src/model/config.ts';
import { disposeParams, initParams } from '../../src/model/model.ts';
import { buildCharTokenizer } from '../../src/tokenizer/index.ts';

const run = promisify(execFile);
const tok = buildCharTokenizer('0123456789=');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-sample-'));
const ckpt = path.join(tmp, 'run'); // a run dir: the CLI follows its `latest`

async function sample(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('node', ['--import', 'tsx', 'src/cli/sample.ts', '--backend', 'cpu', ...args], { env: { ...process.env, FORCE_COLOR: '0' } });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/** What the CLI prints for a completion row: cut at the first EOS, specials dropped. */
function completionOf(ids: number[]): string {
  const eos = ids.indexOf(tok.eosId);
  return tok.decode(eos === -1 ? ids : ids.slice(0, eos), { skipSpecial: true });
}

beforeAll(async () => {
  await tf.setBackend('cpu');
  const cfg: ModelConfig = {
    vocab_size: tok.vocabSize, d_model: 16, n_layers: 1, n_heads: 2, mlp_hidden: 32, max_seq_len: 32, rope_theta: 10000,
    norm_eps: 1e-5, mask_token_id: tok.maskId, eos_token_id: tok.eosId, pad_token_id: tok.padId, init_seed: 4,
  };
  const params = initParams(cfg);
  await saveCheckpoint(ckpt, 'step-000001', { config: cfg, params, tokenizerJson: tok.toJSON() });
  disposeParams(params);
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('yarn sample', () => {
  it('llada gen 8, block 4, steps 8: completions, NFE 8, and a trace of one line per step', async () => {
    const trace = path.join(tmp, 'trace.jsonl');
    const r = await sample(['--checkpoint', ckpt, '--prompt', '12=', '--prompt', '3=', '--gen-length', '8', '--block-length', '4', '--steps', '8', '--trace', trace]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('"backend":"cpu"'); // the backend is logged at start
    const lines = fs.readFileSync(trace, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(lines.map((l) => l.block)).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
    expect(lines.map((l) => l.nfe)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const prompts = [tok.encode('12='), [tok.padId, ...tok.encode('3=')]]; // the shorter prompt is left-padded
    lines.forEach((l, s) => {
      l.ids.forEach((row: number[], n: number) => {
        expect(row.slice(0, 3)).toEqual(prompts[n]); // the prompt never changes
        const gen = row.slice(3);
        expect(gen.filter((t) => t === tok.maskId)).toHaveLength(7 - s); // one token per step (4 steps per block of 4)
        if (s < 4) expect(gen.slice(4).every((t) => t === tok.maskId)).toBe(true); // block 1 waits for block 0
      });
      expect(l.text[0].startsWith('12=')).toBe(true);
      expect(l.text[1].startsWith('3=')).toBe(true); // padding is shown as nothing
      expect(l.text[0].split('_')).toHaveLength(8 - s); // masks shown as `_`
    });
    const last = lines[7];
    expect(last.text.join('')).not.toContain('_');
    const out = r.stdout.trim().split('\n');
    expect(out).toEqual([
      `12= → ${completionOf(last.ids[0].slice(3))}`,
      `3= → ${completionOf(last.ids[1].slice(3))}`,
      expect.stringMatching(/^NFE 8 \(model calls for the batch of 2; 1\.00 per generated token\), \d+\.\d\d s$/),
    ]);
  });

  it('dus --json --num-samples 2: one object per sample, log2(8) = 3 model calls', async () => {
    const r = await sample(['--checkpoint', ckpt, '--prompt', '4=', '--sampler', 'dus', '--gen-length', '8', '--num-samples', '2', '--json']);
    expect(r.code).toBe(0);
    const objs = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(objs.map((o) => [o.prompt, o.sample, o.nfe, o.sampler])).toEqual([['4=', 0, 3, 'dus'], ['4=', 1, 3, 'dus']]);
    for (const o of objs) {
      expect(o.ids).toHaveLength(8);
      expect(o.ids).not.toContain(tok.maskId);
      expect(o.completion).toBe(completionOf(o.ids));
    }
    expect(objs[1].ids).toEqual(objs[0].ids); // greedy: both copies decode the same
  });

  it('cfg doubles the NFE; threshold and remdm take their own flags', async () => {
    const [cfgRun, thr, remdm] = await Promise.all([
      sample(['--checkpoint', ckpt, '--prompt', '5=', '--gen-length', '4', '--cfg-scale', '1', '--json']),
      sample(['--checkpoint', ckpt, '--prompt', '5=', '--gen-length', '4', '--sampler', 'threshold', '--factor', '1', '--json']),
      sample(['--checkpoint', ckpt, '--prompt', '5=', '--gen-length', '4', '--sampler', 'remdm', '--steps', '8', '--remdm-strategy', 'rescale', '--eta', '0.01', '--top-p', '0.8', '--json']),
    ]);
    expect([cfgRun.code, thr.code, remdm.code]).toEqual([0, 0, 0]);
    expect(JSON.parse(cfgRun.stdout).nfe).toBe(8); // 4 steps × (cond + uncond)
    const t = JSON.parse(thr.stdout);
    expect(t.nfe).toBeGreaterThanOrEqual(1);
    expect(t.nfe).toBeLessThanOrEqual(4); // at least one token per step
    expect(t.ids).not.toContain(tok.maskId);
    expect(JSON.parse(remdm.stdout).nfe).toBe(8);
  });

  it('eb and prophet take their flags, with the block cache; a flag of another sampler is refused', async () => {
    const [eb, prophet, foreign] = await Promise.all([
      sample(['--checkpoint', ckpt, '--prompt', '5=', '--gen-length', '4', '--sampler', 'eb', '--gamma', '100', '--cache', 'prefix', '--json']),
      sample(['--checkpoint', ckpt, '--prompt', '5=', '--gen-length', '4', '--sampler', 'prophet', '--prophet-gaps', '0,0,0', '--cache', 'dual', '--eos-fill', '--json']),
      sample(['--checkpoint', ckpt, '--prompt', '5=', '--sampler', 'threshold', '--gamma', '1']),
    ]);
    expect([eb.code, prophet.code]).toEqual([0, 0]);
    expect(JSON.parse(eb.stdout).nfe).toBe(1); // γ above any entropy sum: the whole block in one call
    expect(JSON.parse(prophet.stdout).nfe).toBe(1); // gap ≥ 0 always: all in at the first call
    expect([foreign.code, foreign.stderr]).toEqual([1, 'error: --gamma applies to --sampler eb only (got --sampler threshold)\n']);
  });

  it('user errors are one line and exit code 1; --help lists the options', async () => {
    const [bad, wrongFlag, tooLong, help] = await Promise.all([
      sample(['--checkpoint', '/no/such/dir', '--prompt', '1=']),
      sample(['--checkpoint', ckpt, '--prompt', '1=', '--sampler', 'dus', '--steps', '4']),
      sample(['--checkpoint', ckpt, '--prompt', '1=', '--gen-length', '31']),
      sample(['--help']),
    ]);
    expect([bad.code, bad.stderr]).toEqual([1, 'error: --checkpoint: /no/such/dir does not exist\n']);
    expect([wrongFlag.code, wrongFlag.stderr]).toEqual([1, 'error: --steps applies to --sampler llada|remdm|prophet only (got --sampler dus)\n']);
    expect(tooLong.code).toBe(1);
    expect(tooLong.stderr.trim().split('\n').pop()).toBe(`error: longest prompt + --gen-length 31 = 33 tokens exceeds max_seq_len 32 of ${ckpt}/step-000001`);
    expect(help.code).toBe(0);
    for (const flag of ['--checkpoint', '--sampler', '--gen-length', '--remdm-strategy', '--trace', '--json']) expect(help.stdout).toContain(flag);
  });
});
