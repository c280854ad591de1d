/**
 * Weight averaging of checkpoints of one run: θ̄ = (1/K) Σ_k θ_k over the model weights (not the optimizer state).
 * LAWA (Kaddour 2022, "Stop wasting my time! Saving days of ImageNet and BERT training with latest weight averaging")
 * averages the latest K checkpoints; SWA (Izmailov et al. 2018) the iterates of a constant-lr tail. Late in an RL run
 * the policy wanders around a plateau from one checkpoint to the next (docs/study/sudoku-scarce.md: ±2–3 points held-out
 * between neighbours); the average sits nearer its middle.
 *
 * The checkpoints must share the model config and tokenizer (so: the same run, or runs of the same model); the
 * average is written with `saveCheckpoint` (atomic, `latest` of `runDir` points at it) and records its sources in
 * config.json (`averaged_from`). Memory: one running sum plus one checkpoint at a time.
 */
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../errors.ts';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.ts';

/** Averages the model weights of `dirs` (checkpoint dirs) into `<runDir>/<name>`; returns that directory. */
export async function averageCheckpoints(dirs: string[], runDir: string, name: string): Promise<string> {
  if (dirs.length === 0) throw new ConfigError('averageCheckpoints: no checkpoint to average');
  const first = loadCheckpoint(dirs[0]);
  tf.dispose(Object.values(first.optimizer ?? {})); // only the model weights are averaged
  const modelOf = ({ averaged_from: _, ...model }: Record<string, unknown>) => JSON.stringify(model);
  let sum: Record<string, tf.Tensor> = first.params; // [in, out] layout, summed in float32
  try {
    for (const dir of dirs.slice(1)) {
      const c = loadCheckpoint(dir);
      tf.dispose(Object.values(c.optimizer ?? {}));
      try {
        if (modelOf(c.config) !== modelOf(first.config)) throw new ConfigError(`averageCheckpoints: ${dir}/config.json differs from ${first.dir}'s (the model config)`);
        if (c.tokenizerJson !== first.tokenizerJson) throw new ConfigError(`averageCheckpoints: ${dir}/tokenizer.json differs from ${first.dir}'s`);
        const names = Object.keys(sum);
        const extra = Object.keys(c.params).find((n) => !(n in sum));
        const missing = names.find((n) => !(n in c.params));
        if (extra || missing) throw new ConfigError(`averageCheckpoints: ${dir}: tensor '${extra ?? missing}' is ${extra ? 'not in' : 'missing from'} ${first.dir}`);
        const bad = names.find((n) => sum[n].shape.join() !== c.params[n].shape.join());
        if (bad) throw new ConfigError(`averageCheckpoints: ${dir}: tensor '${bad}' has shape [${c.params[bad].shape}], ${first.dir} [${sum[bad].shape}]`);
        const next = Object.fromEntries(names.map((n) => [n, tf.add(sum[n], c.params[n])]));
        Object.values(sum).forEach((t) => t.dispose());
        sum = next;
      } finally {
        Object.values(c.params).forEach((t) => t.dispose());
      }
    }
    const mean = Object.fromEntries(Object.entries(sum).map(([n, t]) => [n, tf.div(t, dirs.length)]));
    try {
      const config = { ...first.config, averaged_from: dirs.map((d) => path.relative(runDir, d)) };
      return await saveCheckpoint(runDir, name, { config, params: mean, tokenizerJson: first.tokenizerJson });
    } finally {
      Object.values(mean).forEach((t) => t.dispose());
    }
  } finally {
    Object.values(sum).forEach((t) => t.dispose());
  }
}
