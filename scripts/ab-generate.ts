/**
 * In-process A/B of generation speed: an older checkout's sampler and model code against this one's, alternated in
 * one process on the same weights, prompts and seeds. Separate runs cannot resolve a 20% change on a VM whose speed
 * drifts by ±30% between processes; alternating in one process pairs each old call with a new one under the same
 * conditions. Also checks that both produce the same samples (an exact speed-up must).
 *
 *   git worktree add ../old <commit> && ln -s "$PWD/node_modules" ../old/node_modules
 *   npx tsx scripts/ab-generate.ts --old ../old --checkpoint DIR [--steps 32] [--cache none|prefix|dual]
 *                                  [--sampler llada|eb|...] [--gamma γ] [--reps 4]
 *
 * The shape is bench:grpo's: 16 generated Countdown prompts (`a,b,c->t:`) × 6 completions × 64 tokens, blocks of 32,
 * T 0.9, the sampler's log-probs recorded (grpo.importance_sampling_cap's path). Prints one JSON line: the seconds of
 * every old and new call, the median of the per-pair ratios old/new, and how many pairs produced identical samples.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { setupBackend } from '../src/backend/backend.ts';
import { loadModel } from '../src/checkpoint/load_model.ts';
import { runMain } from '../src/cli/common.ts';
import { modelDenoiser } from '../src/model/block_cache.ts';
import { Rng } from '../src/rng.ts';
import { generate } from '../src/sampling/generate.ts';
import { generateCountdownSet } from '../src/tasks/countdown.ts';

runMain(async () => {
  const a = await yargs(hideBin(process.argv))
    .option('old', { type: 'string', demandOption: true, describe: 'root of the older checkout (its node_modules linked to this one)' })
    .option('checkpoint', { type: 'string', demandOption: true })
    .option('steps', { type: 'number', default: 32 })
    .option('cache', { type: 'string', default: 'none' })
    .option('sampler', { type: 'string', default: 'llada' })
    .option('gamma', { type: 'number' })
    .option('reps', { type: 'number', default: 4 })
    .strict()
    .parse();
  const old = path.resolve(a.old);
  const oldGenerate = (await import(pathToFileURL(path.join(old, 'src/sampling/generate.ts')).href)).generate as typeof generate;
  const oldDenoiser = (await import(pathToFileURL(path.join(old, 'src/model/block_cache.ts')).href)).modelDenoiser as typeof modelDenoiser;
  const info = await setupBackend('wasm');
  console.error(`backend ${info.backend}, old code from ${old}`);
  const m = loadModel(a.checkpoint);
  const prompts = generateCountdownSet(5, 16, {}).map((it) => m.tokenizer.encode(`${it.numbers.join(',')}->${it.target}:`));
  const opts = (seed: number) => ({
    prompts, num_generations: 6, sampler: a.sampler as 'llada', gen_length: 64, block_length: 32, steps: a.steps, temperature: 0.9,
    cache: a.cache as 'none', ...(a.gamma !== undefined ? { gamma: a.gamma } : {}),
    maskId: m.cfg.mask_token_id, eosId: m.cfg.eos_token_id, padId: m.cfg.pad_token_id, rng: new Rng(seed, 'ab'), record_logps: true,
  });
  const fOld = oldDenoiser(m.params, m.cfg);
  const fNew = modelDenoiser(m.params, m.cfg);
  await oldGenerate(fOld, opts(0)); // warm-up: kernel set-up and first-call allocations
  await generate(fNew, opts(0));
  const tOld: number[] = [];
  const tNew: number[] = [];
  let same = 0;
  for (let r = 1; r <= a.reps; r++) {
    let t0 = performance.now();
    const go = await oldGenerate(fOld, opts(r));
    tOld.push((performance.now() - t0) / 1000);
    t0 = performance.now();
    const gn = await generate(fNew, opts(r));
    tNew.push((performance.now() - t0) / 1000);
    if (JSON.stringify(go.full) === JSON.stringify(gn.full)) same++;
  }
  const ratios = tOld.map((x, i) => x / tNew[i]).sort((p, q) => p - q);
  console.log(JSON.stringify({
    sampler: a.sampler, steps: a.steps, cache: a.cache, gamma: a.gamma ?? null,
    old_s: tOld.map((x) => +x.toFixed(2)), new_s: tNew.map((x) => +x.toFixed(2)),
    ratio_median: +ratios[Math.floor(ratios.length / 2)].toFixed(3), identical_samples: `${same}/${a.reps}`, tensors: tf.memory().numTensors,
  }));
});
