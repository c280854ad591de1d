/**
 * The playground's local server (`yarn playground`): listens on the loopback interface only and serves a fixed set of
 * paths: the page, its script (app.ts bundled by esbuild at start), the tfjs wasm binaries, the checkpoint's three
 * files, and info.json (the task, sampler defaults and example prompts). Nothing else on disk is reachable.
 */
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import YAML from 'yaml';
import { dataFile, readCsv, resolveDataDir } from '../data/index.ts';
import { ConfigError } from '../errors.ts';
import { bundleBrowser } from '../report/bundle.ts';
import { formatPrompt, TASK_NAMES, type TaskName } from '../tokenizer/templates.ts';
import { pageHtml } from './page.ts';

/** What the page needs to know besides the weights (GET /info.json). */
export interface PlaygroundInfo {
  checkpoint: string;
  /** The run's data.task when its config.yaml is beside the checkpoint, else null (free-text prompt only). */
  task: TaskName | null;
  gen_length: number;
  block_length: number;
  steps: number;
  max_seq_len: number;
  /** A few prompts of the task's test set (Sudoku: d1's 4x4 test puzzles). */
  examples: string[];
}

const CHECKPOINT_FILES = ['config.json', 'tokenizer.json', 'model.safetensors'];
const EXAMPLES = 20;
/** Sudoku: 16 digits + EOS, the shipped recipe's gen_length (configs/sudoku-grpo.yaml). */
const DEFAULT_GEN_LENGTH: Partial<Record<TaskName, number>> = { sudoku: 17, countdown: 32 };

/** The run config beside a checkpoint: <run>/config.yaml, where <run> is the checkpoint's parent (or itself). */
function runConfig(checkpointDir: string): Record<string, Record<string, unknown>> | null {
  for (const dir of [path.dirname(checkpointDir), checkpointDir]) {
    const file = path.join(dir, 'config.yaml');
    if (fs.existsSync(file)) return YAML.parse(fs.readFileSync(file, 'utf8')) as Record<string, Record<string, unknown>>;
  }
  return null;
}

function examplePrompts(task: TaskName | null): string[] {
  try {
    if (task === 'sudoku') return readCsv(dataFile(resolveDataDir(), 'sudoku/4x4_test_sudoku.csv')).slice(0, EXAMPLES).map((r) => formatPrompt('sudoku', r));
  } catch {
    // no data directory: the page still works with typed prompts
  }
  return [];
}

export function playgroundInfo(checkpointDir: string, maxSeqLen: number): PlaygroundInfo {
  const cfg = runConfig(checkpointDir);
  const rawTask = cfg?.data?.task;
  const task = typeof rawTask === 'string' && (TASK_NAMES as readonly string[]).includes(rawTask) ? (rawTask as TaskName) : null;
  const sampler = cfg?.sampler ?? {};
  const num = (v: unknown, fallback: number) => (typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : fallback);
  const genLength = num(sampler.gen_length, (task && DEFAULT_GEN_LENGTH[task]) ?? 32);
  const blockLength = num(sampler.block_length, genLength);
  return { checkpoint: checkpointDir, task, gen_length: genLength, block_length: genLength % blockLength === 0 ? blockLength : genLength, steps: genLength, max_seq_len: maxSeqLen, examples: examplePrompts(task) };
}

/** The tfjs wasm binaries shipped in the @tensorflow/tfjs-backend-wasm package. */
function wasmDir(): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
}

export interface Playground {
  url: string;
  close(): Promise<void>;
}

/** Starts the server on 127.0.0.1:`port` (0 = any free port). */
export async function startPlayground(opts: { checkpointDir: string; port: number; info: PlaygroundInfo }): Promise<Playground> {
  const { js, css } = await bundleBrowser('playground/app.ts', { alias: { '@tensorflow/tfjs': 'playground/tfjs_browser.ts' } });
  const html = pageHtml(css);
  const wasm = wasmDir();
  const routes = new Map<string, () => { type: string; body: string | Buffer }>([
    ['/', () => ({ type: 'text/html; charset=utf-8', body: html })],
    ['/app.js', () => ({ type: 'text/javascript; charset=utf-8', body: js })],
    ['/info.json', () => ({ type: 'application/json', body: JSON.stringify(opts.info) })],
  ]);
  for (const f of CHECKPOINT_FILES) {
    routes.set(`/checkpoint/${f}`, () => ({ type: f.endsWith('.json') ? 'application/json' : 'application/octet-stream', body: fs.readFileSync(path.join(opts.checkpointDir, f)) }));
  }
  for (const f of fs.readdirSync(wasm).filter((n) => n.endsWith('.wasm'))) {
    routes.set(`/wasm/${f}`, () => ({ type: 'application/wasm', body: fs.readFileSync(path.join(wasm, f)) }));
  }
  const server = http.createServer((req, res) => {
    const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
    const route = req.method === 'GET' ? routes.get(pathname) : undefined;
    if (pathname === '/favicon.ico') {
      res.writeHead(204).end(); // no icon, and no 404 in the browser's console
      return;
    }
    if (!route) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    try {
      const { type, body } = route();
      res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
    } catch (e) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(String(e));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      reject(e.code === 'EADDRINUSE' ? new ConfigError(`--port ${opts.port}: already in use on 127.0.0.1 (choose another, or --port 0 for any free one)`) : e);
    });
    server.listen(opts.port, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections(); // the browser's keep-alive connections would hold close() open
    }),
  };
}
