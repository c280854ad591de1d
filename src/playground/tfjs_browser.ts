/**
 * What `@tensorflow/tfjs` resolves to in the playground's bundle (server.ts aliases it): tfjs-core with the cpu, webgl
 * and wasm backends, without tfjs-layers, -converter and -data, which the model and samplers never use (about half
 * of the full package's minified size).
 */
// The chained tensor methods (x.reshape(...)) that @tensorflow/tfjs registers and tfjs code relies on. Its gradient
// registrations are left out: the playground only samples.
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';

export * from '@tensorflow/tfjs-core';
