import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.ts';
import { trainConfigSchema, type TrainConfig } from '../../src/config/schema.ts';
import { loadCheckpoint } from '../../src/checkpoint/checkpoint.ts';
import { train } from '../../src/train/trainer.ts';
import { yieldProbe } from '../event_loop.ts';

const quiet = pino({ level: 'silent' });

function tinyConfig(outputDir: string, overrides: Partial<Record<'max_steps' | 'save_every' | 'grad_accum', number>> = {}): TrainConfig {
  return parseConfig(
    {
      run: { output_dir: outputDir, seed: 3 },
      runtime: { backend: 'cpu' },
      model: { d_model: 16, n_layers: 2, n_heads: 2, mlp_hidden: 32, max_seq_len: 64 },
      data: { task: 'sudoku', num_train: 64, num_eval: 8, seq_len: 56 },
      optimizer: { lr: 3e-3 },
      schedule: { warmup_steps: 2 },
      training: { max_steps: overrides.max_steps ?? 10, batch_size: 4, grad_accum: overrides.grad_accum ?? 1, eval_every: 0, save_every: overrides.save_every ?? 0, log_every: 5 },
      logging: { progress: 'off' },
    },
    trainConfigSchema,
  );
}

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'trainer-'));
}

async function paramValues(params: Record<string, tf.Variable>): Promise<Record<string, Float32Array>> {
  const out: Record<string, Float32Array> = {};
  for (const [k, v] of Object.entries(params)) out[k] = (await v.data()) as Float32Array;
  return out;
}

describe('trainer', () => {
  it('10 steps straight equal 5 steps + resume + 5 steps, bit for bit (cpu)', async () => {
    const straight = await train(tinyConfig(tmp(), { grad_accum: 2 }), { logger: quiet });
    const a = await paramValues(straight.params);

    const dir = tmp();
    const first = await train(tinyConfig(dir, { grad_accum: 2 }), { logger: quiet, stopAfter: 5 });
    expect(first.step).toBe(5);
    const resumed = await train(tinyConfig(dir, { grad_accum: 2 }), { logger: quiet, resume: true });
    expect(resumed.step).toBe(10);
    const b = await paramValues(resumed.params);
    expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
    for (const k of Object.keys(a)) expect(Array.from(b[k])).toEqual(Array.from(a[k]));

    // The run dir holds metrics, the resolved config and a loadable checkpoint with every part.
    expect(fs.existsSync(path.join(dir, 'metrics.jsonl'))).toBe(true);
    expect(fs.existsSync(path.join(dir, 'config.yaml'))).toBe(true);
    const ckpt = loadCheckpoint(dir);
    expect((ckpt.trainerState as { step: number }).step).toBe(10);
    expect(ckpt.optimizer && Object.keys(ckpt.optimizer).length).toBeGreaterThan(0);
    tf.dispose([...Object.values(ckpt.params), ...Object.values(ckpt.optimizer ?? {})]);
  });

  it('keeps tf.memory().numTensors flat across steps, and lets the event loop turn between steps', async () => {
    const counts: number[] = [];
    const probe = yieldProbe();
    await train(tinyConfig(tmp(), { max_steps: 20 }), { logger: quiet, onStep: (s) => { counts.push(s.numTensors); probe.onStep(); } });
    expect(counts).toHaveLength(20);
    expect(counts[19]).toBe(counts[1]);
    expect(probe.yielded).toEqual(Array(19).fill(true));
  });

  it('training.workers: 2 threads (half of every micro-batch each) take the same steps as one, flat memory, exact resume', async () => {
    const parallel = (dir: string, workers: number) => {
      const c = tinyConfig(dir, { max_steps: 6, grad_accum: 2 });
      c.training.workers = workers;
      return c;
    };
    const one = await paramValues((await train(parallel(tmp(), 1), { logger: quiet })).params);
    const main: number[] = [];
    const inWorkers: number[][] = [];
    const two = await paramValues((await train(parallel(tmp(), 2), { logger: quiet, onStep: (s) => { main.push(s.numTensors); inWorkers.push(s.workerTensors); } })).params);
    // The same masks and rows; the batch's gradient is added up from two halves: equal up to float rounding.
    for (const k of Object.keys(one)) two[k].forEach((x, i) => expect(x).toBeCloseTo(one[k][i], 5));
    expect(main[5]).toBe(main[1]);
    expect(inWorkers[1]).toHaveLength(2);
    expect(inWorkers[5]).toEqual(inWorkers[1]);
    const dir = tmp();
    await train(parallel(dir, 2), { logger: quiet, stopAfter: 3 });
    const resumed = await paramValues((await train(parallel(dir, 2), { logger: quiet, resume: true })).params);
    for (const k of Object.keys(two)) expect(Array.from(resumed[k])).toEqual(Array.from(two[k]));
  });

  it('refuses training.workers that do not divide batch_size, naming the keys', async () => {
    const c = tinyConfig(tmp());
    c.training.workers = 3;
    await expect(train(c, { logger: quiet })).rejects.toThrow('training.batch_size (4) must be a multiple of training.workers (3)');
  });

  it('lowers the held-out loss on sudoku in a few dozen steps', async () => {
    const cfg = tinyConfig(tmp(), { max_steps: 120 });
    cfg.runtime.backend = 'wasm';
    cfg.model = { ...cfg.model, d_model: 32, mlp_hidden: 64 };
    cfg.data.num_train = 2000;
    cfg.data.num_eval = 64; // 16 eval batches: the 1/p weights make a small eval set noisy
    cfg.training.batch_size = 8;
    cfg.optimizer.lr = 3e-3;
    const before = await train({ ...cfg, training: { ...cfg.training, max_steps: 1 } }, { logger: quiet });
    const after = await train(cfg, { logger: quiet });
    expect(after.evalLoss!).toBeLessThan(before.evalLoss! * 0.75);
  });
});
