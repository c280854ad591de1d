/** Worker-thread entry of the quickstart's evaluation stage: evaluates one checkpoint (pipeline.ts, evaluateCheckpoint). */
import { parentPort, workerData } from 'node:worker_threads';
import { evaluateCheckpoint, type EvalJob } from './pipeline.ts';

try {
  parentPort!.postMessage({ ok: true, result: await evaluateCheckpoint((workerData as { data: EvalJob }).data) });
} catch (e) {
  parentPort!.postMessage({ ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
}
