/**
 * `yarn eval --checkpoint <l2d> --l2d-steps 1,2,4,8,16`: the test-time scaling table. The same items are evaluated
 * with the frozen base alone (0 steps) and with the flow ODE at each step count; each row has the accuracy and its
 * 95% CI, the paired gain over the base (same items, 95% CI), flow-stream passes per token and measured ms per token.
 */
import { evaluate, writeEvalResults, type EvalItem, type EvalOptions, type EvalSummary } from '../eval/evaluate.ts';
import { pairedDifference } from '../eval/stats.ts';
import type { OdeMethod } from './ode.ts';
import { flowPassesPerToken } from './decode.ts';
import type { LeftToRightModel } from './generate.ts';

export interface ScalingRow {
  steps: number;
  method: OdeMethod;
  summary: EvalSummary;
  /** Accuracy minus the base's on the same items, with its 95% CI (null for the base row). */
  gain: { mean: number; ci95: [number, number] } | null;
  flow_passes_per_token: number;
  ms_per_token: number;
}

export async function l2dScaling(model: LeftToRightModel, steps: number[], method: OdeMethod, o: EvalOptions & { out: string }, onRow: (r: ScalingRow) => void): Promise<ScalingRow[]> {
  const rows: ScalingRow[] = [];
  let baseItems: EvalItem[] | null = null;
  for (const s of [0, ...steps.filter((x) => x !== 0)]) {
    const { summary, items } = await evaluate({ ...model, generate: (g) => model.generate(g, { steps: s, method }) }, o);
    writeEvalResults(`${o.out}-l2d${s}${s > 0 ? method : ''}`, summary, items);
    if (s === 0) baseItems = items;
    const gain = s === 0 || !baseItems ? null : pairedDifference(baseItems.map((i) => i.score), items.map((i) => i.score));
    const ode = { ...model.ode!, steps: s, method };
    const row = { steps: s, method, summary, gain, flow_passes_per_token: flowPassesPerToken(ode, model.guided), ms_per_token: (summary.seconds * 1000) / (summary.n * summary.gen_length) };
    rows.push(row);
    onRow(row);
  }
  return rows;
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/** The rows as a markdown table. */
export function scalingTable(rows: ScalingRow[]): string {
  const lines = [
    '| model | ODE steps | flow passes / token | accuracy | 95% CI | gain over the base (paired 95% CI) | solve rate | ms / token |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const s = r.summary;
    const gain = r.gain ? `${(100 * r.gain.mean).toFixed(1)} [${(100 * r.gain.ci95[0]).toFixed(1)}, ${(100 * r.gain.ci95[1]).toFixed(1)}]` : '—';
    lines.push(`| ${r.steps === 0 ? 'base LM (t = 0)' : `L2D ${r.method}`} | ${r.steps} | ${r.flow_passes_per_token} | ${pct(s.accuracy)} | [${(100 * s.ci95[0]).toFixed(1)}, ${(100 * s.ci95[1]).toFixed(1)}] | ${gain} | ${s.solve_rate === undefined ? '—' : pct(s.solve_rate)} | ${r.ms_per_token.toFixed(2)} |`);
  }
  return lines.join('\n');
}
