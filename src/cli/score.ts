/**
 * `yarn score --checkpoint DIR --prompt "..." --answer "..." [--estimator mc|one-step] [--mc 128] [--json]`:
 * the conditional log-likelihood log p(answer | prompt).
 * - mc (default): LLaDA's Monte Carlo estimate (get_log_likelihood.py): stratified answer-only masks, weight L/l,
 *   --mc samples in forward passes of --batch-size rows; optional CFG with the prompt masked in the unconditional copy.
 * - one-step: d1's deterministic estimate: the whole answer masked once, the prompt kept, Σ log softmax at the answer.
 * `--json` adds the token ids and the per-answer-token values (they sum to the total).
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { setupBackend, type BackendName } from '../backend/backend.ts';
import { ConfigError } from '../errors.ts';
import { Rng } from '../rng.ts';
import { loadModel } from '../checkpoint/load_model.ts';
import { oneStepLogLikelihood } from '../rl/objectives/estimators.ts';
import { mcLogLikelihood } from '../sampling/index.ts';
import { createLogger } from '../engine/run_log.ts';
import { inspectCheckpoint } from '../config/validate_inputs.ts';
import { checkNumbers, failOneLine, runMain } from './common.ts';

runMain(async () => {
  const argv = await yargs(hideBin(process.argv))
    .scriptName('yarn score')
    .usage('$0 --checkpoint DIR --prompt "..." --answer "..." [--estimator mc|one-step] [--mc 128] [--json]')
    .option('checkpoint', { type: 'string', demandOption: true, describe: 'checkpoint dir, or run dir (follows its latest file)' })
    .option('prompt', { type: 'string', demandOption: true, describe: 'conditioning text (never masked)' })
    .option('answer', { type: 'string', demandOption: true, describe: 'text whose log-likelihood is estimated' })
    .option('estimator', { choices: ['mc', 'one-step'] as const, default: 'mc' as const, describe: "LLaDA's Monte Carlo estimate, or d1's deterministic one-step estimate" })
    .option('mc', { type: 'number', default: 128, describe: 'mc: Monte Carlo samples (LLaDA mc_num); a multiple of --batch-size' })
    .option('batch-size', { type: 'number', default: 16, describe: 'mc: rows per forward pass' })
    .option('cfg-scale', { type: 'number', default: 0, describe: 'mc: classifier-free guidance w (0 = off)' })
    .option('seed', { type: 'number', default: 0, describe: 'mc: seed of the mask draws' })
    .option('backend', { choices: ['auto', 'wasm', 'cpu', 'tensorflow', 'tensorflow-gpu'] as const, default: 'auto' as const })
    .option('json', { type: 'boolean', default: false, describe: 'print one JSON object with token ids and per-token values' })
    .strict()
    .fail(failOneLine('yarn score'))
    .help()
    .parse();
  const mc = argv.mc;
  const b = argv['batch-size'];
  if (argv.estimator === 'one-step' && argv['cfg-scale'] !== 0) throw new ConfigError('--cfg-scale applies to --estimator mc only');
  if (!Number.isInteger(b) || b < 1) throw new ConfigError(`--batch-size (${b}) must be an integer >= 1`);
  if (!Number.isInteger(mc) || mc < 1 || mc % b !== 0) throw new ConfigError(`--mc (${mc}) must be a positive multiple of --batch-size (${b})`);
  checkNumbers(argv, { 'cfg-scale': { min: 0 }, seed: { int: true, min: 0 } });
  const { dir, tokenizer, limits } = inspectCheckpoint(argv.checkpoint, '--checkpoint'); // before any backend logging
  const [promptLen, answerLen] = [argv.prompt, argv.answer].map((text, i) => {
    try {
      return tokenizer.encode(text).length;
    } catch (e) {
      throw new ConfigError(`${i === 0 ? '--prompt' : '--answer'}: ${(e as Error).message}`);
    }
  });
  if (answerLen === 0) throw new ConfigError('--answer is empty');
  if (promptLen + answerLen > limits.max_seq_len) throw new ConfigError(`--prompt + --answer = ${promptLen + answerLen} tokens exceeds max_seq_len ${limits.max_seq_len} of ${dir}`);
  const logger = createLogger();
  await setupBackend(argv.backend as BackendName, (msg, fields) => logger.info(fields, msg));
  const model = loadModel(dir);
  try {
    const { config: cfg, tokenizer: tok } = model;
    const prompt = tok.encode(argv.prompt);
    const answer = tok.encode(argv.answer);
    if (answer.length === 0) throw new ConfigError('--answer is empty');
    if (prompt.length + answer.length > cfg.max_seq_len) {
      throw new ConfigError(`--prompt + --answer = ${prompt.length + answer.length} tokens exceeds max_seq_len ${cfg.max_seq_len} of ${model.dir}`);
    }
    const t0 = performance.now();
    let logLikelihood: number;
    let perToken: number[];
    if (argv.estimator === 'mc') {
      const rng = new Rng(argv.seed, 'score');
      ({ logLikelihood, perToken } = await mcLogLikelihood(model.logitsFn, prompt, answer, { maskId: cfg.mask_token_id, rng, mc_num: mc, batch_size: b, cfg_scale: argv['cfg-scale'] }));
    } else {
      const r = await oneStepLogLikelihood(model.logitsFn, [prompt], [answer], { maskId: cfg.mask_token_id, padId: cfg.pad_token_id });
      logLikelihood = r.total[0];
      perToken = r.perToken[0];
    }
    const seconds = (performance.now() - t0) / 1000;
    if (argv.json) {
      const out = { estimator: argv.estimator, log_likelihood: logLikelihood, prompt_ids: prompt, answer_ids: answer, per_token: perToken, mc_num: argv.estimator === 'mc' ? mc : null, seconds };
      process.stdout.write(JSON.stringify(out) + '\n');
    } else {
      const how = argv.estimator === 'mc' ? `Monte Carlo, ${mc} samples` : 'one-step';
      process.stdout.write(`log p(answer | prompt) ≈ ${logLikelihood.toFixed(4)} (${how}; ${answer.length} answer tokens; ${seconds.toFixed(2)} s)\n`);
    }
  } finally {
    model.dispose();
  }
});
