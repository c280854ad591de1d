/**
 * One sampler panel of the playground: its controls (sampler, steps, block length, temperature, seed, τ), a run of
 * `generate` that records the sequence after every model call, and the animation of those frames.
 */
import { Rng } from '../rng.ts';
import { generate } from '../sampling/generate.ts';
import type { GenerateOptions, SamplerName } from '../sampling/types.ts';
import { el } from '../report/client_tables.ts';
import type { BrowserModel } from './browser_model.ts';
import { gridView, isSolution, SUDOKU_PROMPT } from './sudoku.ts';

const SAMPLERS: SamplerName[] = ['llada', 'dus', 'remdm', 'threshold'];
/** Samplers that take a step count (the others choose their own: DUS log2 of the block, threshold by confidence). */
const USES_STEPS: SamplerName[] = ['llada', 'remdm'];

export interface PanelResult {
  completion: string;
  nfe: number;
  /** Wall time of the sampling itself (before the animation), in milliseconds. */
  ms: number;
  /** Frames shown: the all-masked start, then one per model call. */
  frames: number;
  done: boolean;
  error: string | null;
}

export interface Frame {
  nfe: number;
  /** Generated token ids (the generation region only). */
  ids: number[];
}

function field(label: string, input: HTMLElement): HTMLElement {
  return el('label', {}, `${label} `, input);
}

export class Panel {
  readonly root: HTMLElement;
  readonly result: PanelResult = { completion: '', nfe: 0, ms: 0, frames: 0, done: false, error: null };
  private readonly sampler: HTMLSelectElement;
  private readonly steps: HTMLInputElement;
  private readonly block: HTMLInputElement;
  private readonly temperature: HTMLInputElement;
  private readonly seed: HTMLInputElement;
  private readonly threshold: HTMLInputElement;
  private readonly out: HTMLElement;
  private readonly status: HTMLElement;
  private readonly completion: HTMLElement;
  private timer: number | null = null;

  constructor(readonly id: string, defaults: { sampler: SamplerName; steps: number; block: number }) {
    this.sampler = el('select', { class: 'sampler' }, ...SAMPLERS.map((s) => el('option', { value: s }, s))) as HTMLSelectElement;
    this.sampler.value = defaults.sampler;
    const num = (cls: string, value: number, attrs: Record<string, string> = {}) => el('input', { class: cls, type: 'number', value: String(value), ...attrs }) as HTMLInputElement;
    this.steps = num('steps', defaults.steps, { min: '1', step: '1' });
    this.block = num('block', defaults.block, { min: '1', step: '1' });
    this.temperature = num('temperature', 0, { min: '0', step: '0.1' });
    this.seed = num('seed', 0, { min: '0', step: '1' });
    this.threshold = num('threshold', 0.9, { min: '0.05', max: '1', step: '0.05' });
    this.sampler.addEventListener('change', () => this.syncControls());
    this.out = el('div', { class: 'output' });
    this.status = el('p', { class: 'run-status' }, 'not run yet');
    this.completion = el('p', { class: 'completion-line' }, 'completion: ', el('code', { class: 'completion' }));
    this.root = el('div', { class: 'panel', id: `panel-${id}` },
      el('h2', {}, `Sampler ${id.toUpperCase()}`),
      el('div', { class: 'controls' }, field('sampler', this.sampler), field('steps', this.steps), field('block length', this.block),
        field('temperature', this.temperature), field('seed', this.seed), field('τ', this.threshold)),
      this.out, this.status, this.completion);
    this.syncControls();
  }

  /** After the gen length changed: a block length that no longer divides it becomes the whole length, steps one per token. */
  fitTo(genLength: number): void {
    if (!(genLength > 0) || genLength % Number(this.block.value) === 0) return;
    this.block.value = String(genLength);
    this.steps.value = String(genLength);
  }

  private syncControls(): void {
    const s = this.sampler.value as SamplerName;
    this.steps.disabled = !USES_STEPS.includes(s);
    this.threshold.parentElement!.hidden = s !== 'threshold';
  }

  /** Runs the sampler on `prompt` and returns its frames; errors (a bad setting) are shown in the panel. */
  async run(model: BrowserModel, prompt: string, genLength: number): Promise<Frame[]> {
    this.stop();
    Object.assign(this.result, { completion: '', nfe: 0, ms: 0, frames: 0, done: false, error: null });
    this.out.replaceChildren();
    this.completion.querySelector('code')!.textContent = '';
    const { cfg, tokenizer: tok } = model;
    const sampler = this.sampler.value as SamplerName;
    const frames: Frame[] = [{ nfe: 0, ids: new Array(genLength).fill(cfg.mask_token_id) }];
    try {
      const ids = tok.encode(prompt);
      if (ids.length + genLength > cfg.max_seq_len) throw new Error(`prompt (${ids.length} tokens) + gen length ${genLength} exceeds max_seq_len ${cfg.max_seq_len}`);
      const opts: GenerateOptions = {
        prompts: [ids],
        sampler,
        gen_length: genLength,
        block_length: Number(this.block.value),
        steps: USES_STEPS.includes(sampler) ? Number(this.steps.value) : undefined,
        temperature: Number(this.temperature.value),
        threshold: sampler === 'threshold' ? Number(this.threshold.value) : undefined,
        maskId: cfg.mask_token_id,
        eosId: cfg.eos_token_id,
        padId: cfg.pad_token_id,
        rng: new Rng(Number(this.seed.value), 'sampling'), // as `yarn sample --seed`
        onStep: (s) => frames.push({ nfe: s.nfe, ids: s.ids[0].slice(ids.length) }),
      };
      const t0 = performance.now();
      const out = await generate(model.logitsFn, opts);
      this.result.ms = performance.now() - t0;
      const seq = out.sequences[0];
      const eos = seq.indexOf(cfg.eos_token_id);
      this.result.completion = tok.decode(eos === -1 ? seq : seq.slice(0, eos), { skipSpecial: true });
      this.result.nfe = out.nfe;
      this.result.frames = frames.length;
    } catch (e) {
      this.result.error = (e as Error).message;
      this.status.textContent = `error: ${this.result.error}`;
      this.status.classList.add('error');
      this.result.done = true;
      return [];
    }
    this.status.classList.remove('error');
    return frames;
  }

  /** Shows frame after frame every `ms` milliseconds; the completion line appears with the last frame. */
  play(model: BrowserModel, prompt: string, frames: Frame[], ms: number, onDone: () => void): void {
    if (frames.length === 0) return onDone();
    let i = 0;
    const tick = () => {
      this.draw(model, prompt, frames, i);
      if (i === frames.length - 1) {
        this.stop();
        this.completion.querySelector('code')!.textContent = this.result.completion;
        this.result.done = true;
        onDone();
        return;
      }
      i++;
    };
    tick();
    if (!this.result.done) this.timer = window.setInterval(tick, ms);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private draw(model: BrowserModel, prompt: string, frames: Frame[], i: number): void {
    const { cfg, tokenizer: tok } = model;
    const frame = frames[i];
    const prev = i > 0 ? frames[i - 1].ids : frame.ids;
    const shown = frame.ids.map((t) => (t === cfg.mask_token_id ? null : t === cfg.eos_token_id ? '⏎' : t === cfg.pad_token_id ? '' : tok.decode([t])));
    const fresh = frame.ids.map((t, k) => t !== prev[k]);
    const tokens = el('div', { class: 'tokens' }, ...shown.map((s, k) => el('span', { class: ['tok', s === null ? 'masked' : '', fresh[k] ? 'fresh' : ''].filter(Boolean).join(' ') }, s ?? '_')));
    const parts: HTMLElement[] = [];
    if (SUDOKU_PROMPT.test(prompt)) {
      const puzzle = prompt.slice(0, 16);
      parts.push(gridView(puzzle, shown.slice(0, 16), fresh.slice(0, 16)));
      const digits = shown.slice(0, 16).join('');
      if (i === frames.length - 1) parts.push(el('p', { class: isSolution(puzzle, digits) ? 'verdict ok' : 'verdict' }, isSolution(puzzle, digits) ? 'solved ✓' : 'not a valid solution'));
    }
    this.out.replaceChildren(...parts, tokens);
    const last = frames.length - 1;
    const summary = ` · ${(frame.ids.length / Math.max(frame.nfe, 1)).toFixed(2)} tokens per call · sampled in ${this.result.ms.toFixed(0)} ms`;
    this.status.textContent = `step ${i} / ${last} · model calls ${frame.nfe}${i === last ? summary : ''}`;
  }
}
