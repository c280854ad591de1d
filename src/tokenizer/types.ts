/**
 * The one tokenizer interface used everywhere, and the special tokens every vocabulary starts with.
 *
 * Ids 0..2 are always the specials, in this order (so a model's embedding rows 0..2 mean the same in every run):
 *   0 `<|pad|>`  left padding of prompts in batched generation; never trained.
 *   1 `<|eos|>`  end of answer. SFT pads answers with EOS and trains on it, as LLaDA does (GUIDELINES.md), so the model
 *                learns to fill the tail of a fixed-length answer with EOS.
 *   2 `[MASK]`   the diffusion mask token (LLaDA's 126336).
 * encode/decode are synchronous: they run in the hot loops of rollout and reward computation.
 */

export interface Tokenizer {
  vocabSize: number;
  maskId: number;
  eosId: number;
  padId: number;
  /** Text -> ids. Special-token strings in the text become their ids (as Hugging Face `tokenizers` does); no BOS/EOS is added. */
  encode(text: string): number[];
  /** Ids -> text; `skipSpecial` drops pad/eos/mask. */
  decode(ids: number[], opts?: { skipSpecial?: boolean }): string;
  /** Hugging Face tokenizer.json content, loadable by the `tokenizers` library and by `tokenizerFromJSON`. */
  toJSON(): string;
}

export const PAD_TOKEN = '<|pad|>';
export const EOS_TOKEN = '<|eos|>';
export const MASK_TOKEN = '[MASK]';
/** In id order: pad 0, eos 1, mask 2. */
export const SPECIAL_TOKENS = [PAD_TOKEN, EOS_TOKEN, MASK_TOKEN] as const;
export const PAD_ID = 0;
export const EOS_ID = 1;
export const MASK_ID = 2;

/**
 * tokenizer.json `added_tokens` entries: the specials (`special: true`), then the atomic tokens (`special: false`),
 * i.e. strings that are always one token and that the BPE never splits or merges across (e.g. d1's `<reasoning>`).
 */
export function specialAddedTokens(atomic: readonly { id: number; content: string }[] = []): object[] {
  const entry = (id: number, content: string, special: boolean) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special });
  return [...SPECIAL_TOKENS.map((content, id) => entry(id, content, true)), ...atomic.map((a) => entry(a.id, a.content, false))];
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * A splitter of text into plain segments and the ids of whole tokens found in it, in order: the specials and, when
 * given, the atomic tokens (content -> id); where two overlap, the longer wins. With the specials only:
 * "a<|eos|>b" -> ["a", 1, "b"].
 */
export function tokenSplitter(atomic: ReadonlyMap<string, number> = new Map()): (text: string) => (string | number)[] {
  const ids = new Map<string, number>([...SPECIAL_TOKENS.map((s, i) => [s, i] as const), ...atomic]);
  const pattern = new RegExp(`(${[...ids.keys()].sort((a, b) => b.length - a.length).map(escapeRegExp).join('|')})`);
  return (text) => {
    if (atomic.size === 0 && !text.includes('<|') && !text.includes('[MASK]')) return [text];
    const out: (string | number)[] = [];
    text.split(pattern).forEach((part, i) => {
      if (i % 2 === 1) out.push(ids.get(part)!);
      else if (part.length > 0) out.push(part);
    });
    return out;
  };
}

/** Splits `text` into plain segments and special-token ids, in order: "a<|eos|>b" -> ["a", 1, "b"]. */
export const splitSpecials = tokenSplitter();
