/** A wasm backend that fails to initialise must not leave tfjs silently on cpu (its own process: it breaks wasm). */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { expect, it } from 'vitest';
import { setupBackend } from '../../src/backend/backend.ts';

it('auto throws, naming runtime.backend: cpu, when wasm cannot start', async () => {
  await tf.setBackend('cpu');
  // Node refuses the threaded build's blob: worker URL, so wasm initialisation fails (research note §1).
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  await expect(setupBackend('auto')).rejects.toThrow(/runtime.backend: auto found neither.*set runtime.backend: cpu explicitly/);
  await expect(setupBackend('wasm')).rejects.toThrow(/runtime.backend: wasm/);
});
