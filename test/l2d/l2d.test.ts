/**
 * L2D (src/l2d/): exactness at t = 0, the flow-matching pieces by hand, the solvers on linear fields, and a tiny
 * training run (frozen base bit for bit, flat memory, checkpoint round trip, generation at 0 steps = the base).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { pino } from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { setupBackend } from '../../src/backend/backend.ts';
import { Rng } from '../../src/rng.ts';
import { parseConfig } from '../../src/config/load.ts';
import { trainConfigSchema } from '../../src/config/schema.ts';
import type { ModelConfig } from '../../src/model/config.ts';
import { forward, forwardMain, initParams, type Params } from '../../src/model/model.ts';
import { cachedDecoder } from '../../src/model/kv_cache.ts';
import { weightedCrossEntropy } from '../../src/diffusion/loss.ts';
import { nextTokenBatch } from '../../src/diffusion/next_token.ts';
import { generateAutoregressive } from '../../src/sampling/autoregressive.ts';
import { train } from '../../src/train/trainer.ts';
import { flowSchema, l2dConfigSchema, odeSchema } from '../../src/l2d/config.ts';
import { flowLogits, flowStd, type FlowModel } from '../../src/l2d/flow.ts';
import { interpolate, l2dLoss } from '../../src/l2d/loss.ts';
import { flowVelocity, solveOde } from '../../src/l2d/ode.ts';
import { initFlowParams } from '../../src/l2d/params.ts';
import { trainL2d, trainView } from '../../src/l2d/trainer.ts';
import { loadL2d } from '../../src/l2d/checkpoint.ts';
import { l2dDecoder } from '../../src/l2d/decode.ts';
import { loadLeftToRight } from '../../src/l2d/generate.ts';
import { l2dScaling, scalingTable } from '../../src/l2d/scaling.ts';
import { DATA_DIR } from '../paths.ts';

const quiet = pino({ level: 'silent' });
const cfg: ModelConfig = {
  vocab_size: 13, d_model: 16, n_layers: 2, n_heads: 2, mlp_hidden: 24, max_seq_len: 16, rope_theta: 10000, norm_eps: 1e-5,
  mask_token_id: 2, eos_token_id: 1, pad_token_id: 0, init_seed: 5, causal: true,
};
const flowOpts = flowSchema.parse({ flow_representation_dim: 4, timestep_modulation_hidden_size: 8, timestep_modulation_freq_embedding_size: 8, flow_to_lm_hidden_size: 8, guidance_modulation_num_classes: 1 });

beforeAll(async () => {
  await setupBackend('cpu');
});

/** Flow parameters with every value random (the zero-initialised gates too), so nothing is trivially zero. */
function randomFlow(base: Params, f = flowOpts): Params {
  const flow = initFlowParams(f, cfg, base, 1);
  let k = 0;
  for (const v of Object.values(flow)) v.assign(tf.randomNormal(v.shape, 0, 0.3, 'float32', ++k));
  return flow;
}

const ids = [[3, 4, 5, 6, 7, 8], [9, 10, 11, 12, 3, 4]];

describe('L2D flow stream', () => {
  for (const lora of [false, true]) {
    it(`at t = 0 the logits equal the frozen LM's exactly; at t > 0 they differ (${lora ? 'LoRA' : 'full'} adapters)`, () => {
      const base = initParams(cfg);
      const f = { ...flowOpts, separate_flow_params_with_lora: lora };
      const m: FlowModel = { base, cfg, flow: randomFlow(base, f), f };
      tf.tidy(() => {
        const x = tf.tensor2d(ids, [2, 6], 'int32');
        const ref = forward(base, cfg, x).reshape([12, cfg.vocab_size]).arraySync();
        const view = trainView(cfg, forwardMain(base, cfg, x), 2, 6);
        const xt = tf.randomNormal([12, 4], 0, 64, 'float32', 7) as tf.Tensor2D;
        const labels = tf.tensor1d([0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1], 'int32');
        expect(flowLogits(m, view, xt, tf.zeros([12]) as tf.Tensor1D, labels).arraySync()).toEqual(ref);
        const later = flowLogits(m, view, xt, tf.fill([12], 0.5) as tf.Tensor1D, labels).arraySync();
        expect(Math.max(...later.flat().map((v, i) => Math.abs(v - (ref as number[][]).flat()[i])))).toBeGreaterThan(1e-3);
      });
      tf.dispose([...Object.values(base), ...Object.values(m.flow)]);
    });
  }

  it('x_t = (1 − t)σε + t·e and std_t = √((1 − t)²σ² + t²), by hand', () => {
    const e = tf.tensor2d([[1, -1], [2, 0]]);
    const eps = tf.tensor2d([[0.5, 0.25], [-1, 1]]);
    const t = tf.tensor1d([0.25, 1]);
    expect(interpolate(e, eps, t, 4).arraySync()).toEqual([[0.75 * 4 * 0.5 + 0.25, 0.75 * 4 * 0.25 - 0.25], [2, 0]]);
    expect(flowStd(t, 4).arraySync()).toEqual([[Math.fround(Math.sqrt(0.5625 * 16 + 0.0625))], [1]]);
  });

  it('the flow-matching loss at t = 0 is the base LM next-token CE of the answer, by hand', () => {
    const base = initParams(cfg);
    const m: FlowModel = { base, cfg, flow: randomFlow(base), f: flowOpts };
    const x = tf.tensor2d(ids, [2, 6], 'int32');
    const batch = nextTokenBatch(Int32Array.from(ids.flat()), [3, 2], 2, 6);
    const noise = { t: new Float32Array(12), eps: Float32Array.from({ length: 48 }, (_, i) => Math.sin(i)), labels: new Int32Array(12) };
    const loss = tf.tidy(() => l2dLoss(m, trainView(cfg, forwardMain(base, cfg, x), 2, 6), batch, noise).dataSync()[0]);
    // by hand: row 0 predicts ids 6, 7, 8 at positions 2..4 (mean), row 1 ids 11, 12, 3, 4 at 1..4 (mean); then / 2
    const logp = tf.tidy(() => tf.logSoftmax(forward(base, cfg, x)).arraySync());
    const ce = (r: number, from: number) => ids[r].slice(from + 1).map((y, k) => -logp[r][from + k][y]);
    const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
    expect(loss).toBeCloseTo((mean(ce(0, 2)) + mean(ce(1, 1))) / 2, 5);
    expect(loss).toBeCloseTo(tf.tidy(() => weightedCrossEntropy(forward(base, cfg, x), tf.tensor2d(batch.targets, [2, 6], 'int32'), tf.tensor2d(batch.weights, [2, 6])).dataSync()[0]), 6);
    tf.dispose([x, ...Object.values(base), ...Object.values(m.flow)]);
  });
});

describe('ODE solvers', () => {
  it('one step on the linear field v = a·x: Euler x(1 + ah)^N, midpoint x(1 + ah + (ah)²/2)^N', () => {
    const x0 = tf.tensor2d([[1, -2]]);
    const v = (_t: number, x: tf.Tensor2D) => tf.mul(x, 0.5) as tf.Tensor2D;
    for (const N of [1, 2, 4]) {
      const h = 1 / N;
      const e = solveOde('euler', v, x0, N).arraySync()[0];
      const mp = solveOde('midpoint', v, x0, N).arraySync()[0];
      expect(e[0]).toBeCloseTo((1 + 0.5 * h) ** N, 6);
      expect(mp[1]).toBeCloseTo(-2 * (1 + 0.5 * h + (0.5 * h) ** 2 / 2) ** N, 6);
    }
    // a time-dependent field v = t: midpoint is exact for a linear-in-t integrand, x(1) = x0 + 1/2
    expect(solveOde('midpoint', (t, x) => tf.fill(x.shape, t) as tf.Tensor2D, x0, 3).arraySync()[0][0]).toBeCloseTo(1.5, 6);
  });

  it("L2D's velocity (x̂₁ − x)/(1 − t) with a fixed x̂₁: the last Euler step lands on x̂₁ exactly", () => {
    const target = tf.tensor2d([[3, -1]]);
    const x = solveOde('euler', (t, xx) => flowVelocity(target, xx, t), tf.tensor2d([[40, 10]]), 4).arraySync()[0];
    expect(x[0]).toBeCloseTo(3, 5);
    expect(x[1]).toBeCloseTo(-1, 5);
  });
});

describe('L2D training', () => {
  it('trains the flow only: base bit for bit unchanged, memory flat, checkpoint reloads, exact resume, 0 ODE steps = the base LM', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'l2d-'));
    const common = { runtime: { backend: 'cpu' }, data: { task: 'sudoku', num_train: 32, num_eval: 4, seq_len: 34 }, logging: { progress: 'off' } };
    const baseRun = await train(parseConfig({
      ...common, run: { output_dir: path.join(dir, 'base'), seed: 1 }, model: { d_model: 16, n_layers: 2, n_heads: 2, mlp_hidden: 24, max_seq_len: 40, causal: true },
      optimizer: { lr: 3e-3 }, training: { max_steps: 2, batch_size: 4, eval_every: 0, save_every: 0, log_every: 1 },
    }, trainConfigSchema), { logger: quiet });
    tf.dispose(Object.values(baseRun.params));
    const config = parseConfig({
      ...common, run: { output_dir: path.join(dir, 'l2d'), seed: 2 }, base: path.join(dir, 'base'),
      flow: { flow_representation_dim: 4, timestep_modulation_freq_embedding_size: 8, flow_to_lm_hidden_size: 8 },
      optimizer: { lr: 1e-2 }, training: { max_steps: 6, batch_size: 4, eval_every: 0, save_every: 0, log_every: 1 },
    }, l2dConfigSchema);
    const tensors: number[] = [];
    const run = await trainL2d(config, { logger: quiet, onStep: (s) => tensors.push(s.numTensors) });
    expect(new Set(tensors.slice(1)).size).toBe(1); // flat after the first step (AdamW's moments appear at step 1)
    const before = loadL2d(run.runDir);
    const stored = before.baseModel.params;
    for (const [name, v] of Object.entries(run.model.base)) expect(Buffer.from((v.dataSync() as Float32Array).buffer)).toEqual(Buffer.from((stored[name].dataSync() as Float32Array).buffer));
    // the flow moved (the output gate's last layer at least), and reloads bit for bit
    const gate = run.flow['flow.modulation_head.1.weight'].dataSync();
    expect(Math.max(...Array.from(gate).map(Math.abs))).toBeGreaterThan(0);
    for (const [name, v] of Object.entries(run.flow)) expect(Array.from(before.flow[name].dataSync())).toEqual(Array.from(v.dataSync()));
    // generation: 0 ODE steps is the base LM (same tokens); 2 midpoint steps cost 1 + 2·2 + 1 passes per token
    const prompts = [[3, 4, 5, 6], [7, 8, 9, 10]].map((p) => p.map((x) => x % before.cfg.vocab_size));
    const ids = { maskId: before.cfg.mask_token_id, eosId: before.cfg.eos_token_id, padId: before.cfg.pad_token_id };
    const ar = await generateAutoregressive(cachedDecoder(before.base, before.cfg), { prompts, gen_length: 5, ...ids, rng: new Rng(0) });
    const zero = await generateAutoregressive(l2dDecoder(before, odeSchema.parse({ steps: 0 }), new Rng(0)), { prompts, gen_length: 5, ...ids, rng: new Rng(0) });
    expect(zero.sequences).toEqual(ar.sequences);
    const t0 = tf.memory().numTensors;
    const dec = l2dDecoder(before, odeSchema.parse({ steps: 2, method: 'midpoint' }), new Rng(0));
    const two = await generateAutoregressive(dec, { prompts: [prompts[0]], gen_length: 3, ...ids, rng: new Rng(0) });
    const tokens = two.sequences[0].findIndex((t) => t === ids.eosId) + 1 || 3;
    expect(dec.flowPasses()).toBe(tokens * 5);
    expect(tf.memory().numTensors).toBe(t0); // the decoder freed its cache and table
    before.dispose();
    // the scaling table (yarn eval --l2d-steps 1): the base row first, then 1 Euler step (1 + 1 flow passes per token)
    const model = loadLeftToRight(run.runDir);
    const rows = await l2dScaling(model, [1], 'euler', { task: 'sudoku', subset: 3, seed: 0, parser: 'lenient', dataDir: DATA_DIR, batch_size: 3, sampler: {}, out: path.join(dir, 'eval') }, () => {});
    model.dispose();
    expect(rows.map((r) => [r.steps, r.flow_passes_per_token, r.summary.n])).toEqual([[0, 0, 3], [1, 2, 3]]);
    expect(scalingTable(rows).split('\n')[2]).toMatch(/^\| base LM \(t = 0\) \| 0 \| 0 \|/);
    expect(fs.existsSync(path.join(dir, 'eval-l2d1euler.jsonl'))).toBe(true);
    // --resume is exact: 3 steps + resume + 3 steps = the 6 steps above, bit for bit
    const split = { ...config, run: { ...config.run, output_dir: path.join(dir, 'l2d-split') } };
    (await trainL2d(split, { logger: quiet, stopAfter: 3 })).dispose();
    const resumed = await trainL2d(split, { logger: quiet, resume: true });
    expect(resumed.step).toBe(6);
    for (const [name, v] of Object.entries(run.flow)) expect(Array.from(resumed.flow[name].dataSync())).toEqual(Array.from(v.dataSync()));
    resumed.dispose();
    run.dispose();
  }, 60_000);
});
