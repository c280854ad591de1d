import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.ts';
import { blockPlan, numTransferTokens } from '../../src/sampling/transfer_schedule.ts';

describe('numTransferTokens', () => {
  it('front-loads the remainder (LLaDA get_num_transfer_tokens)', () => {
    expect(numTransferTokens(10, 4)).toEqual([3, 3, 2, 2]);
    expect(numTransferTokens(7, 3)).toEqual([3, 2, 2]);
    expect(numTransferTokens(4, 8)).toEqual([1, 1, 1, 1, 0, 0, 0, 0]);
    expect(numTransferTokens(8, 8)).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
    expect(numTransferTokens(0, 3)).toEqual([0, 0, 0]);
  });

  it('sums to the masked count and is non-increasing', () => {
    for (let n = 0; n <= 40; n++) {
      for (let s = 1; s <= 12; s++) {
        const k = numTransferTokens(n, s);
        expect(k.reduce((a, b) => a + b, 0)).toBe(n);
        for (let i = 1; i < s; i++) expect(k[i]).toBeLessThanOrEqual(k[i - 1]);
        expect(Math.max(...k) - Math.min(...k)).toBeLessThanOrEqual(1);
      }
    }
  });

  it('rejects bad arguments', () => {
    expect(() => numTransferTokens(3, 0)).toThrow(ConfigError);
    expect(() => numTransferTokens(-1, 2)).toThrow(/maskedCount/);
  });
});

describe('blockPlan', () => {
  it('splits steps over blocks', () => {
    expect(blockPlan(32, 8, 16)).toEqual({ numBlocks: 4, blockLength: 8, stepsPerBlock: 4 });
    expect(blockPlan(12, 12, 12)).toEqual({ numBlocks: 1, blockLength: 12, stepsPerBlock: 12 });
    expect(blockPlan(12, 4, null)).toEqual({ numBlocks: 3, blockLength: 4, stepsPerBlock: null });
  });

  it('names the options and values when they do not divide', () => {
    expect(() => blockPlan(10, 4, 10)).toThrow(/gen_length \(10\) must be a multiple of block_length \(4\)/);
    expect(() => blockPlan(12, 4, 10)).toThrow(/steps \(10\) must be a multiple of the number of blocks .*= 3/);
    expect(() => blockPlan(12, 4, 10)).toThrow(ConfigError);
    expect(() => blockPlan(12, 0, 10)).toThrow(/block_length must be an integer >= 1, got 0/);
  });
});
