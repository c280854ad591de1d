/**
 * One data-parallel diffu-GRPO worker (see workers.ts): its own backend, policy copy, reference model and the
 * micro-batches of its share of the current rollout. Answers the main thread's requests one at a time.
 */
import { parentPort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { setupBackend } from '../backend/backend.ts';
import { Rng } from '../backend/rng.ts';
import type { ModelConfig } from '../model/config.ts';
import { paramShapes, type Params } from '../model/model.ts';
import { accumulateGrads } from '../train/step.ts';
import { disposeMicroBatches, microLosses, prepareMicroBatches, sampleCompletions, type MicroBatch } from './rollout.ts';
import type { GradSums, WeightArrays, WorkerInit, WorkerRequest } from './workers.ts';

let init: WorkerInit;
let cfg: ModelConfig;
let policy: Params = {};
let ref: Params | null = null;
let micro: MicroBatch[] = [];

/** Overwrites the variables' values in place (no new variables, so memory stays flat). */
function assign(params: Params, w: WeightArrays): void {
  tf.tidy(() => {
    for (const [k, v] of Object.entries(params)) v.assign(tf.tensor(w[k], v.shape));
  });
}

async function handle(req: WorkerRequest): Promise<unknown> {
  switch (req.type) {
    case 'init': {
      init = req.init;
      cfg = init.cfg;
      await setupBackend(init.backend);
      const shapes = paramShapes(cfg);
      policy = Object.fromEntries(Object.entries(init.policy).map(([k, data]) => [k, tf.variable(tf.tensor(data, shapes[k]), true, `w.${k}`)]));
      ref = init.ref ? Object.fromEntries(Object.entries(init.ref).map(([k, data]) => [k, tf.variable(tf.tensor(data, shapes[k]), false, `ref.${k}`)])) : null;
      return null;
    }
    case 'sample': {
      assign(policy, req.policy);
      return sampleCompletions({ params: policy, cfg }, req.promptIds, new Rng(req.seed, 'sampling'), init.rollout);
    }
    case 'prepare': {
      const t0 = performance.now();
      disposeMicroBatches(micro);
      micro = prepareMicroBatches({ params: policy, cfg }, ref ? { params: ref } : null, req.samples, req.advantages, req.tokenAdvantages, new Rng(req.seed, 'masking'), init.rollout, init.numMicro);
      return (performance.now() - t0) / 1000;
    }
    case 'grads': {
      assign(policy, req.policy);
      const acc = accumulateGrads(policy, micro.flatMap((mb) => microLosses(policy, cfg, mb, req.k, init.loss)));
      const sum = Object.fromEntries(Object.entries(acc.sum).map(([k, t]) => [k, t.dataSync() as Float32Array]));
      tf.dispose(Object.values(acc.sum));
      const out: GradSums = { sum, lossSum: acc.lossSum, reportSum: acc.reportSum, numTensors: tf.memory().numTensors };
      return out;
    }
    case 'ref': {
      if (ref) assign(ref, req.ref);
      return null;
    }
  }
}

// Requests run strictly in arrival order.
let queue: Promise<void> = Promise.resolve();
parentPort!.on('message', (m: WorkerRequest & { id: number }) => {
  queue = queue.then(async () => {
    try {
      parentPort!.postMessage({ id: m.id, ok: true, result: await handle(m) });
    } catch (e) {
      parentPort!.postMessage({ id: m.id, ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
    }
  });
});
