/**
 * A sample of rollouts (prompt, completion, reward, each reward function, advantage) kept per step and written to
 * `rollouts.arrow` (Arrow IPC file) atomically at each checkpoint.
 */
import fs from 'node:fs';
import { tableFromArrays, tableToIPC } from 'apache-arrow';
import { readArrow } from '../data/index.ts';
import type { Rollout } from './rollout.ts';

export class RolloutLog {
  private rows: Record<string, unknown>[] = [];
  constructor(private readonly file: string) {
    // A resumed run keeps what the previous one wrote (rows after its last checkpoint were never flushed).
    if (fs.existsSync(file)) this.rows = readArrow(file);
  }

  add(step: number, r: Rollout, count: number): void {
    for (let i = 0; i < Math.min(count, r.completions.length); i++) {
      const row: Record<string, unknown> = { step, prompt: r.prompts[i], completion: r.completions[i], reward: r.rewards[i], advantage: r.advantages[i] };
      for (const [name, values] of Object.entries(r.perFn)) row[`reward_${name}`] = values[i];
      this.rows.push(row);
    }
  }

  flush(): void {
    if (this.rows.length === 0) return;
    const columns: Record<string, unknown[]> = {};
    for (const key of new Set(this.rows.flatMap((r) => Object.keys(r)))) columns[key] = this.rows.map((r) => r[key] ?? null);
    const arrays: Record<string, string[] | Float64Array | Int32Array> = {};
    for (const [key, values] of Object.entries(columns)) {
      if (key === 'step') arrays[key] = Int32Array.from(values as number[]);
      else if (typeof values.find((v) => v !== null) === 'number') arrays[key] = Float64Array.from(values, (v) => (v === null ? NaN : (v as number)));
      else arrays[key] = values.map((v) => String(v ?? ''));
    }
    const tmp = `${this.file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, tableToIPC(tableFromArrays(arrays), 'file'));
    fs.renameSync(tmp, this.file);
  }
}
