/**
 * Worker threads that run TypeScript entries. The embedded backend (tfjs-wasm) computes on one core per thread, so
 * independent work (data-parallel GRPO shards, evaluating two checkpoints) runs in worker threads, each with its own
 * tfjs and backend instance. `worker_boot.mjs` registers the TypeScript loader in the thread, then imports the entry.
 */
import { Worker } from 'node:worker_threads';

/** A worker thread running the TypeScript module `entry`; `data` arrives as workerData.data. */
export function tsWorker(entry: URL, data: unknown = null): Worker {
  return new Worker(new URL('./worker_boot.mjs', import.meta.url), { workerData: { entry: entry.href, data } });
}

/** Runs a one-shot entry (it posts exactly one message: { ok, result } or { ok: false, error }) and returns its result. */
export function runInThread<T>(entry: URL, data: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    const w = tsWorker(entry, data);
    let settled = false;
    w.once('message', (m: { ok: boolean; result?: T; error?: string }) => {
      settled = true;
      if (m.ok) resolve(m.result as T);
      else reject(new Error(m.error));
      void w.terminate();
    });
    w.once('error', (e) => { settled = true; reject(e); });
    w.once('exit', (code) => { if (!settled) reject(new Error(`worker ${entry.pathname} exited with code ${code} before answering`)); });
  });
}
