import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Tokenizer as HfTokenizer } from 'tokenizers';
import { describe, expect, it } from 'vitest';
import { DataError } from '../../src/errors.ts';
import { buildCharTokenizer, loadTokenizer, saveTokenizer, tokenizerFromJSON } from '../../src/tokenizer/index.ts';

describe('buildCharTokenizer', () => {
  it('puts the specials at 0..2, then the characters deduplicated and sorted', () => {
    const tok = buildCharTokenizer('ba a');
    expect([tok.padId, tok.eosId, tok.maskId, tok.vocabSize]).toEqual([0, 1, 2, 6]);
    // ' ' (U+0020) < 'a' < 'b'  ->  3, 4, 5
    expect(tok.encode('ab a')).toEqual([4, 5, 3, 4]);
    expect(tok.encode('a<|eos|>[MASK]b<|pad|>')).toEqual([4, 1, 2, 5, 0]);
    expect(tok.decode([4, 1, 2, 5, 0])).toBe('a<|eos|>[MASK]b<|pad|>');
    expect(tok.decode([4, 1, 2, 5, 0], { skipSpecial: true })).toBe('ab');
  });

  it('throws on a character outside the vocabulary and on an id outside it', () => {
    const tok = buildCharTokenizer('01');
    expect(() => tok.encode('012')).toThrow(DataError);
    expect(() => tok.encode('012')).toThrow(/"2"/);
    expect(() => tok.decode([5])).toThrow(RangeError);
  });

  it('writes a tokenizer.json that Hugging Face tokenizers loads and encodes to the same ids', async () => {
    const chars = '0123456789+-*/()=,:>\n </answer>';
    const tok = buildCharTokenizer(chars);
    const hf = HfTokenizer.fromString(tok.toJSON());
    expect(hf.getVocabSize(true)).toBe(tok.vocabSize);
    const texts = ['3102200002100320=<answer>3142243142131324</answer>', '30,100,93->23:<answer>30+93-100</answer>', ' (1*2)\n', '[MASK][MASK]9<|eos|><|eos|>'];
    for (const text of texts) {
      const ids = tok.encode(text);
      expect((await hf.encode(text)).getIds()).toEqual(ids);
      expect(await hf.decode(ids, false)).toBe(tok.decode(ids));
      expect(await hf.decode(ids, true)).toBe(tok.decode(ids, { skipSpecial: true }));
    }
  });

  it('round-trips through a file and through JSON', () => {
    const tok = buildCharTokenizer('0123=<>/answer');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chartok-'));
    const file = path.join(dir, 'sub', 'tokenizer.json');
    saveTokenizer(tok, file);
    const back = loadTokenizer(file);
    const text = '0123=<answer>3210</answer>';
    expect(back.encode(text)).toEqual(tok.encode(text));
    expect(back.vocabSize).toBe(tok.vocabSize);
    expect(tokenizerFromJSON(tok.toJSON()).toJSON()).toBe(tok.toJSON());
  });

  it('refuses a tokenizer.json whose first ids are not the specials', () => {
    const json = JSON.parse(buildCharTokenizer('ab').toJSON());
    json.model.vocab = { a: 0, b: 1 };
    json.added_tokens = [];
    expect(() => tokenizerFromJSON(JSON.stringify(json), 'x.json')).toThrow(/x\.json: id 0 must be the special token '<\|pad\|>'/);
    expect(() => loadTokenizer('/nonexistent/tokenizer.json')).toThrow(DataError);
  });
});
