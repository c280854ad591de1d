/**
 * The RL objectives, chosen by `grpo.objective` (README "Objectives"). Adding one: a module in this folder that
 * returns an `Objective` (types.ts), one case below, and its keys in config/schema.ts (OBJECTIVE_KEYS).
 */
import type { GrpoSection } from '../../config/schema.ts';
import { d1Objective } from './d1.ts';
import { wd1Objective } from './wd1.ts';
import { espoObjective } from './espo.ts';
import { spgObjective } from './spg.ts';
import type { Objective } from './types.ts';

/** `sampler`: the run's block plan (SPG's masks default to the sampler's blocks). */
export function objectiveFor(g: GrpoSection, sampler: { gen_length: number; block_length?: number }): Objective {
  switch (g.objective) {
    case 'd1':
      return d1Objective(g);
    case 'wd1':
      return wd1Objective(g);
    case 'espo':
      return espoObjective(g);
    case 'spg':
      return spgObjective(g, sampler);
    default:
      throw new Error(`grpo.objective '${String(g.objective)}' is not implemented`);
  }
}

export type { Draw, MicroTensors, Objective, ObjectiveName, Scores } from './types.ts';
