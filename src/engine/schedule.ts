/**
 * Learning-rate schedules as one pure function of the step (nanoGPT's `get_lr`, train.py 230–242).
 *   warmup   step < warmup_steps:  lr · (step + 1) / warmup_steps   (step 0 already trains, step warmup_steps − 1 reaches lr)
 *   cosine   min_lr + ½(1 + cos(π·r))·(lr − min_lr),  r = (step − warmup_steps) / (max_steps − warmup_steps)
 *   linear   min_lr + (1 − r)·(lr − min_lr)
 *   constant lr                                        (HF's constant_with_warmup, as d1 uses)
 * with min_lr = lr · min_lr_ratio; cosine and linear stay at min_lr from max_steps on.
 */
import { ConfigError } from '../errors.ts';

export type LrScheduleName = 'cosine' | 'constant' | 'linear';

export interface LrScheduleOptions {
  lr: number;
  warmup_steps: number;
  max_steps: number;
  schedule: LrScheduleName;
  /** min_lr / lr at the end of cosine or linear decay (ignored by constant). */
  min_lr_ratio: number;
}

/** The learning rate for optimizer step `step` (0-based). */
export function learningRate(step: number, opts: LrScheduleOptions): number {
  const { lr, warmup_steps, max_steps, schedule, min_lr_ratio } = opts;
  if (!(Number.isInteger(step) && step >= 0)) throw new RangeError(`learningRate: step (${step}) must be an integer >= 0`);
  if (step < warmup_steps) return (lr * (step + 1)) / warmup_steps;
  const minLr = lr * min_lr_ratio;
  switch (schedule) {
    case 'constant':
      return lr;
    case 'cosine':
    case 'linear': {
      if (step >= max_steps) return minLr;
      const r = (step - warmup_steps) / (max_steps - warmup_steps); // in [0, 1): here warmup_steps <= step < max_steps
      const coeff = schedule === 'cosine' ? 0.5 * (1 + Math.cos(Math.PI * r)) : 1 - r;
      return minLr + coeff * (lr - minLr);
    }
    default:
      throw new ConfigError(`learningRate: unknown schedule '${schedule as string}' (cosine, constant, linear)`);
  }
}
