/**
 * The one entry point for generation: `generate(logitsFn, options)`.
 *
 * Batching: the P prompts × G generations (copies of a prompt adjacent: row = p·G + g) form ONE batch [N, L],
 * N = P·G, L = max prompt length + gen_length. Shorter prompts are LEFT-padded with padId and an attention mask
 * [N, L] (1 real, 0 pad) is passed to the LogitsFn (null when no row is padded), so all generation regions share the
 * columns [Lp, L). Samplers only ever write inside the generation region, so prompt tokens never change.
 * `fixed` tokens (inpainting) are placed in the generation region before the first step: llada, dus and threshold
 * only ever write [MASK] positions, and ReMDM skips them (ctx.fixedMask), so they never change either.
 *
 * NFE counts forward passes over the batch: one per LogitsFn call, two when cfg_scale > 0 (the cond/uncond pair runs
 * as one batched call of 2N rows but is reported as 2, as in the papers' NFE accounting).
 */
import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../errors.ts';
import { disposeCache, type DecodeContext } from './decode_state.ts';
import { dusDecode } from './dus.ts';
import { ebDecode } from './eb.ts';
import { lladaDecode } from './llada.ts';
import { prophetDecode } from './prophet.ts';
import { REMDM_ETA_DEFAULT, remdmDecode } from './remdm.ts';
import { thresholdDecode } from './threshold.ts';
import { blockPlan } from './transfer_schedule.ts';
import { CACHE_MODES, SAMPLER_NAMES, type GenerateOptions, type GenerateResult, type LogitsFn } from './types.ts';

/** Defaults of the EB and Prophet options (types.ts). */
export const EB_GAMMA_DEFAULT = 0.1;
export const PROPHET_GAPS_DEFAULT: [number, number, number] = [7.5, 5, 2.5];

export async function generate(logitsFn: LogitsFn, opts: GenerateOptions): Promise<GenerateResult> {
  validate(opts, logitsFn);
  const G = opts.num_generations ?? 1;
  const Lg = opts.gen_length;
  const B = opts.block_length ?? Lg;
  const usesSteps = opts.sampler === 'llada' || opts.sampler === 'remdm' || opts.sampler === 'prophet';
  const plan = blockPlan(Lg, B, usesSteps ? (opts.steps ?? Lg) : null);
  const temperature = opts.temperature ?? 0;

  const rows = opts.prompts.flatMap((p) => Array.from({ length: G }, () => p)); // [N][Lp_n]
  const N = rows.length;
  const Lp = Math.max(...rows.map((p) => p.length));
  const L = Lp + Lg;
  const ids = new Int32Array(N * L).fill(opts.maskId); // generation region starts as [MASK]
  const am = new Float32Array(N * L).fill(1);
  const isPrompt = new Int32Array(N * L);
  rows.forEach((p, n) => {
    const pad = Lp - p.length;
    for (let l = 0; l < Lp; l++) {
      ids[n * L + l] = l < pad ? opts.padId : p[l - pad];
      am[n * L + l] = l < pad ? 0 : 1;
      isPrompt[n * L + l] = l < pad ? 0 : 1;
    }
  });
  const padded = rows.some((p) => p.length < Lp);
  const isFixed = opts.fixed ? new Int32Array(N * L) : null;
  opts.fixed?.forEach((row, n) => row.forEach((t, k) => {
    if (t === null) return;
    ids[n * L + Lp + k] = t;
    isFixed![n * L + Lp + k] = 1;
  }));

  const ctx: DecodeContext = {
    logitsFn,
    N,
    L,
    genStart: Lp,
    genLength: Lg,
    attentionMask: padded ? tf.tensor2d(am, [N, L], 'float32') : null,
    promptMask: tf.tidy(() => tf.cast(tf.tensor2d(isPrompt, [N, L], 'int32'), 'bool')) as tf.Tensor2D,
    fixedMask: isFixed ? (tf.tidy(() => tf.cast(tf.tensor2d(isFixed, [N, L], 'int32'), 'bool')) as tf.Tensor2D) : null,
    maskId: opts.maskId,
    eosId: opts.eosId,
    cfgScale: opts.cfg_scale ?? 0,
    suppressEos: opts.suppress_eos ?? false,
    rng: opts.rng,
    cache: (opts.cache ?? 'none') === 'none' ? null : { mode: opts.cache as 'prefix' | 'dual', kv: null, rows: null, start: Lp, end: Lp + B },
    // ReMDM re-masks committed tokens, so a row without [MASK] is not finished for it
    live: opts.sampler === 'remdm' ? null : Array.from({ length: N }, (_, n) => n),
    eosFill: opts.eos_fill ?? false,
    positions: 0,
    nfe: 0,
    step: 0,
    logps: opts.record_logps ? (tf.zeros([N, L]) as tf.Tensor2D) : null,
    onStep: opts.onStep,
  };
  let x = tf.tensor2d(ids, [N, L], 'int32');
  try {
    switch (opts.sampler) {
      case 'llada':
        x = await lladaDecode(ctx, x, {
          block_length: B,
          stepsPerBlock: plan.stepsPerBlock!,
          temperature,
          remasking: opts.remasking ?? 'low_confidence',
        });
        break;
      case 'dus':
        x = await dusDecode(ctx, x, { block_length: B, temperature });
        break;
      case 'threshold':
        x = await thresholdDecode(ctx, x, { block_length: B, temperature, threshold: opts.threshold ?? 0.9, factor: opts.factor });
        break;
      case 'eb':
        x = await ebDecode(ctx, x, { block_length: B, temperature, gamma: opts.gamma ?? EB_GAMMA_DEFAULT });
        break;
      case 'prophet':
        x = await prophetDecode(ctx, x, {
          block_length: B,
          stepsPerBlock: plan.stepsPerBlock!,
          temperature,
          remasking: 'low_confidence',
          prophet_gaps: opts.prophet_gaps ?? PROPHET_GAPS_DEFAULT,
        });
        break;
      case 'remdm': {
        const strategy = opts.remdm_strategy ?? 'cap';
        x = await remdmDecode(ctx, x, {
          block_length: B,
          stepsPerBlock: plan.stepsPerBlock!,
          remdm_strategy: strategy,
          eta: opts.eta ?? REMDM_ETA_DEFAULT[strategy],
          t_on: opts.t_on ?? 0.55,
          t_off: opts.t_off ?? 0.05,
          alpha_on: opts.alpha_on ?? 0.9,
          top_p: opts.top_p ?? 0.9,
          remdm_order: opts.remdm_order ?? 'random',
        });
        break;
      }
    }
    const full = (await x.array()) as number[][];
    const logps = ctx.logps ? ((await ctx.logps.array()) as number[][]).map((r) => r.slice(Lp)) : undefined; // [N][Lg]
    return { sequences: full.map((r) => r.slice(Lp)), full, nfe: ctx.nfe, positions: ctx.positions, promptLengths: rows.map((p) => p.length), ...(logps ? { logps } : {}) };
  } finally {
    if (!x.isDisposed) x.dispose();
    disposeCache(ctx);
    ctx.logps?.dispose();
    ctx.attentionMask?.dispose();
    ctx.promptMask.dispose();
    ctx.fixedMask?.dispose();
  }
}

function validate(o: GenerateOptions, logitsFn: LogitsFn): void {
  const bad = (key: string, value: unknown, want: string): never => {
    throw new ConfigError(`generate: ${key} (${JSON.stringify(value)}) ${want}`);
  };
  if (!SAMPLER_NAMES.includes(o.sampler)) bad('sampler', o.sampler, `must be ${SAMPLER_NAMES.join(', ')}`);
  if (!Array.isArray(o.prompts) || o.prompts.length === 0) bad('prompts', o.prompts, 'must be a non-empty array of token-id arrays');
  o.prompts.forEach((p, i) => {
    if (!Array.isArray(p) || !p.every((t) => Number.isInteger(t))) bad(`prompts[${i}]`, p, 'must be an array of integer token ids');
  });
  const G = o.num_generations ?? 1;
  if (!Number.isInteger(G) || G < 1) bad('num_generations', G, 'must be an integer >= 1');
  for (const key of ['maskId', 'eosId', 'padId'] as const) {
    if (!Number.isInteger(o[key]) || o[key] < 0) bad(key, o[key], 'must be a token id (integer >= 0)');
  }
  if (o.padId === o.maskId) bad('padId', o.padId, `must differ from maskId (${o.maskId})`);
  if (!o.rng || typeof o.rng.seed !== 'function') bad('rng', typeof o.rng, 'must be an Rng (src/rng.ts)');
  if (o.temperature !== undefined && !(o.temperature >= 0)) bad('temperature', o.temperature, 'must be >= 0');
  if (o.cfg_scale !== undefined && !(o.cfg_scale >= 0)) bad('cfg_scale', o.cfg_scale, 'must be >= 0');
  if (o.remasking !== undefined && o.remasking !== 'low_confidence' && o.remasking !== 'random') {
    bad('remasking', o.remasking, "must be 'low_confidence' or 'random'");
  }
  if (o.threshold !== undefined && !(o.threshold > 0 && o.threshold <= 1)) bad('threshold', o.threshold, 'must be in (0, 1]');
  if (o.factor !== undefined && !(o.factor > 0)) bad('factor', o.factor, 'must be > 0');
  if (o.gamma !== undefined && !(o.gamma >= 0)) bad('gamma', o.gamma, 'must be >= 0');
  if (o.prophet_gaps !== undefined && !(Array.isArray(o.prophet_gaps) && o.prophet_gaps.length === 3 && o.prophet_gaps.every((g) => g >= 0))) {
    bad('prophet_gaps', o.prophet_gaps, 'must be three numbers >= 0 (early, middle, late)');
  }
  if (o.cache !== undefined && !CACHE_MODES.includes(o.cache)) bad('cache', o.cache, `must be ${CACHE_MODES.join(', ')}`);
  if (o.cache !== undefined && o.cache !== 'none' && !logitsFn.window) {
    bad('cache', o.cache, 'needs the model\'s windowed forward (model/block_cache.ts modelDenoiser); this LogitsFn has none');
  }
  if (o.eos_fill && o.sampler === 'remdm') bad('eos_fill', o.eos_fill, 'does not apply to remdm (it may re-mask the EOS)');
  if (o.remdm_strategy !== undefined && !['cap', 'rescale', 'conf', 'loop'].includes(o.remdm_strategy)) {
    bad('remdm_strategy', o.remdm_strategy, 'must be cap, rescale, conf or loop');
  }
  if (o.remdm_order !== undefined && o.remdm_order !== 'random' && o.remdm_order !== 'confidence') bad('remdm_order', o.remdm_order, "must be 'random' or 'confidence'");
  if (o.eta !== undefined && !(o.eta >= 0)) bad('eta', o.eta, 'must be >= 0');
  if (o.top_p !== undefined && !(o.top_p > 0 && o.top_p <= 1)) bad('top_p', o.top_p, 'must be in (0, 1]');
  if (o.alpha_on !== undefined && !(o.alpha_on > 0 && o.alpha_on < 1)) bad('alpha_on', o.alpha_on, 'must be in (0, 1)');
  if (o.fixed !== undefined) {
    const N = o.prompts.length * G;
    if (!Array.isArray(o.fixed) || o.fixed.length !== N) bad('fixed', `${Array.isArray(o.fixed) ? o.fixed.length : typeof o.fixed} rows`, `must have one row per prompt × num_generations (${N})`);
    o.fixed.forEach((row, n) => {
      if (!Array.isArray(row) || row.length !== o.gen_length) bad(`fixed[${n}]`, Array.isArray(row) ? row.length : row, `must have gen_length (${o.gen_length}) entries`);
      if (!row.every((t) => t === null || (Number.isInteger(t) && t >= 0 && t !== o.maskId))) bad(`fixed[${n}]`, row, 'entries must be null or a token id other than maskId');
    });
  }
  const tOn = o.t_on ?? 0.55;
  const tOff = o.t_off ?? 0.05;
  if (!(tOff > 0 && tOff < tOn && tOn < 1)) bad('t_on/t_off', [tOn, tOff], 'must satisfy 0 < t_off < t_on < 1');
}
