/** Public API of the sampling package: masked-diffusion samplers and LLaDA's Monte Carlo likelihood (`yarn score`). */
export type { GenerateOptions, GenerateResult, LogitsFn, RemdmStrategy, SamplerName, SamplingIds, StepState } from './types.ts';
export { generate } from './generate.ts';
export { blockPlan, numTransferTokens, type BlockPlan } from './transfer_schedule.ts';
export { gumbelArgmax, gumbelNoise, opSeed, sampleTokens } from './gumbel.ts';
export { dusRounds } from './dus.ts';
export { factorSelect, thresholdSelect } from './threshold.ts';
export { confSigma, nucleus, remdmCoefficients, remdmTimeGrid, REMDM_ETA_DEFAULT, type RemdmCoefficients } from './remdm.ts';
export {
  mcLogLikelihood,
  stratifiedMaskCounts,
  targetLogProbs,
  type McOptions,
} from './likelihood.ts';
export { generateAutoregressive, type ArOptions, type NextTokenModel } from './autoregressive.ts';
