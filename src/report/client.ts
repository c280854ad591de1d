/**
 * The report page's script (bundled with uPlot by build.ts and inlined into the HTML; runs in the browser, offline).
 * Reads the JSON in <script id="report-data">, then draws: the evaluation tables, one chart per metric key (every
 * run that logged it overlaid, raw values faint and the smoothed curve solid), rollout samples and traces.
 * Sets `window.__report` to what it drew, for the browser test.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import './report.css';
import { SECTIONS, type DrawnChart, type ReportData, type ReportRun } from './report_data.ts';
import { el, renderEvals, renderRollouts, renderTraces } from './client_tables.ts';
import { smooth } from './smooth.ts';

declare global {
  interface Window {
    __report?: { charts: DrawnChart[]; errors: string[] };
  }
}

const CHART_HEIGHT = 220;

/** The runs' [step, value] columns for one key, joined on a common step axis: [steps, run0, run1, ...]. */
function joined(runs: ReportRun[], key: string): uPlot.AlignedData {
  const tables = runs.map((r) => {
    const pairs = r.metrics.step.map((s, i) => [s, r.metrics[key][i]] as const).filter(([s, v]) => s !== null && v !== null);
    return [pairs.map(([s]) => s as number), pairs.map(([, v]) => v as number)] as uPlot.AlignedData;
  });
  return tables.length === 1 ? tables[0] : uPlot.join(tables);
}

/** Tick labels with as many decimals as the tick spacing needs, and k/M for large values (uPlot's default cuts them). */
export function tickLabels(_u: uPlot, splits: number[], _axis: number, _space: number, incr: number): string[] {
  const decimals = Math.min(8, Math.max(0, -Math.floor(Math.log10(Math.abs(incr) || 1))));
  return splits.map((v) => {
    if (v === null) return '';
    const a = Math.abs(v);
    if (a >= 1e6) return `${+(v / 1e6).toFixed(2)}M`;
    if (a >= 1e4) return `${+(v / 1e3).toFixed(1)}k`;
    return v.toFixed(decimals);
  });
}

interface Chart {
  key: string;
  runs: ReportRun[];
  raw: uPlot.AlignedData;
  plot: uPlot;
  info: DrawnChart;
}

/** Series data for a chart at a smoothing weight: x, then per run its raw values and its smoothed values. */
function seriesData(raw: uPlot.AlignedData, weight: number): uPlot.AlignedData {
  const out: (number | null)[][] = [raw[0] as number[]];
  for (const ys of raw.slice(1)) out.push(ys as (number | null)[], smooth(ys as (number | null)[], weight));
  return out as uPlot.AlignedData;
}

function makeChart(host: HTMLElement, key: string, runs: ReportRun[], weight: number): Chart {
  const raw = joined(runs, key);
  const box = el('div', { class: 'chart', 'data-key': key }, el('h3', {}, key));
  host.append(box);
  const info: DrawnChart = {
    key,
    runs: runs.map((r) => r.name),
    points: raw.slice(1).map((ys) => (ys as (number | null)[]).filter((v) => v !== null && Number.isFinite(v)).length),
    drawn: false,
  };
  const series: uPlot.Series[] = [{ label: 'step' }];
  for (const r of runs) {
    series.push({ label: `${r.name} (raw)`, stroke: r.color, alpha: 0.25, width: 1, spanGaps: true, points: { show: false } });
    series.push({ label: r.name, stroke: r.color, width: 2, spanGaps: true, points: { show: (raw[0] as number[]).length < 3 } });
  }
  const opts: uPlot.Options = {
    width: Math.max(280, box.clientWidth || 420),
    height: CHART_HEIGHT,
    series,
    scales: { x: { time: false } },
    legend: { show: false }, // the page header names each run's colour
    axes: [{ label: 'step', values: tickLabels }, { values: tickLabels, size: 56 }],
    hooks: { draw: [() => { info.drawn = true; }] },
  };
  const plot = new uPlot(opts, seriesData(raw, weight), box);
  return { key, runs, raw, plot, info };
}

function header(data: ReportData, onSmoothing: (w: number) => void): HTMLElement {
  const legend = el('ul', { class: 'runs' }, ...data.runs.map((r) => el('li', {}, el('span', { class: 'swatch', style: `background:${r.color}` }), `${r.name}`, el('code', {}, r.dir))));
  const value = el('output', {}, '0');
  const slider = el('input', { type: 'range', min: '0', max: '0.99', step: '0.01', value: '0', id: 'smoothing' }) as HTMLInputElement;
  slider.addEventListener('input', () => {
    value.textContent = slider.value;
    onSmoothing(Number(slider.value));
  });
  return el('header', {}, el('h1', {}, data.title), el('p', { class: 'meta' }, `generated ${data.generated}`), legend,
    el('label', { class: 'smoothing' }, 'smoothing ', slider, ' ', value));
}

function main(): void {
  const errors: string[] = [];
  window.__report = { charts: [], errors };
  const data = JSON.parse(document.getElementById('report-data')!.textContent!) as ReportData;
  document.title = data.title;
  const charts: Chart[] = [];
  const root = document.getElementById('report')!;
  root.append(header(data, (w) => charts.forEach((c) => c.plot.setData(seriesData(c.raw, w)))));
  renderEvals(root, data); // the headline numbers first, then the curves

  const keys = [...new Set(data.runs.flatMap((r) => Object.keys(r.metrics)))].filter((k) => k !== 'step').sort();
  const placed = new Set<string>();
  for (const section of SECTIONS) {
    const mine = keys.filter((k) => !placed.has(k) && section.test(k));
    if (mine.length === 0) continue;
    mine.forEach((k) => placed.add(k));
    const grid = el('div', { class: 'grid' });
    root.append(el('section', { class: 'curves' }, el('h2', {}, section.title), grid));
    for (const key of mine) charts.push(makeChart(grid, key, data.runs.filter((r) => key in r.metrics), 0));
  }
  window.__report.charts = charts.map((c) => c.info);
  renderRollouts(root, data);
  renderTraces(root, data);
}

try {
  main();
} catch (e) {
  window.__report?.errors.push(String(e));
  throw e;
}
