/**
 * The flags of the fast samplers and the block cache, shared by `yarn sample` and `yarn eval` (kebab-case flags →
 * the sampling library's snake_case options): --gamma (eb), --prophet-gaps (prophet), --cache, --eos-fill.
 */
import { ConfigError } from '../errors.ts';
import { CACHE_MODES, SAMPLER_NAMES, type CacheMode, type GenerateOptions, type SamplerName } from '../sampling/types.ts';

export const FAST_SAMPLER_OPTIONS = {
  gamma: { type: 'number', describe: 'eb: entropy budget γ per step (nats; default 0.1)' },
  'prophet-gaps': { type: 'string', describe: 'prophet: top-2 log-prob gaps for all-in, early,middle,late thirds of a block (default 7.5,5,2.5)' },
  cache: { choices: CACHE_MODES, describe: 'block KV cache (Fast-dLLM): none | prefix | dual (default none; approximate, README "Performance")' },
  'eos-fill': { type: 'boolean', describe: "fill a row's [MASK]s after its first EOS with EOS (not remdm)" },
} as const;

/** Flags that only some samplers read (the others refuse them). */
export const FAST_FLAG_SAMPLERS: Record<string, readonly SamplerName[]> = {
  gamma: ['eb'],
  'prophet-gaps': ['prophet'],
  'eos-fill': SAMPLER_NAMES.filter((s) => s !== 'remdm'),
};

/** Refuses a flag given with a sampler that does not read it. `sampler` undefined = the task's default (llada). */
export function refuseForeignFlags(argv: Record<string, unknown>, sampler: SamplerName | undefined, table: Record<string, readonly SamplerName[]>): void {
  const name = sampler ?? 'llada';
  for (const [flag, samplers] of Object.entries(table)) {
    if (argv[flag] !== undefined && !samplers.includes(name)) {
      throw new ConfigError(`--${flag} applies to --sampler ${samplers.join('|')} only (got --sampler ${name})`);
    }
  }
}

/** The options these flags set (undefined when not given). */
export function fastSamplerArgs(argv: { gamma?: number; 'prophet-gaps'?: string; cache?: CacheMode; 'eos-fill'?: boolean }): Pick<GenerateOptions, 'gamma' | 'prophet_gaps' | 'cache' | 'eos_fill'> {
  if (argv.gamma !== undefined && !(Number.isFinite(argv.gamma) && argv.gamma >= 0)) throw new ConfigError(`--gamma must be a number >= 0, got ${argv.gamma}`);
  let gaps: [number, number, number] | undefined;
  if (argv['prophet-gaps'] !== undefined) {
    const g = argv['prophet-gaps'].split(',').map((x) => Number(x.trim()));
    if (g.length !== 3 || !g.every((x) => Number.isFinite(x) && x >= 0)) {
      throw new ConfigError(`--prophet-gaps must be three numbers >= 0 (early,middle,late), got '${argv['prophet-gaps']}'`);
    }
    gaps = g as [number, number, number];
  }
  return { gamma: argv.gamma, prophet_gaps: gaps, cache: argv.cache, eos_fill: argv['eos-fill'] };
}
