/** One data-parallel SFT/pretraining worker (parallel.ts SftWorkers): its own backend and copy of the weights. */
import { setupBackend } from '../backend/backend.ts';
import { serveRequests } from '../backend/threads.ts';
import { setRecompute } from '../model/recompute.ts';
import type { ModelConfig } from '../model/config.ts';
import type { Params } from '../model/model.ts';
import { assignWeights, gradSums, variablesFrom } from '../engine/parallel.ts';
import type { SftRequest } from './sft_workers.ts';
import { accumulateGrads } from '../engine/step.ts';
import { sftMicroLoss } from './trainer.ts';

let cfg: ModelConfig;
let params: Params = {};

serveRequests<SftRequest>(async (req) => {
  if (req.type === 'init') {
    cfg = req.cfg;
    await setupBackend(req.backend);
    setRecompute(req.recompute);
    params = variablesFrom(cfg, req.weights, true, 'w');
    return null;
  }
  assignWeights(params, req.weights);
  return gradSums(accumulateGrads(params, req.micro.map((m) => sftMicroLoss(params, cfg, m, req.L))));
});
