/**
 * Left-to-right generation from a causal checkpoint or an L2D checkpoint (which loads its frozen base), for
 * `yarn sample` and `yarn eval`: one call per batch, each with a fresh KV cache. For L2D, `ode` overrides the
 * checkpoint's inference defaults (`--l2d-steps`, `--l2d-method`); steps 0 is the base LM alone.
 */
import type { Rng } from '../rng.ts';
import { ConfigError } from '../errors.ts';
import { loadModel } from '../checkpoint/load_model.ts';
import type { ModelConfig } from '../model/config.ts';
import { cachedDecoder } from '../model/kv_cache.ts';
import type { Params } from '../model/model.ts';
import { generateAutoregressive, type ArOptions, type GenerateResult } from '../sampling/index.ts';
import type { Tokenizer } from '../tokenizer/index.ts';
import { readL2dSection, type OdeOptions } from './config.ts';
import { loadL2d } from './checkpoint.ts';
import { l2dDecoder } from './decode.ts';

export interface LeftToRightModel {
  dir: string;
  params: Params;
  cfg: ModelConfig;
  tokenizer: Tokenizer;
  /** The checkpoint's ODE defaults (L2D) or null (a causal base). */
  ode: OdeOptions | null;
  /** L2D with guidance (w ≠ 1): two flow passes per velocity. */
  guided: boolean;
  /** Generates a batch; `flowPasses` counts the L2D flow-stream passes (0 for a causal base). */
  generate(o: ArOptions, ode?: Partial<OdeOptions>): Promise<GenerateResult & { flowPasses: number }>;
  dispose(): void;
}

/** The L2D section's presence decides: an L2D checkpoint, else a causal one (a bidirectional checkpoint is refused). */
export function loadLeftToRight(dir: string): LeftToRightModel {
  if (readL2dSection(dir)) {
    const m = loadL2d(dir);
    return {
      dir: m.dir, params: m.base, cfg: m.cfg, tokenizer: m.baseModel.tokenizer, ode: m.ode, dispose: m.dispose,
      guided: m.f.guidance_modulation_num_classes > 0 && m.ode.guidance_parameter !== 1,
      async generate(o: ArOptions, ode: Partial<OdeOptions> = {}) {
        const rng: Rng = o.rng;
        const dec = l2dDecoder(m, { ...m.ode, ...ode }, rng);
        const out = await generateAutoregressive(dec, o);
        return { ...out, flowPasses: dec.flowPasses() };
      },
    };
  }
  const base = loadModel(dir);
  if (!base.cfg.causal) {
    base.dispose();
    throw new ConfigError(`${dir} is a masked-diffusion checkpoint: left-to-right generation needs a causal or L2D checkpoint`);
  }
  return {
    dir: base.dir, params: base.params, cfg: base.cfg, tokenizer: base.tokenizer, ode: null, guided: false, dispose: base.dispose,
    async generate(o: ArOptions) {
      return { ...(await generateAutoregressive(cachedDecoder(base.params, base.cfg), o)), flowPasses: 0 };
    },
  };
}
