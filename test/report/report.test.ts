import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeReport } from '../../src/report/build.ts';
import { loadRun, pairedGains } from '../../src/report/load.ts';
import { launchChromium, NO_BROWSER, screenshotPath } from '../browser/chromium.ts';
import { GRPO_EVAL_KEYS, GRPO_KEYS, SFT_EVAL_KEYS, SFT_KEYS, writeFixtureRuns } from './fixture.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'report-'));
const runs = writeFixtureRuns(tmp);
const htmlFile = path.join(tmp, 'report.html');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

beforeAll(async () => {
  const { data, bytes } = await writeReport([runs.sft, runs.grpo], htmlFile, { title: 'fixture report' });
  expect(data.evals).toHaveLength(2);
  expect(bytes).toBe(fs.statSync(htmlFile).size);
});

describe('report data', () => {
  it('finds the quickstart-layout eval files of each run and computes the paired gain by hand', () => {
    const sft = loadRun(runs.sft);
    const grpo = loadRun(runs.grpo);
    expect(sft.evals.map((e) => e.key)).toEqual(['eval']);
    expect(grpo.evals[0].file).toBe(path.join(runs.grpo, '..', 'eval', 'grpo.jsonl'));
    expect(grpo.rollouts).toHaveLength(24);
    expect(grpo.traces[0].steps.map((s) => s.nfe)).toEqual([1, 2, 3]);
    const [g] = pairedGains(sft, grpo);
    // diffs: 0.125 on 8 items, 0 on 2: mean 0.1, sd = sqrt((8·0.025² + 2·0.1²)/9) = sqrt(0.025/9), half-width 1.96·sd/√10.
    expect(g.n).toBe(10);
    expect(g.gain).toBeCloseTo(0.1, 12);
    const half = (1.96 * Math.sqrt(0.025 / 9)) / Math.sqrt(10);
    expect(g.ci95[0]).toBeCloseTo(0.1 - half, 12);
    expect(g.ci95[1]).toBeCloseTo(0.1 + half, 12);
  });

  it('refuses a directory with nothing to report, naming it', () => {
    const empty = fs.mkdtempSync(path.join(tmp, 'empty-'));
    expect(() => loadRun(empty)).toThrow(`${empty}: nothing to report`);
  });
});

describe.skipIf(NO_BROWSER !== null)('report in headless Chromium', () => {
  it('opens offline with no console error, draws every curve of both runs, the eval tables and the trace', async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      page.setDefaultTimeout(90_000); // a loaded 2-core CI machine
      const errors: string[] = [];
      const requests: string[] = [];
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      page.on('pageerror', (e) => errors.push(String(e)));
      page.on('request', (r) => requests.push(r.url()));
      await page.goto(`file://${htmlFile}`);
      await page.waitForFunction(() => window.__report?.charts.length && window.__report.charts.every((c) => c.drawn));
      const report = await page.evaluate(() => window.__report!);
      expect(errors).toEqual([]);
      expect(report.errors).toEqual([]);
      expect(requests.filter((u) => !u.startsWith('file:') && !u.startsWith('data:'))).toEqual([]); // nothing from the network

      // One chart per metric key, each with every run that logged it and all of that run's points.
      const expected = new Map<string, Record<string, number>>();
      for (const k of [...SFT_KEYS, ...SFT_EVAL_KEYS]) expected.set(k, { 'report-x/sft': k === 'loss/eval' ? 5 : 10 });
      for (const k of [...GRPO_KEYS, ...GRPO_EVAL_KEYS]) expected.set(k, { ...expected.get(k), 'report-x/grpo': GRPO_EVAL_KEYS.includes(k) ? 3 : 12 });
      const name = (run: string) => run.replace(/^report-[^/]+/, 'report-x');
      const drawn = new Map(report.charts.map((c) => [c.key, Object.fromEntries(c.runs.map((r, i) => [name(r), c.points[i]]))]));
      expect(drawn).toEqual(expected);

      // Each run's curve is on its chart's canvas: pixels in the run's colour (sft #4e79a7, grpo #f28e2b).
      const colourPixels = await page.evaluate(() => [...document.querySelectorAll('.chart')].map((box) => {
        const canvas = box.querySelector('canvas')!;
        const px = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
        const near = (r: number, g: number, b: number) => {
          let n = 0;
          for (let i = 0; i < px.length; i += 4) if (Math.abs(px[i] - r) < 24 && Math.abs(px[i + 1] - g) < 24 && Math.abs(px[i + 2] - b) < 24 && px[i + 3] > 200) n++;
          return n;
        };
        return { key: box.getAttribute('data-key')!, sft: near(0x4e, 0x79, 0xa7), grpo: near(0xf2, 0x8e, 0x2b) };
      }));
      for (const c of colourPixels) {
        const runsOf = expected.get(c.key)!;
        if ('report-x/sft' in runsOf) expect(c.sft, `${c.key}: sft curve`).toBeGreaterThan(20);
        if ('report-x/grpo' in runsOf) expect(c.grpo, `${c.key}: grpo curve`).toBeGreaterThan(20);
      }

      const evalRows = await page.locator('.eval-table tbody tr').allTextContents();
      expect(evalRows).toHaveLength(2);
      expect(evalRows[0]).toContain('[');
      expect(await page.locator('.gain-table tbody tr').allTextContents()).toEqual([expect.stringContaining('+10.0')]);
      // Rollouts of the last step by default, markup shown as text.
      expect(await page.locator('.rollout-rows tbody tr').count()).toBe(2);
      expect(await page.locator('.rollout-rows').textContent()).toContain('<b>12-23</b>');
      // The trace: the last step has no mask left; stepping back to step 1 shows masks.
      const trace = page.locator('.trace');
      await trace.locator('input[type=range]').fill('2');
      expect(await trace.locator('.trace-status').textContent()).toContain('model calls 3');
      expect(await trace.locator('pre').textContent()).not.toContain('_');
      await trace.locator('input[type=range]').fill('0');
      expect(await trace.locator('.masked').count()).toBe(17);
      // Smoothing redraws every chart with no error.
      await page.locator('#smoothing').fill('0.9');
      await page.screenshot({ path: screenshotPath('report.png'), fullPage: true });
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
