/**
 * `yarn sample --checkpoint DIR --prompt "..." [--prompt ...] --sampler llada|dus|remdm|threshold|eb|prophet [options]`:
 * completions (decoded, special tokens skipped, cut at the first EOS), the number of model calls (NFE) and wall time.
 * `--trace FILE` writes one JSON line per sampler step: step, block, nfe, the decoded state of every row (masks shown
 * as `_`, or `[MASK]` when the vocabulary is not single characters or has `_`) and the ids, so the unmasking order
 * can be read off. Kebab-case flags map to the sampling library's snake_case options (`--gen-length` → gen_length).
 */
import fs from 'node:fs';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import type { BackendName } from '../backend/backend.ts';
import { ConfigError } from '../errors.ts';
import { Rng } from '../rng.ts';
import { SAMPLER_FLAGS as SAMPLER_KEYS, checkSampler } from '../config/validate.ts';
import { inspectCheckpoint } from '../config/validate_inputs.ts';
import type { GenerateOptions, SamplerName, StepState } from '../sampling/index.ts';
import type { Tokenizer } from '../tokenizer/index.ts';
import { createLogger } from '../engine/run_log.ts';
import { checkNumbers, failOneLine, refuseDiffusionFlags, runMain } from './common.ts';
import { FAST_FLAG_SAMPLERS, FAST_SAMPLER_OPTIONS, fastSamplerArgs, refuseForeignFlags } from './sampler_flags.ts';
import { SAMPLER_NAMES } from '../sampling/types.ts';

/** Flags that only one sampler reads: giving them to another is a mistake worth an error. */
const SAMPLER_FLAGS: Record<string, readonly SamplerName[]> = {
  ...FAST_FLAG_SAMPLERS,
  steps: ['llada', 'remdm', 'prophet'],
  remasking: ['llada'],
  threshold: ['threshold'],
  factor: ['threshold'],
  'remdm-strategy': ['remdm'],
  eta: ['remdm'],
  'top-p': ['remdm'],
  'remdm-order': ['remdm'],
};

/** How special tokens look in a trace: `_`/`⏎` for a character vocabulary that lacks them, else the token strings. */
function tracePlaceholders(tok: Tokenizer): { mask: string; eos: string; pad: string } {
  const plain: string[] = [];
  for (let id = 0; id < tok.vocabSize; id++) {
    if (id !== tok.maskId && id !== tok.eosId && id !== tok.padId) plain.push(tok.decode([id]));
  }
  const charLevel = plain.every((s) => [...s].length === 1) && !plain.includes('_') && !plain.includes('⏎');
  return charLevel ? { mask: '_', eos: '⏎', pad: '' } : { mask: '[MASK]', eos: tok.decode([tok.eosId]), pad: '' };
}

runMain(async () => {
  const argv = await yargs(hideBin(process.argv))
    .scriptName('yarn sample')
    .usage('$0 --checkpoint DIR --prompt "3102200002100320=" [--prompt ...] [--sampler llada] [--gen-length 17] [--trace steps.jsonl]')
    .option('checkpoint', { type: 'string', demandOption: true, describe: 'checkpoint dir, or run dir (follows its latest file)' })
    .option('prompt', { type: 'string', array: true, demandOption: true, describe: 'prompt text; repeat for a batch' })
    .option('sampler', { choices: SAMPLER_NAMES, default: 'llada' as SamplerName })
    .option('gen-length', { type: 'number', default: 32, describe: 'generated tokens per sample (gen_length)' })
    .option('block-length', { type: 'number', describe: 'semi-autoregressive block size; must divide gen_length (default gen_length)' })
    .option('steps', { type: 'number', describe: 'llada/remdm: total denoising steps, a multiple of the block count (default gen_length)' })
    .option('temperature', { type: 'number', default: 0, describe: 'Gumbel-max temperature for llada/dus/threshold; 0 = greedy' })
    .option('cfg-scale', { type: 'number', default: 0, describe: 'classifier-free guidance w (0 = off; each step then costs 2 NFE)' })
    .option('remasking', { choices: ['low_confidence', 'random'] as const, describe: 'llada: which predictions to keep (default low_confidence)' })
    .option('threshold', { type: 'number', describe: 'threshold (Fast-dLLM): commit every token with confidence >= τ (default 0.9)' })
    .option('factor', { type: 'number', describe: 'threshold: use the factor rule (n+1)(1 − c_n) <= f instead of τ' })
    .option('remdm-strategy', { choices: ['cap', 'rescale', 'conf', 'loop'] as const, describe: 'remdm: σ_t schedule (default cap)' })
    .option('eta', { type: 'number', describe: 'remdm: η (default cap 0.008, rescale 0.015, loop 0.02)' })
    .option('top-p', { type: 'number', describe: 'remdm: nucleus top-p on p_θ (default 0.9; 1e-6 = greedy tokens)' })
    .option('remdm-order', { choices: ['random', 'confidence'] as const, describe: 'remdm: which masked positions unmask: random (the paper) or the most confident' })
    .options(FAST_SAMPLER_OPTIONS)
    .option('num-samples', { type: 'number', default: 1, describe: 'completions per prompt (G)' })
    .option('seed', { type: 'number', default: 0 })
    .option('backend', { choices: ['auto', 'wasm', 'cpu', 'tensorflow', 'tensorflow-gpu'] as const, default: 'auto' as const })
    .option('trace', { type: 'string', describe: 'write the sequence state after every step to this JSONL file' })
    .option('json', { type: 'boolean', default: false, describe: 'print one JSON object per sample' })
    .option('l2d-steps', { type: 'number', describe: "L2D checkpoint: ODE steps per token (0 = the base LM; default the checkpoint's)" })
    .option('l2d-method', { choices: ['euler', 'midpoint'] as const, describe: "L2D: the ODE solver (default the checkpoint's)" })
    .strict()
    .fail(failOneLine('yarn sample'))
    .help()
    .parse();
  refuseForeignFlags(argv, argv.sampler, SAMPLER_FLAGS);
  const fast = fastSamplerArgs(argv);
  // Flags, checkpoint and prompt lengths, before the compute backend loads or the trace file is written.
  checkNumbers(argv, {
    'gen-length': { int: true, min: 1 }, 'block-length': { int: true, min: 1 }, steps: { int: true, min: 1 }, temperature: { min: 0 },
    'cfg-scale': { min: 0 }, threshold: { gt: 0, max: 1 }, factor: { gt: 0 }, eta: { min: 0 }, 'top-p': { gt: 0, max: 1 },
    'num-samples': { int: true, min: 1 }, seed: { int: true, min: 0 }, 'l2d-steps': { int: true, min: 0 },
  });
  const Lg = argv['gen-length'];
  checkSampler({ sampler: argv.sampler, gen_length: Lg, block_length: argv['block-length'] ?? Lg, steps: argv.steps ?? Lg }, SAMPLER_KEYS, () => '');
  const { dir, ...ckpt } = inspectCheckpoint(argv.checkpoint, '--checkpoint');
  const encode = (p: string): number[] => {
    try {
      return ckpt.tokenizer.encode(p);
    } catch (e) {
      throw new ConfigError(`--prompt ${JSON.stringify(p.length > 40 ? `${p.slice(0, 40)}...` : p)}: ${(e as Error).message}`);
    }
  };
  const longest = Math.max(...argv.prompt.map((p) => encode(p).length)) + Lg;
  if (longest > ckpt.limits.max_seq_len) throw new ConfigError(`longest prompt + --gen-length ${Lg} = ${longest} tokens exceeds max_seq_len ${ckpt.limits.max_seq_len} of ${dir}`);
  const kind = ckpt.config as Record<string, unknown>;
  const leftToRight = kind.causal === true || kind.l2d !== undefined;
  if ((argv['l2d-steps'] !== undefined || argv['l2d-method']) && kind.l2d === undefined) throw new ConfigError(`--l2d-steps and --l2d-method need an L2D checkpoint (yarn train:l2d); ${dir} is not one`);
  if (leftToRight) {
    refuseDiffusionFlags(['sampler', 'block-length', 'steps', 'cfg-scale', 'remasking', 'threshold', 'factor', 'remdm-strategy', 'eta', 'top-p', 'remdm-order', ...Object.keys(FAST_SAMPLER_OPTIONS)], dir);
    const { sampleLeftToRight } = await import('../l2d/sample_cli.ts'); // a causal or L2D checkpoint: left to right, KV cache
    return sampleLeftToRight(dir, argv);
  }
  const [{ setupBackend }, { loadModel }, { generate }] = await Promise.all([import('../backend/backend.ts'), import('../checkpoint/load_model.ts'), import('../sampling/index.ts')]);
  const logger = createLogger();
  await setupBackend(argv.backend as BackendName, (msg, fields) => logger.info(fields, msg));
  const model = loadModel(dir);
  try {
    const { config: cfg, tokenizer: tok } = model;
    const G = argv['num-samples'];
    const prompts = argv.prompt.map((p) => tok.encode(p));
    const L = Math.max(...prompts.map((p) => p.length)) + argv['gen-length'];
    if (L > cfg.max_seq_len) {
      throw new ConfigError(`longest prompt + --gen-length ${argv['gen-length']} = ${L} tokens exceeds max_seq_len ${cfg.max_seq_len} of ${model.dir}`);
    }
    const marks = tracePlaceholders(tok);
    const show = (row: number[]) =>
      row.map((t) => (t === cfg.mask_token_id ? marks.mask : t === cfg.eos_token_id ? marks.eos : t === cfg.pad_token_id ? marks.pad : tok.decode([t]))).join('');
    const trace = argv.trace ? fs.openSync(argv.trace, 'w') : null;
    const onStep = (s: StepState) => fs.writeSync(trace!, JSON.stringify({ step: s.step, block: s.block, nfe: s.nfe, text: s.ids.map(show), ids: s.ids }) + '\n');
    const opts: GenerateOptions = {
      prompts,
      num_generations: G,
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
      remdm_order: argv['remdm-order'],
      ...fast,
      maskId: cfg.mask_token_id,
      eosId: cfg.eos_token_id,
      padId: cfg.pad_token_id,
      rng: new Rng(argv.seed, 'sampling'),
      onStep: trace === null ? undefined : onStep,
    };
    const t0 = performance.now();
    const out = await generate(model.logitsFn, opts).finally(() => trace !== null && fs.closeSync(trace));
    const seconds = (performance.now() - t0) / 1000;
    out.sequences.forEach((seq, i) => {
      const eos = seq.indexOf(cfg.eos_token_id);
      const completion = tok.decode(eos === -1 ? seq : seq.slice(0, eos), { skipSpecial: true });
      const prompt = argv.prompt[Math.floor(i / G)];
      const sample = i % G;
      if (argv.json) process.stdout.write(JSON.stringify({ prompt, sample, completion, ids: seq, sampler: argv.sampler, nfe: out.nfe, seconds }) + '\n');
      else process.stdout.write(`${prompt}${G > 1 ? ` [${sample + 1}/${G}]` : ''} → ${completion}\n`);
    });
    if (!argv.json) {
      const perToken = out.nfe / argv['gen-length'];
      process.stdout.write(`NFE ${out.nfe} (model calls for the batch of ${out.sequences.length}; ${perToken.toFixed(2)} per generated token), ${seconds.toFixed(2)} s\n`);
    }
  } finally {
    model.dispose();
  }
});
