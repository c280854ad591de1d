import { Tokenizer as HfTokenizer } from 'tokenizers';
import { describe, expect, it } from 'vitest';
import { ConfigError, DataError } from '../../src/errors.ts';
import { readJsonl } from '../../src/data/index.ts';
import { formatExample, tokenizerFromJSON, trainBpeTokenizer } from '../../src/tokenizer/index.ts';
import { dataPath } from '../paths.ts';

const GSM8K = dataPath('gsm8k');

describe('trainBpeTokenizer', () => {
  it('learns the merges computed by hand on a tiny corpus', () => {
    // pre-tokens: "ab" x1, "Ġab" x2 -> pairs (a,b):3, (Ġ,a):2 -> merge "ab" (259); then (Ġ,ab):2 -> "Ġab" (260);
    // then no pair is left, so training stops below the requested size.
    const tok = trainBpeTokenizer(['ab ab ab'], 300);
    expect(tok.vocabSize).toBe(261);
    const json = JSON.parse(tok.toJSON());
    expect(json.model.merges).toEqual(['a b', 'Ġ ab']);
    expect(json.model.vocab['ab']).toBe(259);
    expect(json.model.vocab['Ġab']).toBe(260);
    expect(tok.encode('ab ab')).toEqual([259, 260]);
    expect(tok.encode('a')).toEqual([3 + 0x61]); // 'a' is byte 0x61, after the 3 specials (printable bytes map to themselves)
    expect([tok.padId, tok.eosId, tok.maskId]).toEqual([0, 1, 2]);
  });

  it('never merges digits: each digit is its own token', () => {
    const tok = trainBpeTokenizer(Array(20).fill('12 apples cost 345 dollars, 12 12 12'), 300);
    const ids = tok.encode('12 apples 345');
    const pieces = ids.map((id) => tok.decode([id]));
    expect(pieces.filter((p) => /\d/.test(p))).toEqual(['1', '2', '3', '4', '5']);
    expect(tok.decode(ids)).toBe('12 apples 345');
  });

  it('rejects a vocabulary too small for the byte alphabet', () => {
    expect(() => trainBpeTokenizer(['x'], 200)).toThrow(ConfigError);
  });

  it('matches Hugging Face tokenizers id for id on GSM8K text, and decodes back exactly', async () => {
    const train = readJsonl(`${GSM8K}/train.jsonl`, { limit: 300 }).map((r) => formatExample('gsm8k', r));
    const tok = trainBpeTokenizer(train.map((e) => e.prompt + e.answer), 700);
    expect(tok.vocabSize).toBe(700);
    const hf = HfTokenizer.fromString(tok.toJSON());
    expect(hf.getVocabSize(true)).toBe(700);
    const test = readJsonl(`${GSM8K}/test.jsonl`, { limit: 60 }).map((r) => `${r.question}\n${r.answer}`);
    const edge = ['', ' ', '  two  spaces\t\ttab\r\n', 'café ½ ３４ 😀 ünïcödé', "it's they'll 1,080.50 $3", 'x<|eos|>y[MASK]<|pad|>', '\n\n\n', 'a  \n b'];
    for (const text of [...test, ...edge]) {
      const ids = tok.encode(text);
      expect((await hf.encode(text)).getIds(), JSON.stringify(text)).toEqual(ids);
      expect(tok.decode(ids)).toBe(text);
      expect(await hf.decode(ids, false)).toBe(tok.decode(ids));
      expect(await hf.decode(ids, true)).toBe(tok.decode(ids, { skipSpecial: true }));
    }
    // a byte sequence cut inside a UTF-8 character decodes to U+FFFD in both
    const cut = tok.encode('😀').slice(0, 2);
    expect(tok.decode(cut)).toBe(await hf.decode(cut, false));
  });

  it('round-trips through tokenizer.json and refuses pre-tokenizers it does not implement', () => {
    const tok = trainBpeTokenizer(Array(10).fill('the cat sat on the mat 42'), 280);
    const back = tokenizerFromJSON(tok.toJSON());
    expect(back.encode('the mat sat 42')).toEqual(tok.encode('the mat sat 42'));
    expect(back.vocabSize).toBe(tok.vocabSize);
    const json = JSON.parse(tok.toJSON());
    json.pre_tokenizer = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
    expect(() => tokenizerFromJSON(JSON.stringify(json), 'gpt2.json')).toThrow(DataError);
    // merges in the newer [left, right] form are read too
    const pairs = JSON.parse(tok.toJSON());
    pairs.model.merges = pairs.model.merges.map((m: string) => m.split(' '));
    expect(tokenizerFromJSON(JSON.stringify(pairs)).encode('the cat')).toEqual(tok.encode('the cat'));
  });
});
