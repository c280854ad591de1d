/**
 * The YAML of `yarn train:l2d` (L2D, arXiv 2501.15781; SakanaAI/L2D `cfgs/model/*_lad*.cfg`). Option names are the
 * paper code's; defaults are its values where they fit a tiny model, else the tiny version of samplers.md §4.
 * Strict objects: an unknown key is an error naming it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../errors.ts';
import { resolveCheckpoint } from '../checkpoint/resolve.ts';
import { dataSchema, loggingSchema, optimizerSchema, runSchema, runtimeSchema, scheduleSchema, trainingSchema } from '../config/schema.ts';

const positiveInt = z.number().int().positive();

/** The flow stream's architecture (saved in the L2D checkpoint's config.json under `l2d`). */
export const flowSchema = z.strictObject({
  /** d_f: size of the token representation the flow runs over (L2D: 256). */
  flow_representation_dim: positiveInt.default(32),
  /** Layers of the map frozen embedding -> representation, e(y) = √d_f · normalize(MLP(wte[y])) (L2D: 1). */
  flow_representation_num_layers: positiveInt.default(1),
  /** σ: x_0 = σ·ε, x_t = (1 − t)·σ·ε + t·e(y) (L2D: 64). */
  noise_rescaling: z.number().positive().default(64),
  /** Layers of the input MLP x_t / std_t -> d_model that starts the flow stream (L2D: 2). */
  flow_to_lm_translation_depth: positiveInt.default(2),
  /** Its hidden width; null = d_model (L2D: 256). */
  flow_to_lm_hidden_size: positiveInt.nullable().default(null),
  /** Sinusoidal features of t before the timestep MLP (L2D: 256); even. */
  timestep_modulation_freq_embedding_size: positiveInt.refine((n) => n % 2 === 0, { message: 'must be even' }).default(256),
  /** Width of the timestep (and label) embedding c that feeds every modulation head; null = d_model (L2D: 256). */
  timestep_modulation_hidden_size: positiveInt.nullable().default(null),
  /**
   * The flow stream's own q / o projections and MLP per layer: false = full copies of the frozen block's (initialised
   * from them, L2D `separate_flow_params`), true = LoRA adapters on the frozen weights (`separate_flow_params_with_lora`).
   */
  separate_flow_params_with_lora: z.boolean().default(false),
  /** LoRA rank r and α (delta = x A B · α / r; L2D: 32 and 32; α null = 2r as in L2D's LoRA class). */
  flow_lora_rank: positiveInt.default(8),
  flow_lora_alpha: z.number().positive().nullable().default(null),
  /** Guidance labels: K classes plus the "no label" class K (an embedding added to the timestep's); 0 = no guidance. */
  guidance_modulation_num_classes: z.number().int().nonnegative().default(0),
  /** Share of positions trained with the "no label" class (L2D: 0.2). */
  guidance_modulation_training_dropout: z.number().gt(0).lt(1).default(0.2),
});

export type FlowOptions = z.infer<typeof flowSchema>;

/** Inference defaults (saved with the checkpoint; `yarn sample` / `yarn eval` flags override them). */
export const odeSchema = z.strictObject({
  /** euler (1 flow pass per step) or midpoint (2; L2D's default). */
  method: z.enum(['euler', 'midpoint']).default('midpoint'),
  /** ODE steps over t in [0, 1] per token; 0 = the frozen base LM alone. */
  steps: z.number().int().nonnegative().default(8),
  /** x̂₁ from the logits: e(argmax), e(a sample at `temperature`), or the expectation E_p[e] (L2D: sample at 0 = argmax). */
  x1_estimation: z.enum(['argmax', 'sample', 'average']).default('argmax'),
  temperature: z.number().min(0).default(0),
  /** w: v = w·v(label) + (1 − w)·v(no label); needs guidance classes. 1 = the labelled velocity only. */
  guidance_parameter: z.number().min(0).default(1),
  /** The class label used at inference (< guidance_modulation_num_classes). */
  guidance_label: z.number().int().nonnegative().default(0),
});

export type OdeOptions = z.infer<typeof odeSchema>;

export const l2dConfigSchema = z.strictObject({
  run: runSchema,
  runtime: runtimeSchema.default(runtimeSchema.parse({})),
  /** The frozen causal checkpoint (or run dir): its weights never change; the L2D checkpoint stores only the flow. */
  base: z.string(),
  data: dataSchema,
  flow: flowSchema.default(flowSchema.parse({})),
  ode: odeSchema.default(odeSchema.parse({})),
  optimizer: optimizerSchema,
  schedule: scheduleSchema.default(scheduleSchema.parse({})),
  training: trainingSchema.extend({ workers: z.literal(1).default(1) }),
  logging: loggingSchema.default(loggingSchema.parse({})),
});

export type L2dConfig = z.infer<typeof l2dConfigSchema>;

/** config.json's `l2d` section of an L2D checkpoint (l2d/checkpoint.ts). */
export interface L2dSection {
  /** The base checkpoint directory, relative to the L2D checkpoint directory. */
  base: string;
  flow: FlowOptions;
  ode: OdeOptions;
}

/** The `l2d` section of a checkpoint (or run dir), or null for an ordinary checkpoint. */
export function readL2dSection(p: string): { dir: string; section: L2dSection } | null {
  const dir = resolveCheckpoint(p);
  const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as { l2d?: L2dSection };
  if (!config.l2d) return null;
  const where = `${dir}/config.json l2d`;
  const flow = flowSchema.safeParse(config.l2d.flow);
  const ode = odeSchema.safeParse(config.l2d.ode);
  if (!flow.success || !ode.success || typeof config.l2d.base !== 'string') throw new ConfigError(`${where}: malformed (${(flow.error ?? ode.error)?.issues[0]?.message ?? 'base must be a path'})`);
  return { dir, section: { base: config.l2d.base, flow: flow.data, ode: ode.data } };
}

/** The base checkpoint directory an L2D checkpoint names. */
export function l2dBaseDir(dir: string, section: L2dSection): string {
  return path.resolve(dir, section.base);
}

