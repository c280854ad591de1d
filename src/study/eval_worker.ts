/** Worker-thread entry: one study evaluation (study/score.ts scoreCheckpoint). */
import { parentPort, workerData } from 'node:worker_threads';
import { scoreCheckpoint, type ScoreJob } from './score.ts';

try {
  parentPort!.postMessage({ ok: true, result: await scoreCheckpoint((workerData as { data: ScoreJob }).data) });
} catch (e) {
  parentPort!.postMessage({ ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
}
