/**
 * The playground page (browser code, bundled by server.ts): loads the checkpoint with tfjs, wires the prompt (a
 * Sudoku grid editor when the run's task is sudoku, else a text field) to two sampler panels that run on the same
 * prompt and animate their unmasking side by side. Sets `window.__playground` for the browser test.
 * `?backend=wasm|webgl|cpu` forces a tfjs backend (default: webgl on a GPU, else wasm).
 */
import './playground.css';
import { loadBrowserModel, selectBackend, softwareWebgl, type BrowserBackend, type BrowserModel } from './browser_model.ts';
import { Panel, type Frame, type PanelResult } from './panel.ts';
import type { PlaygroundInfo } from './server.ts';
import { gridEditor, SUDOKU_PROMPT } from './sudoku.ts';

declare global {
  interface Window {
    __playground?: { ready: boolean; backend: string; error: string | null; runs: number; panels: Record<string, PanelResult> };
  }
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

async function main(): Promise<void> {
  const state = { ready: false, backend: '', error: null as string | null, runs: 0, panels: {} as Record<string, PanelResult> };
  window.__playground = state;
  const info = (await (await fetch('info.json')).json()) as PlaygroundInfo;
  $('checkpoint').textContent = info.checkpoint;
  const wanted = new URLSearchParams(location.search).get('backend') as BrowserBackend | null;
  state.backend = await selectBackend(wanted, new URL('wasm/', location.href).href);
  const software = softwareWebgl();
  const softwareName = software?.match(/swiftshader|llvmpipe/i)?.[0] ?? 'software';
  $('backend').textContent = state.backend + (state.backend !== 'webgl' && software && !wanted ? ` (webgl left out: it is ${softwareName}, a CPU renderer)` : '');
  const model: BrowserModel = await loadBrowserModel('checkpoint/', state.backend);

  const promptText = $<HTMLInputElement>('prompt-text');
  const genLength = $<HTMLInputElement>('gen-length');
  genLength.value = String(info.gen_length);
  genLength.max = String(info.max_seq_len);
  const speed = $<HTMLInputElement>('speed');
  speed.addEventListener('input', () => { $('speed-out').textContent = `${speed.value} ms/step`; });

  // Sudoku: the grid editor and the test set's examples write the prompt; typing a prompt updates the grid.
  const examples = info.examples;
  const grid = info.task === 'sudoku' ? gridEditor($('grid-editor'), (puzzle) => { promptText.value = `${puzzle}=`; }) : null;
  let example = 0;
  const showExample = (k: number) => {
    example = (k + examples.length) % examples.length;
    promptText.value = examples[example];
    grid?.set(examples[example]);
    $('example-index').textContent = `${example + 1} / ${examples.length}`;
  };
  if (grid) {
    $('grid-editor').hidden = false;
    promptText.addEventListener('input', () => SUDOKU_PROMPT.test(promptText.value) && grid.set(promptText.value));
    $('clear-grid').addEventListener('click', () => {
      grid.set('0'.repeat(16));
      promptText.value = `${'0'.repeat(16)}=`;
    });
  }
  if (examples.length > 0) {
    $('examples').hidden = false;
    $('prev-example').addEventListener('click', () => showExample(example - 1));
    $('next-example').addEventListener('click', () => showExample(example + 1));
    showExample(0);
  }

  const L = info.gen_length;
  const panels = [new Panel('a', { sampler: 'llada', steps: L, block: info.block_length }), new Panel('b', { sampler: 'dus', steps: L, block: info.block_length })];
  $('panels').replaceChildren(...panels.map((p) => p.root));
  for (const p of panels) state.panels[p.id] = p.result;
  genLength.addEventListener('change', () => panels.forEach((p) => p.fitTo(Number(genLength.value))));

  const run = $<HTMLButtonElement>('run');
  run.addEventListener('click', async () => {
    run.disabled = true;
    $('status').textContent = 'sampling…';
    const prompt = promptText.value;
    const n = Number(genLength.value);
    // One after the other (tfjs runs one op at a time), then both animate together.
    const frames: Frame[][] = [];
    for (const p of panels) frames.push(await p.run(model, prompt, n));
    let left = panels.length;
    panels.forEach((p, i) => p.play(model, prompt, frames[i], Number(speed.value), () => {
      if (--left > 0) return;
      run.disabled = false;
      state.runs++;
      $('status').textContent = 'done';
    }));
  });
  run.disabled = false;
  state.ready = true;
  $('status').textContent = `ready: ${model.cfg.n_layers} layers, d_model ${model.cfg.d_model}, vocabulary ${model.cfg.vocab_size}`;
}

main().catch((e) => {
  const msg = (e as Error).message ?? String(e);
  if (window.__playground) window.__playground.error = msg;
  $('status').textContent = `error: ${msg}`;
  console.error(e);
});
