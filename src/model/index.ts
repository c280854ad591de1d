export * from './config.ts';
export { forward, initParams, paramShapes, countParams, disposeParams, cloneParams, type Params } from './model.ts';
export { matMul2d, attention, oneHotF32, rmsNorm, silu, ropeTables, makeRope, applyRope, type Rope } from './ops.ts';
