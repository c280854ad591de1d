/**
 * Byte-level pre-tokenization as GPT-2 / Hugging Face `ByteLevel` does it, preceded by LLaMA-style single-digit
 * splitting (HF `Digits { individual_digits: true }`), so numbers are always spelled digit by digit.
 *
 * text -> pre-tokens: (1) every Unicode number character (Rust `char::is_numeric` = \p{N}) becomes its own piece;
 * (2) each piece is split by the GPT-2 regex; (3) each part is UTF-8 encoded and every byte is mapped to a printable
 * character (`bytesToUnicode`), so the BPE alphabet is exactly 256 symbols and any text can be encoded.
 */

/** GPT-2's pre-tokenization regex (HF `ByteLevel` with use_regex: true). */
const GPT2_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;
const DIGIT_PATTERN = /(\p{N})/u;

/** GPT-2's reversible byte -> printable character map: printable Latin-1 bytes map to themselves, the rest to U+0100+. */
function bytesToUnicode(): string[] {
  const keep: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) keep.push(b);
  for (let b = 0xa1; b <= 0xac; b++) keep.push(b);
  for (let b = 0xae; b <= 0xff; b++) keep.push(b);
  const map: string[] = new Array(256);
  let n = 0;
  for (let b = 0; b < 256; b++) map[b] = String.fromCodePoint(keep.includes(b) ? b : 256 + n++);
  return map;
}

/** BYTE_TO_CHAR[b] is the character standing for byte b. */
export const BYTE_TO_CHAR: readonly string[] = bytesToUnicode();
const CHAR_TO_BYTE = new Map<string, number>(BYTE_TO_CHAR.map((c, b) => [c, b]));
const utf8 = new TextEncoder();
const utf8Lossy = new TextDecoder('utf-8', { fatal: false });

/** Text (no special tokens) -> byte-level pre-tokens, e.g. "I have 12 apples" -> ["I", "Ġhave", "Ġ", "1", "2", "Ġapples"]. */
export function preTokenize(text: string): string[] {
  const out: string[] = [];
  text.split(DIGIT_PATTERN).forEach((piece, i) => {
    if (piece.length === 0) return;
    if (i % 2 === 1) {
      out.push(toByteChars(piece));
      return;
    }
    for (const m of piece.matchAll(GPT2_PATTERN)) out.push(toByteChars(m[0]));
  });
  return out;
}

function toByteChars(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return nonAsciiToByteChars(s); // ASCII is one byte per character: the fast path
    out += BYTE_TO_CHAR[c];
  }
  return out;
}

function nonAsciiToByteChars(s: string): string {
  let out = '';
  for (const b of utf8.encode(s)) out += BYTE_TO_CHAR[b];
  return out;
}

/**
 * Byte-level tokens -> text, as HF's `ByteLevel` decoder: a token whose characters are all byte characters gives those
 * bytes, any other token (e.g. a special) its own UTF-8 bytes; the bytes are decoded together, invalid UTF-8 becoming U+FFFD.
 */
export function decodeByteLevel(tokens: string[]): string {
  const bytes: number[] = [];
  for (const t of tokens) {
    const start = bytes.length;
    let allBytes = true;
    for (const c of t) {
      const b = CHAR_TO_BYTE.get(c);
      if (b === undefined) {
        allBytes = false;
        break;
      }
      bytes.push(b);
    }
    if (!allBytes) {
      bytes.length = start;
      for (const b of utf8.encode(t)) bytes.push(b);
    }
  }
  return utf8Lossy.decode(Uint8Array.from(bytes));
}
