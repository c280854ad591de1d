/**
 * `yarn sample` on a causal checkpoint (left to right with a KV cache) or an L2D checkpoint (`--l2d-steps`,
 * `--l2d-method`). Called by cli/sample.ts after its input checks; prints the completions, the model calls and,
 * for L2D, the flow-stream passes.
 */
import { setupBackend, type BackendName } from '../backend/backend.ts';
import { Rng } from '../rng.ts';
import { createLogger } from '../engine/run_log.ts';
import type { OdeMethod } from './ode.ts';
import { loadLeftToRight } from './generate.ts';

export interface SampleFlags {
  prompt: string[];
  'gen-length': number;
  temperature: number;
  'num-samples': number;
  seed: number;
  backend: string;
  json: boolean;
  'l2d-steps'?: number;
  'l2d-method'?: OdeMethod;
}

export async function sampleLeftToRight(dir: string, argv: SampleFlags): Promise<void> {
  const logger = createLogger();
  await setupBackend(argv.backend as BackendName, (msg, fields) => logger.info(fields, msg));
  const model = loadLeftToRight(dir);
  try {
    const { cfg, tokenizer: tok } = model;
    const G = argv['num-samples'];
    const ode = { ...(argv['l2d-steps'] !== undefined ? { steps: argv['l2d-steps'] } : {}), ...(argv['l2d-method'] ? { method: argv['l2d-method'] } : {}) };
    const t0 = performance.now();
    const out = await model.generate({
      prompts: argv.prompt.map((p) => tok.encode(p)), num_generations: G, gen_length: argv['gen-length'], temperature: argv.temperature,
      maskId: cfg.mask_token_id, eosId: cfg.eos_token_id, padId: cfg.pad_token_id, rng: new Rng(argv.seed, 'sampling'),
    }, ode);
    const seconds = (performance.now() - t0) / 1000;
    const sampler = model.ode ? `l2d (${ode.method ?? model.ode.method}, ${ode.steps ?? model.ode.steps} steps)` : 'autoregressive';
    out.sequences.forEach((seq, i) => {
      const eos = seq.indexOf(cfg.eos_token_id);
      const completion = tok.decode(eos === -1 ? seq : seq.slice(0, eos), { skipSpecial: true });
      const prompt = argv.prompt[Math.floor(i / G)];
      if (argv.json) process.stdout.write(JSON.stringify({ prompt, sample: i % G, completion, ids: seq, sampler, nfe: out.nfe, flow_passes: out.flowPasses, seconds }) + '\n');
      else process.stdout.write(`${prompt}${G > 1 ? ` [${(i % G) + 1}/${G}]` : ''} → ${completion}\n`);
    });
    if (!argv.json) process.stdout.write(`${sampler}: NFE ${out.nfe} (${out.flowPasses} of them flow-stream passes) for the batch of ${out.sequences.length}, ${seconds.toFixed(2)} s\n`);
  } finally {
    model.dispose();
  }
}
