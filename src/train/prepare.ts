/** Tokenizer + tokenized train/eval sets for a run (shared by SFT/pretraining and, later, GRPO). */
import type { Logger } from 'pino';
import { ConfigError } from '../errors.ts';
import type { TrainConfig } from '../config/schema.ts';
import { buildCharTokenizer, loadTokenizer, tokenizerFromJSON, trainBpeTokenizer, type Tokenizer } from '../tokenizer/index.ts';
import { loadExamples, tokenize, type Example, type TokenizedSet } from './dataset.ts';

export function prepareData(
  config: TrainConfig,
  tokenizerJson: string | null,
  logger: Logger,
  extraTrain: Example[] = [],
): { tokenizer: Tokenizer; trainSet: TokenizedSet; evalSet: TokenizedSet } {
  const loaded = loadExamples(config);
  const train = [...loaded.train, ...extraTrain];
  const heldOut = loaded.heldOut;
  const tokenizer = tokenizerJson ? tokenizerFromJSON(tokenizerJson) : buildTokenizer(config, train);
  const withPrompt = config.objective.type === 'sft';
  const trainSet = tokenize(train, tokenizer, config.data.seq_len, withPrompt);
  const evalSet = tokenize(heldOut, tokenizer, config.data.seq_len, withPrompt);
  if (trainSet.n === 0) {
    const longest = Math.max(...train.map((e) => tokenizer.encode(e.prompt).length + tokenizer.encode(e.answer).length + 1));
    throw new ConfigError(`data.seq_len (${config.data.seq_len}) is too short: every training example was dropped; the longest needs ${longest} tokens`);
  }
  if (trainSet.dropped > 0) {
    logger.warn({ dropped: trainSet.dropped, of: train.length, seq_len: config.data.seq_len }, 'examples longer than data.seq_len were dropped');
  }
  return { tokenizer, trainSet, evalSet };
}

function buildTokenizer(config: TrainConfig, train: Example[]): Tokenizer {
  const t = config.tokenizer;
  if (t.type === 'file') {
    if (!t.path) throw new ConfigError('tokenizer.path is required when tokenizer.type is file');
    return loadTokenizer(t.path);
  }
  if (t.type === 'bpe') return trainBpeTokenizer(train.map((e) => e.prompt + e.answer), t.vocab_size, { atomic: t.atomic });
  // char: the configured characters, else every character of the training text plus the digits.
  const chars = t.chars ?? [...new Set('0123456789' + train.map((e) => e.prompt + e.answer).join(''))].sort().join('');
  return buildCharTokenizer(chars, t.atomic);
}
