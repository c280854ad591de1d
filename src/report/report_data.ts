/**
 * The data a report page holds (JSON inside the HTML), shared by the Node side that builds it (build.ts) and the
 * browser code that draws it (client.ts). Types only, plus the grouping of metric keys into sections.
 */

export interface ReportRun {
  name: string;
  dir: string;
  color: string;
  /** Column arrays: `step` and one entry per metric key (null where a line did not log that key). */
  metrics: Record<string, (number | null)[]>;
}

export interface ReportEval {
  run: string;
  key: string;
  /** The results file's last two path parts (eval/sft.jsonl). */
  file: string;
  task: string;
  n: number;
  accuracy: number;
  ci95: [number, number];
  solveRate: number | null;
  solveCi95: [number, number] | null;
  sampler: string;
  genLength: number | null;
  /** Forward passes over the whole evaluation (batched: one call serves a batch of items). */
  nfe: number | null;
  parser: string;
}

/** The paired gain of run b over run a on one evaluation both have: b − a over the same items. */
export interface ReportGain {
  key: string;
  task: string;
  a: string;
  b: string;
  n: number;
  gain: number;
  ci95: [number, number];
}

export interface ReportRollouts {
  run: string;
  /** Column names, then rows of values in that order. */
  columns: string[];
  rows: (string | number | null)[][];
  /** Rows left out to keep the file small (the newest rows are kept). */
  omitted: number;
}

export interface ReportTrace {
  run: string;
  file: string;
  steps: { step: number; block: number; nfe: number; text: string[] }[];
}

export interface ReportData {
  title: string;
  generated: string;
  runs: ReportRun[];
  evals: ReportEval[];
  gains: ReportGain[];
  rollouts: ReportRollouts[];
  traces: ReportTrace[];
}

/** What the page exposes as `window.__report` once drawn (the browser test reads it). */
export interface DrawnChart {
  key: string;
  /** Runs that logged this key. */
  runs: string[];
  /** Finite points per run. */
  points: number[];
  /** Set once uPlot has drawn the chart. */
  drawn: boolean;
}

/** Sections in page order; a metric key goes to the first whose test it passes. */
export const SECTIONS: { title: string; test: (key: string) => boolean }[] = [
  { title: 'Loss', test: (k) => k.startsWith('loss') },
  { title: 'Reward', test: (k) => k === 'reward' || k.startsWith('reward') || k === 'frac_reward_zero_std' },
  { title: 'KL and clipping', test: (k) => k === 'kl' || k.startsWith('clip_ratio') },
  { title: 'Completions', test: (k) => k.startsWith('completions/') },
  { title: 'Evaluation', test: (k) => k.startsWith('eval/') },
  { title: 'Optimisation', test: (k) => ['lr', 'learning_rate', 'grad_norm'].includes(k) },
  { title: 'Throughput and time', test: (k) => k.startsWith('time/') || k.startsWith('tokens') },
  { title: 'Other', test: () => true },
];
