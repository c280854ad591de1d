import { afterEach, describe, expect, it } from 'vitest';
import { givenFlags, refuseDiffusionFlags } from '../../src/cli/common.ts';

describe('flags given on the command line', () => {
  const argv = process.argv;
  afterEach(() => { process.argv = argv; });

  it('finds --x v and --x=v, not flags that only share a prefix', () => {
    process.argv = ['node', 'sample.ts', '--steps', '5', '--sampler=dus', '--stepsize', '2'];
    expect(givenFlags(['steps', 'sampler', 'block-length'])).toEqual(['steps', 'sampler']);
  });

  it('a left-to-right checkpoint refuses masked-diffusion sampler flags, naming them and the checkpoint', () => {
    process.argv = ['node', 'sample.ts', '--steps', '5', '--block-length=4'];
    expect(() => refuseDiffusionFlags(['sampler', 'block-length', 'steps'], 'ckpt/ar')).toThrow('--block-length, --steps: masked-diffusion sampler option(s), but ckpt/ar is a left-to-right (causal or L2D) checkpoint');
    process.argv = ['node', 'sample.ts', '--temperature', '0'];
    expect(() => refuseDiffusionFlags(['sampler', 'steps'], 'ckpt/ar')).not.toThrow();
  });
});
