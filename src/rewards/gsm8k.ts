/**
 * d1's five GSM8K rewards (diffu-grpo/reward_func.py; max total 4.0) and d1's GSM8K eval parsing
 * (eval/parse_and_get_acc.py).
 *
 * d1 quirks, reproduced with `args.d1_exact: true` and corrected by default:
 * - the soft and strict format regexes have no DOTALL, so any multi-line reasoning fails them (default: DOTALL);
 * - the integer reward uses str.isdigit(), which rejects "-3" and "2.5" and accepts "²" (default: /^-?\d+$/);
 * - correctness compares strings exactly, so "1080" ≠ "1,080" (default: numbers, commas and $ removed).
 */
type Args = { completions: string[]; rows: Record<string, unknown>[]; args?: Record<string, unknown> };
const exact = (a: Args) => a.args?.d1_exact === true;

/** Text after the last <answer>, before the next </answer>, trimmed (d1's extract_xml_answer). */
export function extractXmlAnswer(text: string): string {
  return (text.split('<answer>').pop() ?? '').split('</answer>')[0].trim();
}

/** The gold answer: the text after `####` of a GSM8K solution, or the value itself. */
export function gsm8kGold(row: Record<string, unknown>): string {
  const a = String(row.answer ?? row.gold ?? '');
  const i = a.lastIndexOf('####');
  return (i >= 0 ? a.slice(i + 4) : a).trim();
}

export function toNumber(s: string): number | null {
  const clean = s.replace(/[,$\s]/g, '');
  return /^-?\d+(\.\d+)?$/.test(clean) ? Number(clean) : null;
}

const count = (text: string, sub: string) => text.split(sub).length - 1;

/** xmlcount: +0.125 per well-placed tag, minus 0.001 per character after the closing tag. */
export function xmlCount(text: string): number {
  let c = 0;
  if (count(text, '<reasoning>\n') === 1) c += 0.125;
  if (count(text, '\n</reasoning>\n') === 1) c += 0.125;
  if (count(text, '\n<answer>\n') === 1) {
    c += 0.125;
    c -= (text.split('\n</answer>\n').pop() ?? '').length * 0.001;
  }
  if (count(text, '\n</answer>') === 1) {
    c += 0.125;
    c -= ((text.split('\n</answer>').pop() ?? '').length - 1) * 0.001;
  }
  return c;
}

export const gsm8kXmlCount = (a: Args) => a.completions.map(xmlCount);

export function gsm8kSoftFormat(a: Args): number[] {
  const re = exact(a) ? /^<reasoning>.*?<\/reasoning>\s*<answer>.*?<\/answer>/ : /^<reasoning>[\s\S]*?<\/reasoning>\s*<answer>[\s\S]*?<\/answer>/;
  return a.completions.map((c) => (re.test(c) ? 0.5 : 0));
}

export function gsm8kStrictFormat(a: Args): number[] {
  const re = exact(a) ? /^<reasoning>\n.*?\n<\/reasoning>\n<answer>\n.*?\n<\/answer>\n$/ : /^<reasoning>\n[\s\S]*?\n<\/reasoning>\n<answer>\n[\s\S]*?\n<\/answer>\n$/;
  return a.completions.map((c) => (re.test(c) ? 0.5 : 0));
}

export function gsm8kInt(a: Args): number[] {
  return a.completions.map((c) => {
    const r = extractXmlAnswer(c);
    return (exact(a) ? /^\d+$/.test(r) : /^-?\d+$/.test(r)) ? 0.5 : 0;
  });
}

export function gsm8kCorrectness(a: Args): number[] {
  return a.completions.map((c, i) => {
    const got = extractXmlAnswer(c);
    const gold = gsm8kGold(a.rows[i]);
    if (exact(a)) return got === gold ? 2.0 : 0;
    const g = toNumber(got);
    const t = toNumber(gold);
    return g !== null && t !== null && Math.abs(g - t) < 1e-9 ? 2.0 : 0;
  });
}

/**
 * The lenient GSM8K eval parse (`yarn eval --parser lenient`; d1's exact one is eval/parsers_d1.ts): the first
 * \boxed{…} whose content parses as a number once commas, `$` and spaces are removed (else the first number inside
 * it, exponents and a leading '.' included: `1e3` = 1000, `.5` = 0.5); otherwise the LAST <answer>, closed or not
 * (a number, else its last number). null when nothing parses. Differences from d1 are listed in README.
 */
export function parseGsm8kEval(completion: string): number | null {
  const numbers = (s: string) => (s.replace(/,/g, '').match(/-?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?/g) ?? []).map(Number);
  for (const m of completion.matchAll(/\\boxed\{(.*?)\}/g)) {
    const v = toNumber(m[1]);
    if (v !== null) return v;
    const first = numbers(m[1])[0];
    if (first !== undefined) return first;
  }
  if (!completion.includes('<answer>')) return null;
  const inner = extractXmlAnswer(completion);
  const v = toNumber(inner);
  if (v !== null) return v;
  const all = numbers(inner);
  return all.length > 0 ? all[all.length - 1] : null;
}
