/**
 * A probe for a training loop's `onStep`: at every step after the first it records whether a setImmediate queued at
 * the previous step has run, i.e. whether the loop let the event loop turn in between (engine/step.ts
 * yieldToEventLoop). A loop that never yields holds vitest's worker RPC and Ctrl-C for the whole run.
 */
export function yieldProbe(): { onStep: () => void; yielded: boolean[] } {
  const yielded: boolean[] = [];
  let last: { ran: boolean } | null = null;
  return {
    yielded,
    onStep() {
      if (last) yielded.push(last.ran);
      const flag = { ran: false };
      setImmediate(() => { flag.ran = true; });
      last = flag;
    },
  };
}
