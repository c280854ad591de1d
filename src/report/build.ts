/**
 * `yarn report`'s work: run directories -> one self-contained HTML file. The page's script (client.ts, with uPlot)
 * and its CSS are bundled by esbuild and inlined, the data goes in as JSON: the file opens offline, with no server.
 */
import fs from 'node:fs';
import path from 'node:path';
import { bundleBrowser } from './bundle.ts';
import { loadRun, pairedGains, readTrace, type RunData } from './load.ts';
import type { ReportData, ReportEval, ReportRollouts, ReportRun } from './report_data.ts';

/** Run colours (Tableau 10), in command-line order. */
const COLORS = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
/** Rollout rows kept per run (the newest): 4 rows a step over a 1,000-step run is about 1 MB of text. */
export const MAX_ROLLOUT_ROWS = 4000;

function metricColumns(run: RunData): ReportRun['metrics'] {
  const keys = [...new Set(run.metrics.flatMap((m) => Object.keys(m)))];
  return Object.fromEntries(keys.map((k) => [k, run.metrics.map((m) => m[k] ?? null)]));
}

function evalRows(run: RunData): ReportEval[] {
  return run.evals.map((e) => ({
    run: run.name,
    key: e.key,
    file: e.file.split(/[\\/]/).slice(-2).join('/'),
    task: e.summary.task,
    n: e.summary.n,
    accuracy: e.summary.accuracy,
    ci95: e.summary.ci95,
    solveRate: e.summary.solve_rate ?? null,
    solveCi95: e.summary.solve_ci95 ?? null,
    sampler: e.summary.sampler ?? '',
    genLength: e.summary.gen_length ?? null,
    nfe: e.summary.nfe ?? null,
    parser: e.summary.parser ?? '',
  }));
}

function rolloutTable(run: RunData): ReportRollouts {
  const kept = run.rollouts.slice(-MAX_ROLLOUT_ROWS);
  const columns = [...new Set(kept.flatMap((r) => Object.keys(r)))];
  return { run: run.name, columns, rows: kept.map((r) => columns.map((c) => r[c] ?? null)), omitted: run.rollouts.length - kept.length };
}

/** The page's data: every run's metric columns, eval rows, gains of each run over the first, rollouts and traces. */
export function reportData(runs: RunData[], title: string, extraTraces: RunData['traces'] = []): ReportData {
  return {
    title,
    generated: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    runs: runs.map((r, i) => ({ name: r.name, dir: r.dir, color: COLORS[i % COLORS.length], metrics: metricColumns(r) })),
    evals: runs.flatMap(evalRows),
    gains: runs.slice(1).flatMap((r) => pairedGains(runs[0], r)),
    rollouts: runs.filter((r) => r.rollouts.length > 0).map(rolloutTable),
    traces: [
      ...runs.flatMap((r) => r.traces.map((t) => ({ run: r.name, file: t.file, steps: t.steps }))),
      ...extraTraces.map((t) => ({ run: '--trace', file: t.file, steps: t.steps })),
    ],
  };
}

/** JSON safe inside <script>: `<` escaped, so no `</script>` or `<!--` can end the element early. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** The HTML text of the report. */
export async function renderReport(data: ReportData): Promise<string> {
  const { js, css } = await bundleBrowser('report/client.ts');
  const title = data.title.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>${css.replace(/<\/style/gi, '<\\/style')}</style>
</head>
<body>
<main id="report"></main>
<script id="report-data" type="application/json">${scriptJson(data)}</script>
<script>${js.replace(/<\/script/gi, '<\\/script')}</script>
</body>
</html>
`;
}

/**
 * Reads the run directories (and extra trace files), writes the report to `out` and returns its data and size: what
 * `yarn report` does, callable from other commands (a study can write a report of its grid with one call).
 */
export async function writeReport(dirs: string[], out: string, opts: { title?: string; traces?: string[] } = {}): Promise<{ data: ReportData; bytes: number }> {
  const runs = dirs.map(loadRun);
  const data = reportData(runs, opts.title ?? `Runs: ${runs.map((r) => r.name).join(', ')}`, (opts.traces ?? []).map(readTrace));
  const html = await renderReport(data);
  fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  fs.writeFileSync(out, html);
  return { data, bytes: Buffer.byteLength(html) };
}
