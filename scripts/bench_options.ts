/** The flags every sampling benchmark shares (bench-sample.ts, steps-curve.ts): which checkpoint, items and backend. */
import { EVAL_TASKS, type EvalTask } from '../src/eval/tasks.ts';

export const BENCH_OPTIONS = {
  checkpoint: { type: 'string', describe: 'checkpoint or run dir; `yarn train:sft --config configs/sudoku-sft.yaml` makes one' },
  task: { choices: EVAL_TASKS, default: 'sudoku' as EvalTask },
  n: { type: 'number', default: 128, describe: 'test items (the same ones for every variant)' },
  'batch-size': { type: 'number', default: 64, describe: 'rows per generation batch' },
  seed: { type: 'number', default: 0, describe: 'test subset and sampling seed' },
  'data-dir': { type: 'string', describe: 'data directory (default: $DIFFRL_DATA_DIR, ../shared/data, ./data)' },
  backend: { choices: ['auto', 'wasm', 'cpu', 'tensorflow', 'tensorflow-gpu'] as const, default: 'auto' as const },
} as const;
