/**
 * Character-level tokenizer for the synthetic tasks (Sudoku, Countdown): the three specials, then one token per
 * character of the given set (deduplicated, sorted by code point).
 *
 * Written to tokenizer.json as a BPE model with an empty merge list and no pre-tokenizer: Hugging Face BPE then splits
 * the input into single characters and looks each up, which is exactly a character vocabulary. The `Fuse` decoder
 * joins tokens with no separator (without a decoder HF would join them with spaces).
 * One difference, on purpose: HF silently drops a character that is not in the vocabulary; `encode` here throws,
 * naming the character, because a silently shortened prompt is a worse failure than a loud one.
 */
import { DataError } from '../errors.ts';
import { EOS_ID, MASK_ID, PAD_ID, SPECIAL_TOKENS, specialAddedTokens, tokenSplitter, type Tokenizer } from './types.ts';

/**
 * Builds the tokenizer from a string of characters (order and repeats do not matter), plus `atomic` strings that are
 * always one token each (ids after the characters; e.g. d1's `<reasoning>`).
 */
export function buildCharTokenizer(chars: string, atomic: string[] = []): Tokenizer {
  const unique = [...new Set([...chars])].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
  if (unique.length === 0) throw new DataError('buildCharTokenizer: the character set is empty');
  return charTokenizerFromVocab([...SPECIAL_TOKENS, ...unique, ...atomic], 'char tokenizer', atomic);
}

/**
 * `tokens[i]` is the string of id i; ids 0..2 must be the specials and every other token a single character or one
 * of the `atomic` strings.
 */
export function charTokenizerFromVocab(tokens: string[], source = 'char tokenizer', atomic: string[] = []): Tokenizer {
  SPECIAL_TOKENS.forEach((s, i) => {
    if (tokens[i] !== s) throw new DataError(`${source}: id ${i} must be '${s}', got '${tokens[i]}'`);
  });
  const toId = new Map<string, number>();
  tokens.forEach((t, i) => {
    if (i >= SPECIAL_TOKENS.length && [...t].length !== 1 && !atomic.includes(t)) {
      throw new DataError(`${source}: token ${i} '${t}' is not a single character (merges are empty, so it could never be produced)`);
    }
    if (toId.has(t)) throw new DataError(`${source}: token '${t}' appears twice (ids ${toId.get(t)} and ${i})`);
    toId.set(t, i);
  });

  const atomicIds = atomic.map((content) => ({ id: toId.get(content) ?? -1, content }));
  const bad = atomicIds.find((a) => a.id < SPECIAL_TOKENS.length);
  if (bad) throw new DataError(`${source}: atomic token '${bad.content}' is missing from the vocabulary`);
  const split = tokenSplitter(new Map(atomicIds.map((a) => [a.content, a.id])));

  function encode(text: string): number[] {
    const ids: number[] = [];
    for (const part of split(text)) {
      if (typeof part === 'number') {
        ids.push(part);
        continue;
      }
      for (const ch of part) {
        const id = toId.get(ch);
        if (id === undefined || id < SPECIAL_TOKENS.length) {
          throw new DataError(`char tokenizer: character ${JSON.stringify(ch)} is not in the vocabulary (add it to tokenizer.chars)`);
        }
        ids.push(id);
      }
    }
    return ids;
  }

  function decode(ids: number[], opts: { skipSpecial?: boolean } = {}): string {
    let out = '';
    for (const id of ids) {
      const t = tokens[id];
      if (t === undefined) throw new RangeError(`char tokenizer: id ${id} is outside the vocabulary [0, ${tokens.length})`);
      if (opts.skipSpecial && id < SPECIAL_TOKENS.length) continue;
      out += t;
    }
    return out;
  }

  function toJSON(): string {
    const vocab: Record<string, number> = {};
    tokens.forEach((t, i) => (vocab[t] = i));
    return JSON.stringify(
      {
        version: '1.0',
        truncation: null,
        padding: null,
        added_tokens: specialAddedTokens(atomicIds),
        normalizer: null,
        pre_tokenizer: null,
        post_processor: null,
        decoder: { type: 'Fuse' },
        model: {
          type: 'BPE',
          dropout: null,
          unk_token: null,
          continuing_subword_prefix: null,
          end_of_word_suffix: null,
          fuse_unk: false,
          byte_fallback: false,
          ignore_merges: false,
          vocab,
          merges: [],
        },
      },
      null,
      2,
    );
  }

  return { vocabSize: tokens.length, padId: PAD_ID, eosId: EOS_ID, maskId: MASK_ID, encode, decode, toJSON };
}
