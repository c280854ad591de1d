/** `yarn sample --checkpoint DIR --prompt "..." --sampler llada|dus|remdm|threshold [options]`: completions + NFE. */
import fs from 'node:fs';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { setupBackend, type BackendName } from '../backend/backend.ts';
import { Rng } from '../backend/rng.ts';
import { loadModel } from '../model/load.ts';
import { generate, type GenerateOptions } from '../sampling/index.ts';
import { createLogger } from '../train/run_log.ts';
import { runMain } from './common.ts';

runMain(async () => {
  const argv = await yargs(hideBin(process.argv))
    .scriptName('yarn sample')
    .usage('$0 --checkpoint DIR --prompt "1002300400010030=" [--sampler llada] [--gen-length 17] [--trace steps.jsonl]')
    .option('checkpoint', { type: 'string', demandOption: true, describe: 'checkpoint dir or run dir (follows latest)' })
    .option('prompt', { type: 'string', array: true, demandOption: true, describe: 'prompt text (repeat for a batch)' })
    .option('sampler', { choices: ['llada', 'dus', 'remdm', 'threshold'] as const, default: 'llada' as const })
    .option('gen-length', { type: 'number', default: 32, describe: 'generated tokens (LLaDA gen_length)' })
    .option('block-length', { type: 'number', describe: 'semi-autoregressive block size (default gen_length)' })
    .option('steps', { type: 'number', describe: 'denoising steps for llada/remdm (default gen_length)' })
    .option('temperature', { type: 'number', default: 0, describe: 'Gumbel temperature; 0 = greedy' })
    .option('cfg-scale', { type: 'number', default: 0, describe: 'classifier-free guidance w' })
    .option('remasking', { choices: ['low_confidence', 'random'] as const, default: 'low_confidence' as const })
    .option('threshold', { type: 'number', default: 0.9, describe: 'threshold sampler: commit tokens with confidence >= this' })
    .option('factor', { type: 'number', describe: 'threshold sampler: use the factor rule instead' })
    .option('remdm-strategy', { choices: ['cap', 'rescale', 'conf', 'loop'] as const, default: 'cap' as const })
    .option('eta', { type: 'number', describe: 'ReMDM eta (default per strategy)' })
    .option('top-p', { type: 'number', default: 0.9, describe: 'ReMDM nucleus' })
    .option('num-samples', { type: 'number', default: 1, describe: 'completions per prompt (G)' })
    .option('seed', { type: 'number', default: 0 })
    .option('backend', { choices: ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const, default: 'auto' as const })
    .option('trace', { type: 'string', describe: 'write the sequence state after every step to this JSONL file' })
    .option('json', { type: 'boolean', default: false, describe: 'one JSON object per completion' })
    .strict()
    .help()
    .parse();
  const logger = createLogger();
  await setupBackend(argv.backend as BackendName, (msg, fields) => logger.info(fields, msg));
  const model = loadModel(argv.checkpoint);
  const { cfg, tokenizer: tok } = model;
  const show = (ids: number[]) => ids.map((t) => (t === cfg.mask_token_id ? '_' : t === cfg.pad_token_id ? '' : t === cfg.eos_token_id ? '⏎' : tok.decode([t]))).join('');
  const trace = argv.trace ? fs.openSync(argv.trace, 'w') : null;
  const t0 = performance.now();
  const opts: GenerateOptions = {
    prompts: argv.prompt.map((p) => tok.encode(p)),
    num_generations: argv['num-samples'],
    sampler: argv.sampler,
    gen_length: argv['gen-length'],
    block_length: argv['block-length'],
    steps: argv.steps,
    temperature: argv.temperature,
    cfg_scale: argv['cfg-scale'],
    remasking: argv.remasking,
    threshold: argv.threshold,
    factor: argv.factor,
    remdm_strategy: argv['remdm-strategy'],
    eta: argv.eta,
    top_p: argv['top-p'],
    maskId: cfg.mask_token_id,
    eosId: cfg.eos_token_id,
    padId: cfg.pad_token_id,
    rng: new Rng(argv.seed, 'sampling'),
    onStep: trace
      ? (s) => fs.writeSync(trace, JSON.stringify({ step: s.step, block: s.block, nfe: s.nfe, text: s.ids.map(show), ids: s.ids }) + '\n')
      : undefined,
  };
  const out = await generate(model.logitsFn, opts);
  if (trace) fs.closeSync(trace);
  const seconds = (performance.now() - t0) / 1000;
  out.sequences.forEach((seq, i) => {
    const eos = seq.indexOf(cfg.eos_token_id);
    const completion = tok.decode(eos === -1 ? seq : seq.slice(0, eos), { skipSpecial: true });
    const prompt = argv.prompt[Math.floor(i / argv['num-samples'])];
    if (argv.json) process.stdout.write(JSON.stringify({ prompt, completion, ids: seq, nfe: out.nfe, seconds }) + '\n');
    else process.stdout.write(`${prompt} → ${completion}\n`);
  });
  if (!argv.json) process.stdout.write(`NFE ${out.nfe} (model calls for the batch), ${seconds.toFixed(2)} s\n`);
  model.dispose();
});
