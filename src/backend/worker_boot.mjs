// Worker-thread bootstrap: workers do not inherit the parent's TypeScript loader in every setting (vitest, plain
// node), so register tsx here and then load the TypeScript entry named by the parent (workers.ts).
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
