import { Tokenizer as HfTokenizer } from 'tokenizers';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.ts';
import { generateArithmeticSet } from '../../src/tasks/arithmetic.ts';
import { buildCharTokenizer, formatExample, tokenizerFromJSON, trainBpeTokenizer } from '../../src/tokenizer/index.ts';

const TAGS = ['<reasoning>', '</reasoning>', '<answer>', '</answer>'];
const rows = generateArithmeticSet(3, 200).map((it) => formatExample('arithmetic', { ...it }));
const texts = rows.map((e) => e.prompt + e.answer);

describe('atomic tokens (tokenizer.atomic)', () => {
  const tok = trainBpeTokenizer(texts, 400, { atomic: TAGS });

  it('BPE: each tag is one token with an id after the bytes, and no merge crosses or splits it', () => {
    TAGS.forEach((t, i) => expect(tok.encode(t)).toEqual([259 + i]));
    const ids = tok.encode('?<reasoning>\n1 + 2 = 3\n</reasoning>');
    expect(ids[1]).toBe(259);
    expect(ids.at(-1)).toBe(260);
    expect(tok.decode(ids)).toBe('?<reasoning>\n1 + 2 = 3\n</reasoning>');
    const plain = trainBpeTokenizer(texts, 400);
    const n = (t: typeof tok) => texts.reduce((a, s) => a + t.encode(s).length, 0);
    expect(n(tok)).toBeLessThan(n(plain)); // each tag is 3+ tokens without
  });

  it('BPE: an arithmetic row is well under 100 tokens with the tags atomic', () => {
    const longest = Math.max(...rows.map((e) => tok.encode(e.prompt).length + tok.encode(e.answer).length));
    expect(longest).toBeLessThan(90);
  });

  it('BPE: matches Hugging Face tokenizers id for id and round-trips through tokenizer.json (as a checkpoint stores it)', async () => {
    const hf = HfTokenizer.fromString(tok.toJSON());
    const back = tokenizerFromJSON(tok.toJSON());
    const edge = ['<answer><answer>', 'x</answer>y', '<answer >', '<|eos|><reasoning>[MASK]', ...texts.slice(0, 20)];
    for (const text of edge) {
      const ids = tok.encode(text);
      expect((await hf.encode(text)).getIds(), JSON.stringify(text)).toEqual(ids);
      expect(back.encode(text)).toEqual(ids);
      expect(await hf.decode(ids, true)).toBe(tok.decode(ids, { skipSpecial: true }));
    }
    expect(back.toJSON()).toBe(tok.toJSON());
  });

  it('char: the tags are one token each, and the JSON round-trips', async () => {
    const ch = buildCharTokenizer('abc<>/\n', ['<answer>', '</answer>']);
    const ids = ch.encode('a<answer>\nb</answer>');
    expect(ids.length).toBe(5);
    expect(ch.decode(ids)).toBe('a<answer>\nb</answer>');
    expect(tokenizerFromJSON(ch.toJSON()).encode('a<answer>\nb</answer>')).toEqual(ids);
    expect((await HfTokenizer.fromString(ch.toJSON()).encode('a<answer>\nb</answer>')).getIds()).toEqual(ids);
  });

  it('refuses a special token, an empty string or a repeat', () => {
    expect(() => trainBpeTokenizer(texts, 400, { atomic: ['<|eos|>'] })).toThrow(ConfigError);
    expect(() => trainBpeTokenizer(texts, 400, { atomic: ['<a>', '<a>'] })).toThrow(ConfigError);
    expect(() => trainBpeTokenizer(texts, 400, { atomic: [''] })).toThrow(ConfigError);
  });
});
