/**
 * One data-parallel diffu-GRPO worker (see workers.ts): its own backend, policy copy, reference model and the
 * micro-batches of its share of the current rollout. Answers the main thread's requests one at a time.
 */
import * as tf from '@tensorflow/tfjs';
import { setupBackend } from '../backend/backend.ts';
import { Rng } from '../rng.ts';
import { serveRequests } from '../backend/threads.ts';
import { setRecompute } from '../model/recompute.ts';
import type { ModelConfig } from '../model/config.ts';
import type { Params } from '../model/model.ts';
import { assignWeights, gradSums, variablesFrom, type GradSums } from '../engine/parallel.ts';
import { accumulateGrads } from '../engine/step.ts';
import { disposeMicroBatches, microLosses, prepareMicroBatches, type MicroBatch } from './rollout.ts';
import { sampleCompletions, type Samples } from './completions.ts';
import type { WorkerInit, WorkerRequest } from './workers.ts';

let init: WorkerInit;
let cfg: ModelConfig;
let policy: Params = {};
let ref: Params | null = null;
let micro: MicroBatch[] = [];

async function handle(req: WorkerRequest): Promise<unknown> {
  switch (req.type) {
    case 'init': {
      init = req.init;
      cfg = init.cfg;
      await setupBackend(init.backend);
      setRecompute(init.recompute);
      policy = variablesFrom(cfg, init.policy, true, 'w');
      ref = init.ref ? variablesFrom(cfg, init.ref, false, 'ref') : null;
      return null;
    }
    case 'sample': {
      assignWeights(policy, req.policy);
      if (req.promptIds.length === 0) return { sequences: [], full: [], promptLengths: [], steps: null, nfe: 0, positions: 0, seconds: 0 } satisfies Samples; // a refill smaller than W
      return sampleCompletions({ params: policy, cfg }, req.promptIds, new Rng(req.seed, 'sampling'), init.rollout, req.fill ?? undefined);
    }
    case 'prepare': {
      disposeMicroBatches(micro);
      micro = prepareMicroBatches({ params: policy, cfg }, ref ? { params: ref } : null, req.samples, req.advantages, req.tokenAdvantages, new Rng(req.seed, 'masking'), init.rollout, init.numMicro);
      return micro.length; // fewer than numMicro when grpo.zero_std_groups: drop left groups out
    }
    case 'grads': {
      assignWeights(policy, req.policy);
      if (micro.length === 0) {
        // grpo.zero_std_groups: drop left this worker's whole share out: it adds nothing to the sum.
        const sum = Object.fromEntries(Object.entries(policy).map(([k, v]) => [k, new Float32Array(v.size)]));
        return { sum, lossSum: 0, reportSum: {}, numTensors: tf.memory().numTensors } satisfies GradSums;
      }
      return gradSums(accumulateGrads(policy, micro.flatMap((mb) => microLosses(policy, cfg, mb, req.k, init.rollout))));
    }
    case 'ref': {
      if (ref) assignWeights(ref, req.ref);
      return null;
    }
  }
}

serveRequests<WorkerRequest>(handle);
