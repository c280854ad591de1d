/**
 * An example reward module. Point a GRPO config at it:
 *   rewards:
 *     - { module: ../examples/length_penalty.ts, export: lengthPenalty, weight: 0.2, args: { target: 16 } }
 * A reward receives the prompts, the completions, every column of the data rows and its `args`, and returns one
 * number (or null = not applicable) per completion.
 */
export function lengthPenalty({ completions, args }: { completions: string[]; args: Record<string, unknown> }): number[] {
  const target = Number(args.target ?? 16);
  return completions.map((c) => -Math.abs(c.length - target) / target);
}
