/** The report's curve smoothing (client.ts), apart so that Node tests can import it. */

/**
 * Exponential moving average with TensorBoard's debiasing (the first points are not pulled toward 0):
 * s_t = w·s_{t−1} + (1 − w)·x_t, shown as s_t / (1 − w^t). Nulls stay null and do not advance the average.
 */
export function smooth(values: (number | null)[], weight: number): (number | null)[] {
  if (weight <= 0) return values;
  let last = 0;
  let count = 0;
  return values.map((v) => {
    if (v === null || !Number.isFinite(v)) return null;
    last = last * weight + (1 - weight) * v;
    count++;
    return last / (1 - weight ** count);
  });
}
