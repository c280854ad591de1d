/** Tokenizers (char-level and byte-level BPE, one interface), tokenizer.json I/O and per-task prompt templates. */
export * from './types.ts';
export { buildCharTokenizer, charTokenizerFromVocab } from './char_tokenizer.ts';
export { bpeTokenizer, type BpeModel } from './bpe_tokenizer.ts';
export { trainBpeTokenizer, type BpeTrainOptions } from './bpe_train.ts';
export { loadTokenizer, saveTokenizer, tokenizerFromJSON } from './load.ts';
export { formatExample, formatPrompt, parseGsm8kAnswer, countdownFields, SYSTEM_PROMPT, TASK_NAMES, type TaskName, type Example } from './templates.ts';
