/** 95% confidence intervals for an accuracy over n items. */

/** Wilson score interval for k successes in n binary trials (good near 0 and 1, unlike the normal approximation). */
export function wilson(k: number, n: number, z = 1.96): [number, number] {
  if (n === 0) return [0, 1];
  const p = k / n;
  const d = 1 + (z * z) / n;
  const centre = (p + (z * z) / (2 * n)) / d;
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / d;
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

/**
 * Interval for the mean of per-item scores in [0, 1] (e.g. Sudoku cell accuracy per puzzle): mean ± z·s/√n, clamped.
 * Scores are per item, not per cell, because cells of one puzzle are correlated. Binary scores use Wilson instead.
 */
export function meanInterval(scores: number[], z = 1.96): [number, number] {
  const n = scores.length;
  if (n === 0) return [0, 1];
  if (scores.every((s) => s === 0 || s === 1)) return wilson(scores.filter((s) => s === 1).length, n, z);
  const mean = scores.reduce((a, b) => a + b, 0) / n;
  const sd = n > 1 ? Math.sqrt(scores.reduce((a, s) => a + (s - mean) ** 2, 0) / (n - 1)) : 0;
  const half = (z * sd) / Math.sqrt(n);
  return [Math.max(0, mean - half), Math.min(1, mean + half)];
}

/**
 * Paired comparison of two evaluations of the same items (b − a per item): the mean difference and its normal 95%
 * interval, mean ± z·s/√n. Pairing removes the items' own difficulty from the variance, so this interval is much
 * narrower than the difference of two unpaired ones.
 */
export function pairedDifference(a: number[], b: number[], z = 1.96): { mean: number; ci95: [number, number] } {
  if (a.length !== b.length || a.length === 0) throw new Error(`pairedDifference: need two equal non-empty score lists, got ${a.length} and ${b.length}`);
  const diffs = b.map((x, i) => x - a[i]);
  const mean = diffs.reduce((x, y) => x + y, 0) / diffs.length;
  const sd = Math.sqrt(diffs.reduce((x, d) => x + (d - mean) ** 2, 0) / Math.max(diffs.length - 1, 1));
  const half = (z * sd) / Math.sqrt(diffs.length);
  return { mean, ci95: [mean - half, mean + half] };
}

/**
 * Unbiased pass@k of one item from n samples of which c passed (Chen et al. 2021, the HumanEval paper):
 * 1 − C(n−c, k) / C(n, k), the chance that k of the n samples drawn without replacement hold at least one pass.
 * Computed as a running product, so large n does not overflow.
 */
export function passAtK(n: number, c: number, k: number): number {
  if (!Number.isInteger(n) || !Number.isInteger(c) || !Number.isInteger(k) || n < 1 || c < 0 || c > n || k < 1 || k > n) {
    throw new Error(`passAtK: need integers 0 <= c <= n and 1 <= k <= n, got n ${n}, c ${c}, k ${k}`);
  }
  if (n - c < k) return 1;
  let allFail = 1; // C(n−c, k) / C(n, k) = Π_{i=n−c+1..n} (1 − k / i)
  for (let i = n - c + 1; i <= n; i++) allFail *= 1 - k / i;
  return 1 - allFail;
}
