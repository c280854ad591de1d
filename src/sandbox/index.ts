export { runSandboxed, sandboxProtections, sandboxUidRange, setSandboxConcurrency } from './sandbox.ts';
export type { SandboxLanguage, SandboxOptions, SandboxResult, SandboxStatus } from './sandbox.ts';
