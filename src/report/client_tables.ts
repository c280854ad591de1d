/**
 * The report page's tables (browser code, bundled by build.ts): evaluation results with 95% CIs and paired gains,
 * rollout samples by step, and `yarn sample --trace` files replayed step by step. Text goes in through textContent
 * only, so nothing a run logged is ever parsed as HTML.
 */
import type { ReportData, ReportTrace } from './report_data.ts';

type Child = Node | string;

/** document.createElement with attributes and children. */
export function el(tag: string, attrs: Record<string, string> = {}, ...children: Child[]): HTMLElement {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  node.append(...children);
  return node;
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const ci = ([lo, hi]: [number, number]) => `[${(100 * lo).toFixed(1)}, ${(100 * hi).toFixed(1)}]`;

function table(head: string[], rows: Child[][], cls = ''): HTMLElement {
  return el('table', { class: cls }, el('thead', {}, el('tr', {}, ...head.map((h) => el('th', {}, h)))),
    el('tbody', {}, ...rows.map((r) => el('tr', {}, ...r.map((c) => el('td', {}, c))))));
}

export function renderEvals(root: HTMLElement, data: ReportData): void {
  if (data.evals.length === 0) return;
  const section = el('section', { class: 'evals' }, el('h2', {}, 'Evaluation results'));
  const solve = data.evals.some((e) => e.solveRate !== null);
  const head = ['run', 'eval', 'file', 'task', 'n', 'accuracy', '95% CI', ...(solve ? ['solve rate', 'solve 95% CI'] : []), 'sampler', 'gen length', 'model calls', 'parser'];
  section.append(table(head, data.evals.map((e) => [
    e.run, e.key, e.file, e.task, String(e.n), pct(e.accuracy), ci(e.ci95),
    ...(solve ? [e.solveRate === null ? '' : pct(e.solveRate), e.solveCi95 ? ci(e.solveCi95) : ''] : []),
    e.sampler, e.genLength === null ? '' : String(e.genLength), e.nfe === null ? '' : String(e.nfe), e.parser,
  ]), 'eval-table'));
  if (data.gains.length > 0) {
    section.append(el('h3', {}, 'Paired gain (same items, b − a)'));
    section.append(table(['eval', 'task', 'a', 'b', 'n', 'gain (points)', 'paired 95% CI', 'verdict'], data.gains.map((g) => [
      g.key, g.task, g.a, g.b, String(g.n), `${g.gain >= 0 ? '+' : ''}${(100 * g.gain).toFixed(1)}`, ci(g.ci95),
      g.ci95[0] > 0 ? 'b better' : g.ci95[1] < 0 ? 'a better' : 'not significant',
    ]), 'gain-table'));
  }
  root.append(section);
}

/** A step picker (range input) that calls `show(step)` now and on every change. */
function stepPicker(steps: number[], label: string, show: (step: number) => void): HTMLElement {
  const out = el('output', {});
  const input = el('input', { type: 'range', min: '0', max: String(steps.length - 1), step: '1', value: String(steps.length - 1) }) as HTMLInputElement;
  const update = () => {
    const s = steps[Number(input.value)];
    out.textContent = `${label} ${s}`;
    show(s);
  };
  input.addEventListener('input', update);
  queueMicrotask(update);
  return el('label', { class: 'picker' }, input, ' ', out);
}

export function renderRollouts(root: HTMLElement, data: ReportData): void {
  if (data.rollouts.length === 0) return;
  const section = el('section', { class: 'rollouts' }, el('h2', {}, 'Rollout samples'));
  for (const r of data.rollouts) {
    const stepCol = r.columns.indexOf('step');
    const steps = [...new Set(r.rows.map((row) => row[stepCol] as number))].sort((a, b) => a - b);
    const host = el('div', { class: 'rollout-rows' });
    const show = (step: number) => {
      const rows = r.rows.filter((row) => row[stepCol] === step);
      host.replaceChildren(table(r.columns, rows.map((row) => row.map((v) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(3)) : String(v ?? ''))))));
    };
    const note = r.omitted > 0 ? ` (${r.omitted} older rows left out)` : '';
    section.append(el('h3', {}, `${r.run}${note}`), stepPicker(steps, 'step', show), host);
  }
  root.append(section);
}

/** One trace: the rows at a sampler step, characters revealed at that step highlighted; play/pause steps through. */
function traceView(t: ReportTrace): HTMLElement {
  const rows = el('div', { class: 'trace-rows' });
  const status = el('span', { class: 'trace-status' });
  let index = 0;
  const draw = () => {
    const cur = t.steps[index];
    const prev = index > 0 ? t.steps[index - 1] : null;
    rows.replaceChildren(...cur.text.map((line, r) => {
      const before = prev ? [...prev.text[r]] : [];
      return el('pre', {}, ...[...line].map((ch, i) => el('span', { class: ch === '_' ? 'masked' : prev && before[i] !== ch ? 'fresh' : '' }, ch)));
    }));
    status.textContent = `step ${cur.step} / ${t.steps[t.steps.length - 1].step} · block ${cur.block} · model calls ${cur.nfe}`;
    input.value = String(index);
  };
  const input = el('input', { type: 'range', min: '0', max: String(t.steps.length - 1), step: '1', value: '0' }) as HTMLInputElement;
  input.addEventListener('input', () => {
    index = Number(input.value);
    draw();
  });
  let timer: number | null = null;
  const play = el('button', { type: 'button' }, 'play') as HTMLButtonElement;
  play.addEventListener('click', () => {
    if (timer !== null) {
      clearInterval(timer);
      timer = null;
      play.textContent = 'play';
      return;
    }
    if (index === t.steps.length - 1) index = 0;
    play.textContent = 'pause';
    draw();
    timer = window.setInterval(() => {
      if (index >= t.steps.length - 1) {
        clearInterval(timer!);
        timer = null;
        play.textContent = 'play';
        return;
      }
      index++;
      draw();
    }, 400);
  });
  draw();
  return el('div', { class: 'trace' }, el('h3', {}, `${t.run}: ${t.file}`), el('div', { class: 'controls' }, play, input, status), rows);
}

export function renderTraces(root: HTMLElement, data: ReportData): void {
  if (data.traces.length === 0) return;
  root.append(el('section', { class: 'traces' }, el('h2', {}, 'Unmasking, step by step'), ...data.traces.filter((t) => t.steps.length > 0).map(traceView)));
}
