/**
 * Worker threads that run TypeScript entries. The embedded backend (tfjs-wasm) computes on one core per thread, so
 * independent work (data-parallel SFT and GRPO shards, evaluating two checkpoints) runs in worker threads, each with
 * its own tfjs and backend instance. `worker_boot.mjs` registers the TypeScript loader in the thread, then imports the
 * entry. WorkerPool / serveRequests are the two ends of a pool of such workers answering requests.
 */
import { parentPort, Worker } from 'node:worker_threads';
import { isUserError, userErrorFromName } from '../errors.ts';

/** A worker thread running the TypeScript module `entry`; `data` arrives as workerData.data. */
export function tsWorker(entry: URL, data: unknown = null): Worker {
  return new Worker(new URL('./worker_boot.mjs', import.meta.url), { workerData: { entry: entry.href, data } });
}

/**
 * Runs a one-shot entry and returns its result: the entry posts any number of `{ progress }` messages (passed to
 * onProgress), then exactly one `{ ok, result }` or `{ ok: false, error }`.
 */
export function runInThread<T>(entry: URL, data: unknown, onProgress?: (p: unknown) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const w = tsWorker(entry, data);
    let settled = false;
    // `{ progress }` messages go to onProgress; the one `{ ok, result | error }` message ends the job.
    w.on('message', (m: { ok: boolean; result?: T; error?: string } | { progress: unknown }) => {
      if ('progress' in m) { onProgress?.(m.progress); return; }
      settled = true;
      if (m.ok) resolve(m.result as T);
      else reject(new Error(m.error));
      void w.terminate();
    });
    w.once('error', (e) => { settled = true; reject(e); });
    w.once('exit', (code) => { if (!settled) reject(new Error(`worker ${entry.pathname} exited with code ${code} before answering`)); });
  });
}

/** A request as it crosses the thread boundary: the caller's object plus a sequence number. */
type Envelope<Req> = Req & { id: number };
/** `error` is the stack of a bug, or the message of a user error (`errorName` ConfigError, DataError, ShapeError). */
type Reply = { id: number; ok: boolean; result?: unknown; error?: string; errorName?: string };

/**
 * W worker threads running the TypeScript module `entry` (whose top level calls `serveRequests`). Requests to one
 * worker are answered in order; the first worker error or non-zero exit fails every pending and later call.
 */
export class WorkerPool<Req extends object> {
  private next = 1;
  private pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private failure: Error | null = null;

  private constructor(private readonly workers: Worker[], label: string) {
    for (const w of workers) {
      w.on('message', (m: Reply) => {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (m.ok) p?.resolve(m.result);
        else p?.reject(userErrorFromName(m.errorName ?? '', m.error ?? '') ?? new Error(m.error));
      });
      w.on('error', (e) => this.fail(e));
      w.on('exit', (code) => { if (code !== 0) this.fail(new Error(`${label} worker exited with code ${code}`)); });
    }
  }

  /** Starts W workers and sends each its `init(w)` request; closes them all if any fails. */
  static async start<Req extends object>(entry: URL, W: number, init: (w: number) => Req, label: string): Promise<WorkerPool<Req>> {
    const pool = new WorkerPool<Req>(Array.from({ length: W }, () => tsWorker(entry)), label);
    try {
      await pool.all(init);
    } catch (e) {
      await pool.close();
      throw e;
    }
    return pool;
  }

  get size(): number {
    return this.workers.length;
  }

  /** Sends make(w) to every worker w and resolves with their results in worker order. */
  all(make: (w: number) => Req): Promise<unknown[]> {
    return Promise.all(this.workers.map((w, i) => this.call(w, make(i))));
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private call(w: Worker, req: Req): Promise<unknown> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      w.postMessage({ id, ...req });
    });
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }
}

/** The worker side of WorkerPool: answers each request with `handle(req)`, strictly one at a time in arrival order. */
export function serveRequests<Req>(handle: (req: Req) => Promise<unknown>): void {
  let queue: Promise<void> = Promise.resolve();
  parentPort!.on('message', (m: Envelope<Req>) => {
    queue = queue.then(async () => {
      try {
        parentPort!.postMessage({ id: m.id, ok: true, result: await handle(m) } satisfies Reply);
      } catch (e) {
        // A user error keeps its class (the main thread prints it as one line); a bug keeps its stack.
        const error = isUserError(e) ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e);
        parentPort!.postMessage({ id: m.id, ok: false, error, errorName: isUserError(e) ? e.name : undefined } satisfies Reply);
      }
    });
  });
}
