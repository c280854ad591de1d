/**
 * tokenizer.json content -> Tokenizer, for both kinds this project writes:
 *   char: BPE model, no merges, no pre-tokenizer, `Fuse` decoder (buildCharTokenizer);
 *   bpe:  BPE model with merges, pre-tokenizer Sequence[Digits(individual), ByteLevel], ByteLevel decoder (trainBpeTokenizer).
 * Either may have atomic tokens: `added_tokens` past the three specials (`special: false`), matched before anything else.
 * Other tokenizer.json files are refused with the reason: encoding them here would silently differ from HF.
 * No Node.js API: the browser playground reads a checkpoint's tokenizer with it too (load.ts adds the file I/O).
 */
import { DataError } from '../errors.ts';
import { bpeTokenizer } from './bpe_tokenizer.ts';
import { charTokenizerFromVocab } from './char_tokenizer.ts';
import { SPECIAL_TOKENS, type Tokenizer } from './types.ts';

interface PreTokenizerJson {
  type: string;
  pretokenizers?: PreTokenizerJson[];
  individual_digits?: boolean;
  add_prefix_space?: boolean;
  use_regex?: boolean;
}

interface TokenizerJson {
  added_tokens?: { id: number; content: string; special?: boolean }[];
  pre_tokenizer?: PreTokenizerJson | null;
  normalizer?: unknown;
  model?: { type?: string; vocab?: Record<string, number>; merges?: (string | [string, string])[] };
}

/** Parses tokenizer.json content; `source` names it in errors (a path, or 'checkpoint'). */
export function tokenizerFromJSON(json: string, source = 'tokenizer.json'): Tokenizer {
  let obj: TokenizerJson;
  try {
    obj = JSON.parse(json) as TokenizerJson;
  } catch (e) {
    throw new DataError(`${source}: not valid JSON (${(e as Error).message})`);
  }
  const model = obj.model;
  if (!model || model.type !== 'BPE' || typeof model.vocab !== 'object' || !Array.isArray(model.merges)) {
    throw new DataError(`${source}: model must be a BPE model with vocab and merges (got type ${String(model?.type)})`);
  }
  if (obj.normalizer) throw new DataError(`${source}: normalizers are not supported (normalizer must be null)`);
  const tokens = vocabToTokens(model.vocab, obj.added_tokens ?? [], source);
  const merges = model.merges.map((m, r) => parseMerge(m, r, source));
  // Added tokens past the specials are atomic: always one token, never split (tokenizer.atomic).
  const atomic = (obj.added_tokens ?? []).filter((a) => a.id >= SPECIAL_TOKENS.length).map((a) => a.content);
  const pre = obj.pre_tokenizer ?? null;
  if (pre === null) {
    if (merges.length > 0) throw new DataError(`${source}: a BPE with merges needs the byte-level pre-tokenizer`);
    return charTokenizerFromVocab(tokens, source, atomic);
  }
  const steps = pre.type === 'Sequence' ? (pre.pretokenizers ?? []) : [pre];
  const ok =
    steps.length === 2 &&
    steps[0].type === 'Digits' &&
    steps[0].individual_digits === true &&
    steps[1].type === 'ByteLevel' &&
    steps[1].add_prefix_space === false &&
    steps[1].use_regex !== false;
  if (!ok) {
    throw new DataError(`${source}: unsupported pre_tokenizer ${JSON.stringify(pre)}; expected Sequence[Digits(individual_digits), ByteLevel(add_prefix_space: false)]`);
  }
  return bpeTokenizer({ tokens, merges, atomic }, source);
}

/** vocab (+ added tokens) -> tokens[id]; ids must be exactly 0..n-1 and 0..2 the specials. */
function vocabToTokens(vocab: Record<string, number>, added: { id: number; content: string }[], source: string): string[] {
  const tokens: string[] = [];
  const put = (t: string, id: number): void => {
    if (!Number.isInteger(id) || id < 0) throw new DataError(`${source}: token '${t}' has invalid id ${id}`);
    if (tokens[id] !== undefined && tokens[id] !== t) throw new DataError(`${source}: id ${id} is both '${tokens[id]}' and '${t}'`);
    tokens[id] = t;
  };
  for (const [t, id] of Object.entries(vocab)) put(t, id);
  for (const a of added) put(a.content, a.id);
  for (let i = 0; i < tokens.length; i++) {
    if (tokens[i] === undefined) throw new DataError(`${source}: the vocabulary has no token with id ${i}`);
  }
  SPECIAL_TOKENS.forEach((s, i) => {
    if (tokens[i] !== s) throw new DataError(`${source}: id ${i} must be the special token '${s}', got '${tokens[i]}'`);
  });
  return tokens;
}

function parseMerge(m: string | [string, string], r: number, source: string): [string, string] {
  if (Array.isArray(m) && m.length === 2) return [m[0], m[1]];
  if (typeof m === 'string') {
    const parts = m.split(' ');
    if (parts.length === 2) return [parts[0], parts[1]];
  }
  throw new DataError(`${source}: merge ${r} ${JSON.stringify(m)} is not a pair`);
}
