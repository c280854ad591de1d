/**
 * Byte-level BPE encode/decode in TypeScript from a vocabulary and a merge list (the content of a tokenizer.json).
 *
 * The `tokenizers` npm package encodes asynchronously only, and encoding runs in hot loops, so the model is run here;
 * test/tokenizer/bpe.test.ts checks it against the native package id for id. Encoding of one pre-token follows GPT-2:
 * repeatedly merge every occurrence (left to right) of the adjacent pair with the lowest merge rank. For a merge list
 * where each merge only uses tokens created by earlier merges (any trained list), this is what HF's priority-queue
 * version produces.
 */
import { DataError } from '../errors.ts';
import { BYTE_TO_CHAR, decodeByteLevel, preTokenize } from './byte_level.ts';
import { EOS_ID, MASK_ID, PAD_ID, SPECIAL_TOKENS, specialAddedTokens, tokenSplitter, type Tokenizer } from './types.ts';

export interface BpeModel {
  /** tokens[i] is the string of id i; ids 0..2 are the specials. */
  tokens: string[];
  /** Merges in rank order, each [left, right] token strings. */
  merges: [string, string][];
  /** Tokens that are always one token (HF added tokens, `special: false`): text is split on them before pre-tokenizing. */
  atomic?: string[];
}

/** Pair of ids -> one number (ids stay below 2^20). */
const PAIR = 1 << 20;
/** Pre-token -> ids cache; cleared when it grows past this many entries. */
const CACHE_LIMIT = 200_000;

export function bpeTokenizer(model: BpeModel, source = 'bpe tokenizer'): Tokenizer {
  const { tokens, merges, atomic = [] } = model;
  if (tokens.length >= PAIR) throw new DataError(`${source}: vocabulary of ${tokens.length} is too large (max ${PAIR - 1})`);
  SPECIAL_TOKENS.forEach((s, i) => {
    if (tokens[i] !== s) throw new DataError(`${source}: id ${i} must be '${s}', got '${tokens[i]}'`);
  });
  const toId = new Map<string, number>();
  tokens.forEach((t, i) => toId.set(t, i));
  for (const c of BYTE_TO_CHAR) {
    if (!toId.has(c)) throw new DataError(`${source}: byte character '${c}' is missing from the vocabulary (not a byte-level BPE?)`);
  }
  const atomicIds = atomic.map((content) => {
    const id = toId.get(content);
    if (id === undefined || id < SPECIAL_TOKENS.length) throw new DataError(`${source}: atomic token '${content}' is missing from the vocabulary`);
    return { id, content };
  });
  const split = tokenSplitter(new Map(atomicIds.map((a) => [a.content, a.id])));
  // rank of pair (a, b) and the id it merges into
  const rank = new Map<number, number>();
  const mergedId = new Map<number, number>();
  merges.forEach(([a, b], r) => {
    const ia = toId.get(a);
    const ib = toId.get(b);
    const im = toId.get(a + b);
    if (ia === undefined || ib === undefined || im === undefined) {
      throw new DataError(`${source}: merge ${r} '${a} ${b}' uses a token missing from the vocabulary`);
    }
    const key = ia * PAIR + ib;
    if (!rank.has(key)) {
      rank.set(key, r);
      mergedId.set(key, im);
    }
  });
  const cache = new Map<string, number[]>();

  function encodeWord(word: string): number[] {
    const hit = cache.get(word);
    if (hit) return hit;
    let sym = [...word].map((c) => toId.get(c)!);
    while (sym.length > 1) {
      let bestRank = Infinity;
      let bestKey = -1;
      for (let i = 0; i + 1 < sym.length; i++) {
        const key = sym[i] * PAIR + sym[i + 1];
        const r = rank.get(key);
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          bestKey = key;
        }
      }
      if (bestKey < 0) break;
      const next: number[] = [];
      for (let i = 0; i < sym.length; i++) {
        if (i + 1 < sym.length && sym[i] * PAIR + sym[i + 1] === bestKey) {
          next.push(mergedId.get(bestKey)!);
          i++;
        } else {
          next.push(sym[i]);
        }
      }
      sym = next;
    }
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(word, sym);
    return sym;
  }

  function encode(text: string): number[] {
    const ids: number[] = [];
    for (const part of split(text)) {
      if (typeof part === 'number') ids.push(part);
      else for (const word of preTokenize(part)) for (const id of encodeWord(word)) ids.push(id);
    }
    return ids;
  }

  function decode(ids: number[], opts: { skipSpecial?: boolean } = {}): string {
    const parts: string[] = [];
    for (const id of ids) {
      const t = tokens[id];
      if (t === undefined) throw new RangeError(`bpe tokenizer: id ${id} is outside the vocabulary [0, ${tokens.length})`);
      if (opts.skipSpecial && id < SPECIAL_TOKENS.length) continue;
      parts.push(t);
    }
    return decodeByteLevel(parts);
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
        pre_tokenizer: {
          type: 'Sequence',
          pretokenizers: [
            { type: 'Digits', individual_digits: true },
            { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
          ],
        },
        post_processor: null,
        decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
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
          // "a b" strings (readable by every tokenizers version); byte-level tokens never contain a space.
          merges: merges.map(([a, b]) => `${a} ${b}`),
        },
      },
      null,
      2,
    );
  }

  return { vocabSize: tokens.length, padId: PAD_ID, eosId: EOS_ID, maskId: MASK_ID, encode, decode, toJSON };
}
