/**
 * `yarn bench:import [--d-model 1024] [--layers 8] [--shard-size 50MB] [--dir DIR]`: peak memory of loading a
 * Hugging Face-layout directory (bf16 shards, streamed one tensor at a time) against loading the same weights from the
 * project's own checkpoint (one float32 model.safetensors, read whole). Builds both in DIR (default a temp dir): a
 * model of the given size with deterministic weights, saved as a checkpoint and exported with `exportHf`. Each load
 * runs in a fresh Node process on the cpu backend and reports its peak RSS (VmHWM of /proc/self/status: the peak of
 * this program's own memory; getrusage's maxRSS would carry the parent's peak over exec on Linux); a process that only
 * loads tfjs gives the baseline. One JSON line per case.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { exportHf, parseShardSize } from '../src/checkpoint/hf_export.ts';
import { llamaBlockTensorShapes } from '../src/checkpoint/hf_layout.ts';
import { writeSafetensors, type StoredTensor } from '../src/checkpoint/safetensors.ts';
import type { ModelConfig } from '../src/model/config.ts';
import { buildCharTokenizer } from '../src/tokenizer/index.ts';

const argv = yargs(hideBin(process.argv))
  .option('d-model', { type: 'number', default: 1024 })
  .option('layers', { type: 'number', default: 8 })
  .option('shard-size', { type: 'string', default: '50MB' })
  .option('dir', { type: 'string' })
  .option('child', { type: 'string', hidden: true, describe: 'internal: what one measuring process loads' })
  .strict()
  .parseSync();

if (argv.child) {
  // A measuring process: load one thing on the cpu backend, print the peak RSS.
  const tf = await import('@tensorflow/tfjs');
  await tf.setBackend('cpu');
  const [what, dir] = argv.child.split(':');
  const t0 = performance.now();
  let bytes = 0;
  if (what === 'hf') {
    const { loadHfCheckpoint } = await import('../src/checkpoint/hf_import.ts');
    bytes = Object.values(loadHfCheckpoint(dir).params).reduce((s, t) => s + 4 * t.size, 0);
  } else if (what === 'own') {
    const { loadCheckpoint } = await import('../src/checkpoint/checkpoint.ts');
    bytes = Object.values(loadCheckpoint(dir).params).reduce((s, t) => s + 4 * t.size, 0);
  }
  const hwm = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  process.stdout.write(JSON.stringify({ maxRssMB: Number(hwm?.[1] ?? process.resourceUsage().maxRSS) / 1024, modelMB: bytes / 2 ** 20, seconds: (performance.now() - t0) / 1000 }));
  process.exit(0);
}

const dir = argv.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'bench-import-'));
const own = path.join(dir, 'own');
const hf = path.join(dir, 'hf-bf16');
const tok = buildCharTokenizer('0123456789=');
const d = argv['d-model'];
const cfg: ModelConfig = {
  vocab_size: tok.vocabSize, d_model: d, n_layers: argv.layers, n_heads: d / 64, mlp_hidden: Math.round((8 * d) / 3 / 64) * 64, max_seq_len: 64,
  rope_theta: 10000, norm_eps: 1e-5, mask_token_id: tok.maskId, eos_token_id: tok.eosId, pad_token_id: tok.padId, init_seed: 0,
};
if (!fs.existsSync(hf)) {
  // The project's layout written directly (stored [out, in], float32), then exported to bf16 shards.
  fs.mkdirSync(own, { recursive: true });
  const tensors: Record<string, StoredTensor> = {};
  for (const [name, shape] of llamaBlockTensorShapes(cfg)) {
    const n = shape.reduce((a, b) => a * b, 1);
    tensors[name] = { dtype: 'F32', shape, data: Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + name.length) * 0.02) };
  }
  writeSafetensors(path.join(own, 'model.safetensors'), tensors, { format: 'pt' });
  fs.writeFileSync(path.join(own, 'config.json'), JSON.stringify(cfg));
  fs.writeFileSync(path.join(own, 'tokenizer.json'), tok.toJSON());
  exportHf(own, hf, { dtype: 'bf16', shardBytes: parseShardSize(argv['shard-size']) });
}
const shards = fs.readdirSync(hf).filter((f) => f.endsWith('.safetensors')).map((f) => fs.statSync(path.join(hf, f)).size / 2 ** 20);
const measure = (child: string): Record<string, number> =>
  JSON.parse(execFileSync('node', ['--import', 'tsx', 'scripts/bench-import.ts', '--child', child], { encoding: 'utf8' }));
const base = measure('none:');
for (const [label, child] of [['hf bf16 shards (streamed)', `hf:${hf}`], ["project's f32 model.safetensors", `own:${own}`]] as const) {
  const r = measure(child);
  process.stdout.write(JSON.stringify({
    load: label, model_f32_MB: +r.modelMB.toFixed(1), largest_shard_MB: +Math.max(...shards).toFixed(1), shards: shards.length,
    peak_rss_MB: +r.maxRssMB.toFixed(0), baseline_rss_MB: +base.maxRssMB.toFixed(0), over_baseline_MB: +(r.maxRssMB - base.maxRssMB).toFixed(0), seconds: +r.seconds.toFixed(2),
  }) + '\n');
}
