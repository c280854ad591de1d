/** `yarn score --checkpoint DIR --prompt "..." --answer "..." [--mc 128]`: conditional log-likelihood of the answer. */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { setupBackend, type BackendName } from '../backend/backend.ts';
import { Rng } from '../backend/rng.ts';
import { loadModel } from '../model/load.ts';
import { mcLogLikelihood, oneStepLogLikelihood } from '../sampling/index.ts';
import { createLogger } from '../train/run_log.ts';
import { runMain } from './common.ts';

runMain(async () => {
  const argv = await yargs(hideBin(process.argv))
    .scriptName('yarn score')
    .usage('$0 --checkpoint DIR --prompt "..." --answer "..." [--estimator mc|one-step] [--mc 128] [--json]')
    .option('checkpoint', { type: 'string', demandOption: true })
    .option('prompt', { type: 'string', demandOption: true })
    .option('answer', { type: 'string', demandOption: true })
    .option('estimator', { choices: ['mc', 'one-step'] as const, default: 'mc' as const, describe: "LLaDA's Monte Carlo estimate, or d1's deterministic one-step estimate" })
    .option('mc', { type: 'number', default: 128, describe: 'Monte Carlo samples (LLaDA mc_num)' })
    .option('batch-size', { type: 'number', default: 16, describe: 'rows per forward pass; must divide --mc' })
    .option('cfg-scale', { type: 'number', default: 0 })
    .option('seed', { type: 'number', default: 0 })
    .option('backend', { choices: ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const, default: 'auto' as const })
    .option('json', { type: 'boolean', default: false, describe: 'print token ids and per-token values' })
    .strict()
    .help()
    .parse();
  const logger = createLogger();
  await setupBackend(argv.backend as BackendName, (msg, fields) => logger.info(fields, msg));
  const model = loadModel(argv.checkpoint);
  const { cfg, tokenizer: tok } = model;
  const prompt = tok.encode(argv.prompt);
  const answer = tok.encode(argv.answer);
  let logLikelihood: number;
  let perToken: number[];
  if (argv.estimator === 'mc') {
    const r = await mcLogLikelihood(model.logitsFn, prompt, answer, { maskId: cfg.mask_token_id, rng: new Rng(argv.seed, 'score'), mc_num: argv.mc, batch_size: argv['batch-size'], cfg_scale: argv['cfg-scale'] });
    ({ logLikelihood, perToken } = r);
  } else {
    const r = await oneStepLogLikelihood(model.logitsFn, [prompt], [answer], { maskId: cfg.mask_token_id, padId: cfg.pad_token_id });
    logLikelihood = r.total[0];
    perToken = r.perToken[0];
  }
  if (argv.json) {
    process.stdout.write(JSON.stringify({ estimator: argv.estimator, log_likelihood: logLikelihood, prompt_ids: prompt, answer_ids: answer, per_token: perToken }) + '\n');
  } else {
    process.stdout.write(`log p(answer | prompt) ≈ ${logLikelihood.toFixed(4)} (${argv.estimator}${argv.estimator === 'mc' ? `, ${argv.mc} samples` : ''}; ${answer.length} answer tokens)\n`);
  }
  model.dispose();
});
