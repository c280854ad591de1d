import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveCheckpoint } from '../../src/checkpoint/resolve.ts';
import { parseConfig } from '../../src/config/load.ts';
import { trainConfigSchema } from '../../src/config/schema.ts';
import { disposeParams } from '../../src/model/model.ts';
import { playgroundInfo, startPlayground, type Playground } from '../../src/playground/server.ts';
import { train } from '../../src/train/trainer.ts';
import { launchChromium, NO_BROWSER, screenshotPath } from '../browser/chromium.ts';
import { REPO_ROOT } from '../paths.ts';

const run = promisify(execFile);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'playground-'));
const runDir = path.join(tmp, 'run');
const PUZZLE = '3102200002100320';
let server: Playground;
let checkpointDir: string;

/** A tiny Sudoku model trained for a few SFT steps (it learns to answer with digits and EOS), as a run with its config.yaml. */
beforeAll(async () => {
  const config = parseConfig({
    run: { output_dir: runDir, seed: 0 },
    runtime: { backend: 'wasm' },
    model: { d_model: 32, n_layers: 1, n_heads: 2, mlp_hidden: 64, max_seq_len: 40 },
    data: { task: 'sudoku', num_train: 512, num_eval: 16, seq_len: 34 },
    optimizer: { lr: 1e-2 },
    schedule: { warmup_steps: 5 },
    training: { max_steps: 60, batch_size: 16, eval_every: 0, save_every: 0, log_every: 20 },
    logging: { progress: 'off' },
  }, trainConfigSchema);
  const result = await train(config, { logger: pino({ level: 'silent' }) });
  disposeParams(result.params);
  checkpointDir = resolveCheckpoint(runDir);
  server = await startPlayground({ checkpointDir, port: 0, info: playgroundInfo(checkpointDir, 40) });
});
afterAll(async () => {
  await server?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** What `yarn sample --json` prints for the puzzle (greedy, seed 0, on wasm like the page). */
async function yarnSample(sampler: string): Promise<{ completion: string; nfe: number }> {
  const { stdout } = await run('node', ['--import', 'tsx', 'src/cli/sample.ts', '--backend', 'wasm', '--checkpoint', runDir, '--prompt', `${PUZZLE}=`,
    '--sampler', sampler, '--gen-length', '17', ...(sampler === 'llada' ? ['--steps', '17'] : []), '--seed', '0', '--json'], { cwd: REPO_ROOT });
  return JSON.parse(stdout.trim());
}

describe('playground server', () => {
  it('listens on the loopback interface only and serves nothing but its own paths', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const info = await (await fetch(`${server.url}info.json`)).json();
    expect(info).toMatchObject({ task: 'sudoku', gen_length: 17, block_length: 17, max_seq_len: 40 });
    expect(info.examples[0]).toBe('3102200002100320='); // d1's first test puzzle
    const bytes = await (await fetch(`${server.url}checkpoint/model.safetensors`)).arrayBuffer();
    expect(bytes.byteLength).toBe(fs.statSync(path.join(checkpointDir, 'model.safetensors')).size);
    for (const p of ['checkpoint/../config.yaml', 'checkpoint/trainer_state.json', '..%2Fpackage.json', 'wasm/../../package.json']) {
      expect((await fetch(`${server.url}${p}`)).status, p).toBe(404);
    }
  });
});

describe.skipIf(NO_BROWSER !== null)('playground in headless Chromium', () => {
  it('runs the checkpoint in the browser and, greedy with seed 0, shows the completions yarn sample prints', async () => {
    const [llada, dus, browser] = await Promise.all([yarnSample('llada'), yarnSample('dus'), launchChromium()]);
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 820 } });
      page.setDefaultTimeout(90_000); // a loaded 2-core CI machine
      const errors: string[] = [];
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(`${server.url}?backend=wasm`);
      await page.waitForFunction(() => window.__playground?.ready || window.__playground?.error);
      expect(await page.evaluate(() => window.__playground!.error)).toBeNull();
      expect(await page.evaluate(() => window.__playground!.backend)).toBe('wasm');

      // Type the puzzle into the grid editor (it starts with the first example: clear it first).
      await page.click('#clear-grid');
      const cells = page.locator('#grid-editor .cell');
      for (let i = 0; i < 16; i++) if (PUZZLE[i] !== '0') await cells.nth(i).fill(PUZZLE[i]);
      expect(await page.inputValue('#prompt-text')).toBe(`${PUZZLE}=`);

      await page.locator('#speed').fill('30');
      await page.click('#run');
      await page.waitForFunction(() => window.__playground!.runs === 1);
      const panels = await page.evaluate(() => window.__playground!.panels);
      expect(llada.completion).toMatch(/^[1-4]{12,17}$/); // the trained model answers with digits
      expect(panels.a).toMatchObject({ completion: llada.completion, nfe: 17, frames: 18, error: null });
      expect(panels.b).toMatchObject({ completion: dus.completion, nfe: dus.nfe, error: null });
      expect(await page.locator('#panel-a .completion').textContent()).toBe(llada.completion);
      expect(await page.locator('#panel-b .completion').textContent()).toBe(dus.completion);
      expect(await page.locator('#panel-a .run-status').textContent()).toContain('step 17 / 17 · model calls 17');
      expect(await page.locator('#panel-a .sudoku.view .cell').count()).toBe(16);
      expect(await page.locator('#panel-a .tokens .masked').count()).toBe(0); // fully unmasked at the end
      await page.screenshot({ path: screenshotPath('playground.png') });
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
