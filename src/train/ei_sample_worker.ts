/** Worker-thread entry: one part of expert iteration's sampling (train/ei_sampling.ts sampleJob). */
import { parentPort, workerData } from 'node:worker_threads';
import { sampleJob, type SampleJob } from './ei_sampling.ts';

try {
  parentPort!.postMessage({ ok: true, result: await sampleJob((workerData as { data: SampleJob }).data, (done, total) => parentPort!.postMessage({ progress: { done, total } })) });
} catch (e) {
  parentPort!.postMessage({ ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
}
