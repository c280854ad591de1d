/**
 * Byte-level BPE training (Sennrich et al. 2016; GPT-2's byte alphabet), with every digit its own pre-token as in
 * LLaMA/LLaDA, so merges never cross digits and numbers are read digit by digit.
 *
 * The `tokenizers` npm package exposes no configurable trainer (no vocab size), so training is done here: count the
 * pre-tokens, then repeatedly merge the most frequent adjacent pair (ties: the pair of smaller ids), updating pair
 * counts only in the words that contain the merged pair. Vocabulary: 3 specials, the 256 byte characters, the atomic
 * tokens (if any), then one token per merge. Training stops at `vocabSize` or when no pair occurs `min_frequency` times.
 */
import { ConfigError } from '../errors.ts';
import { BYTE_TO_CHAR, preTokenize } from './byte_level.ts';
import { bpeTokenizer } from './bpe_tokenizer.ts';
import { SPECIAL_TOKENS, tokenSplitter, type Tokenizer } from './types.ts';

const PAIR = 1 << 20;

export interface BpeTrainOptions {
  /** A pair must occur at least this many times (weighted by word frequency) to be merged. Default 2. */
  min_frequency?: number;
  /**
   * Strings that are always one token (e.g. d1's `<reasoning>`, `</answer>`), given ids right after the 256 bytes; the
   * text is split on them before pre-tokenizing, so no merge crosses or splits them.
   */
  atomic?: string[];
}

/** Trains a byte-level BPE on `texts`; vocabSize counts the specials and the 256 byte tokens (so it must be >= 259). */
export function trainBpeTokenizer(texts: Iterable<string>, vocabSize: number, opts: BpeTrainOptions = {}): Tokenizer {
  const minFrequency = opts.min_frequency ?? 2;
  const atomic = opts.atomic ?? [];
  const bad = atomic.find((a, i) => a.length === 0 || (SPECIAL_TOKENS as readonly string[]).includes(a) || atomic.indexOf(a) !== i || (BYTE_TO_CHAR.includes(a)));
  if (bad !== undefined) throw new ConfigError(`tokenizer.atomic: ${JSON.stringify(bad)} is empty, a special token, a single byte character or listed twice`);
  const tokens: string[] = [...SPECIAL_TOKENS, ...BYTE_TO_CHAR, ...atomic];
  if (!Number.isInteger(vocabSize) || vocabSize < tokens.length || vocabSize >= PAIR) {
    throw new ConfigError(`tokenizer.vocab_size (${vocabSize}) must be an integer in [${tokens.length}, ${PAIR}) for byte-level BPE (3 specials + 256 bytes + ${atomic.length} atomic + merges)`);
  }
  const toId = new Map<string, number>();
  tokens.forEach((t, i) => toId.set(t, i));

  // ---- distinct pre-tokens with their counts ----
  const split = tokenSplitter(new Map(atomic.map((a) => [a, toId.get(a)!])));
  const wordCounts = new Map<string, number>();
  for (const text of texts) {
    for (const part of split(text)) {
      if (typeof part === 'number') continue;
      for (const w of preTokenize(part)) wordCounts.set(w, (wordCounts.get(w) ?? 0) + 1);
    }
  }
  const words: number[][] = [];
  const freqs: number[] = [];
  for (const [w, f] of wordCounts) {
    words.push([...w].map((c) => toId.get(c)!));
    freqs.push(f);
  }

  // ---- pair counts and the words each pair occurs in ----
  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  const addPairs = (wi: number, sign: 1 | -1): void => {
    const sym = words[wi];
    for (let i = 0; i + 1 < sym.length; i++) {
      const key = sym[i] * PAIR + sym[i + 1];
      const c = (pairCount.get(key) ?? 0) + sign * freqs[wi];
      if (c === 0) {
        pairCount.delete(key);
        pairWords.delete(key);
        continue;
      }
      pairCount.set(key, c);
      if (sign > 0) {
        let s = pairWords.get(key);
        if (!s) pairWords.set(key, (s = new Set()));
        s.add(wi);
      }
    }
  };
  words.forEach((_, wi) => addPairs(wi, 1));

  // ---- merge loop ----
  const merges: [string, string][] = [];
  while (tokens.length < vocabSize) {
    let best = -1;
    let bestCount = 0;
    for (const [key, c] of pairCount) {
      if (c > bestCount || (c === bestCount && key < best)) {
        best = key;
        bestCount = c;
      }
    }
    if (best < 0 || bestCount < minFrequency) break;
    const a = Math.floor(best / PAIR);
    const b = best % PAIR;
    const merged = tokens[a] + tokens[b];
    let m = toId.get(merged);
    if (m === undefined) {
      m = tokens.length;
      tokens.push(merged);
      toId.set(merged, m);
    }
    merges.push([tokens[a], tokens[b]]);
    // Words that held the pair: remove their pairs, merge left to right, add the new pairs. (Stale set entries of
    // words that no longer hold the pair are harmless: merging finds nothing and re-adds the same pairs.)
    for (const wi of [...(pairWords.get(best) ?? [])]) {
      addPairs(wi, -1);
      const sym = words[wi];
      const next: number[] = [];
      for (let i = 0; i < sym.length; i++) {
        if (i + 1 < sym.length && sym[i] === a && sym[i + 1] === b) {
          next.push(m);
          i++;
        } else {
          next.push(sym[i]);
        }
      }
      words[wi] = next;
      addPairs(wi, 1);
    }
    pairCount.delete(best);
    pairWords.delete(best);
  }
  return bpeTokenizer({ tokens, merges, atomic }, 'trainBpeTokenizer');
}
