/**
 * Training-step benchmark on the reference shape of shared/research/tfjs-backends.md:
 * vocab 64, d_model 128, 4 layers, 4 heads, mlp 512, seq 128, batch 16 (2,048 tokens per step).
 * Random tokens, ~50% of positions replaced by the mask id, CE on the masked positions (oneHotF32 · logSoftmax),
 * tf.train.adam applying the grads of tf.variableGrads inside tf.tidy. 2 warm-up steps, then the median step time.
 * `--workers W` (W > 1) times the same step as `yarn train:sft` runs it with `training.workers: W`: each of W worker
 * threads (train/sft_workers.ts) takes batch / W rows and returns its gradient sum, the main thread adds them and applies
 * the project's AdamW (engine/step.ts applyGrads). The weights travel to the workers every step, as in training.
 *
 *   npx tsx scripts/bench-train.ts [--backend wasm] [--steps 12] [--batch 16] [--seq 128] [--workers 1] [--profile]
 * Prints one JSON line. Check `uptime` first: the figure is only meaningful on an idle machine.
 */
import * as tf from '@tensorflow/tfjs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { setupBackend, type BackendName } from '../src/backend/backend.ts';
import { Rng } from '../src/rng.ts';
import type { ModelConfig } from '../src/model/config.ts';
import { countParams, forward, initParams } from '../src/model/model.ts';
import { oneHotF32 } from '../src/model/ops.ts';
import { runMain } from '../src/cli/common.ts';
import { ConfigError } from '../src/errors.ts';
import { AdamW } from '../src/engine/optimizer.ts';
import { applyGrads } from '../src/engine/step.ts';
import { SftWorkers } from '../src/train/sft_workers.ts';

const { values: args } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' },
    steps: { type: 'string', default: '12' },
    batch: { type: 'string', default: '16' },
    seq: { type: 'string', default: '128' },
    workers: { type: 'string', default: '1' },
    profile: { type: 'boolean', default: false },
  },
});

const B = Number(args.batch);
const L = Number(args.seq);
const steps = Number(args.steps);
const W = Number(args.workers);
const WARMUP = 2;
const cfg: ModelConfig = {
  vocab_size: 64, d_model: 128, n_layers: 4, n_heads: 4, mlp_hidden: 512, max_seq_len: L,
  rope_theta: 10000, norm_eps: 1e-5, mask_token_id: 63, eos_token_id: 1, pad_token_id: 0, init_seed: 1,
};

/** Masked-diffusion CE on masked positions, averaged over them. logits [B, L, V], targets int32 [B, L], mask float [B, L]. */
function maskedCE(logits: tf.Tensor3D, targets: tf.Tensor2D, mask: tf.Tensor2D): tf.Scalar {
  const V = logits.shape[2];
  const logp = tf.logSoftmax(tf.reshape(logits, [B * L, V])); // [B·L, V]
  const tgt = tf.sum(tf.mul(logp, oneHotF32(tf.reshape(targets, [B * L]), V)), 1); // [B·L]
  const m = tf.reshape(mask, [B * L]);
  return tf.div(tf.neg(tf.sum(tf.mul(tgt, m))), tf.maximum(tf.sum(m), 1)) as tf.Scalar;
}

function batch(rng: Rng): { noisy: tf.Tensor2D; targets: tf.Tensor2D; mask: tf.Tensor2D } {
  const clean = new Int32Array(B * L);
  const noisy = new Int32Array(B * L);
  const mask = new Float32Array(B * L);
  for (let i = 0; i < B * L; i++) {
    clean[i] = rng.int(cfg.vocab_size - 1);
    mask[i] = rng.random() < 0.5 ? 1 : 0;
    noisy[i] = mask[i] ? cfg.mask_token_id : clean[i];
  }
  return { noisy: tf.tensor2d(noisy, [B, L], 'int32'), targets: tf.tensor2d(clean, [B, L], 'int32'), mask: tf.tensor2d(mask, [B, L]) };
}

async function main(): Promise<void> {
  if (!Number.isInteger(W) || W < 1 || B % W !== 0) throw new ConfigError(`--workers (${args.workers}) must be a positive integer that divides --batch (${B})`);
  if (W > 1 && args.profile) throw new ConfigError('--profile profiles the one-thread step: use it without --workers');
  const loadBefore = loadavg()[0]; // other processes on the machine make the figure meaningless: report the load
  const info = await setupBackend(args.backend as BackendName);
  const params = initParams(cfg);
  const vars = Object.values(params);
  const opt = tf.train.adam(1e-3);
  const rng = new Rng(0, 'bench');
  let numTensorsStart = -1; // taken after the warm-up, once Adam's slots exist
  const times: number[] = [];
  const losses: number[] = [];
  let peakRss = 0;
  // W > 1: the data-parallel step of train:sft. weights = mask · B / Σ mask turns the SFT loss (Σ w·CE / B) into maskedCE.
  const pool = W > 1 ? await SftWorkers.start(W, info.backend as BackendName, cfg, params, false) : null;
  const adamw = pool ? new AdamW(params, { beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0 }) : null;
  const parallelStep = async (): Promise<number> => {
    const { noisy, targets, mask } = batch(rng);
    const m = mask.dataSync() as Float32Array;
    const count = Math.max(1, m.reduce((a, b) => a + b, 0));
    const micro = { noisyIds: noisy.dataSync() as Int32Array, targets: targets.dataSync() as Int32Array, weights: m.map((x) => (x * B) / count), rows: B, share: 1 };
    tf.dispose([noisy, targets, mask]);
    const acc = await pool!.grads(params, [micro], L);
    applyGrads(params, adamw!, acc.sum, 1, 1e-3, 0);
    tf.dispose(Object.values(acc.sum));
    return acc.lossSum;
  };
  const step = (): tf.Scalar => {
    const { noisy, targets, mask } = batch(rng);
    const loss = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => maskedCE(forward(params, cfg, noisy, null), targets, mask), vars);
      opt.applyGradients(grads as unknown as tf.NamedTensorMap as never);
      return value;
    });
    tf.dispose([noisy, targets, mask]);
    return loss;
  };
  for (let s = 0; s < WARMUP + steps; s++) {
    if (s === WARMUP) numTensorsStart = tf.memory().numTensors;
    const t0 = performance.now();
    if (pool) losses.push(await parallelStep());
    else {
      const loss = step();
      losses.push((await loss.data())[0]);
      loss.dispose();
    }
    if (s >= WARMUP) times.push(performance.now() - t0);
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }
  await pool?.close();
  if (args.profile) {
    const prof = await tf.profile(() => tf.dispose(step()));
    const byKernel = new Map<string, { n: number; ms: number }>();
    for (const k of prof.kernels) {
      const e = byKernel.get(k.name) ?? { n: 0, ms: 0 };
      e.n++;
      e.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      byKernel.set(k.name, e);
    }
    const rows = [...byKernel.entries()].sort((a, b) => b[1].ms - a[1].ms);
    for (const [name, e] of rows) console.error(`${name.padEnd(24)} ${String(e.n).padStart(6)} ${e.ms.toFixed(1).padStart(9)} ms`);
  }
  const sorted = [...times].sort((a, b) => a - b);
  const median = sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
  console.log(JSON.stringify({
    bench: 'train', backend: info.backend, simd: info.simd, threads: info.threads,
    vocab: cfg.vocab_size, d_model: cfg.d_model, n_layers: cfg.n_layers, n_heads: cfg.n_heads, mlp_hidden: cfg.mlp_hidden,
    seq: L, batch: B, workers: W, params: countParams(params), steps,
    ms_per_step: Math.round(median), tokens_per_s: Math.round((B * L * 1000) / median),
    loss_first: Number(losses[0].toFixed(4)), loss_last: Number(losses[losses.length - 1].toFixed(4)),
    peak_rss_mb: Math.round(peakRss / 2 ** 20), num_tensors_start: numTensorsStart, num_tensors_end: tf.memory().numTensors,
    load_avg_1m_before: Number(loadBefore.toFixed(2)), load_avg_1m_after: Number(loadavg()[0].toFixed(2)),
  }));
}

runMain(main); // a user error is one line, a bug prints its stack (src/cli/common.ts)
