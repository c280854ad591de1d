/**
 * The two config files `yarn quickstart --task T` runs. Sudoku: configs/sudoku-{sft,grpo}.yaml. Countdown: the signs
 * format (configs/countdown-signs-{sft,grpo}.yaml: the prompt's numbers in order, each behind its sign), which the
 * tiny model learns; the trace format of configs/countdown-{sft,grpo}.yaml scored 0% (docs/study/countdown.md).
 */
export type QuickstartTask = 'sudoku' | 'countdown';

export const QUICKSTART_CONFIGS: Record<QuickstartTask, { sft: string; grpo: string }> = {
  sudoku: { sft: 'configs/sudoku-sft.yaml', grpo: 'configs/sudoku-grpo.yaml' },
  countdown: { sft: 'configs/countdown-signs-sft.yaml', grpo: 'configs/countdown-signs-grpo.yaml' },
};
