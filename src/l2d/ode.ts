/**
 * Fixed-grid ODE solvers over flow time t from 0 (noise) to 1 (data), as torchdiffeq's `euler` and `midpoint` on
 * L2D's grid (`nstep_inference`: linspace(0, 1), velocity v(t, x) = (x̂₁ − x) / (1 − t)). With N steps, h = 1/N:
 *   euler:    x ← x + h·v(t_k, x)                                        N velocity evaluations
 *   midpoint: x ← x + h·v(t_k + h/2, x + (h/2)·v(t_k, x))                2N evaluations
 * No evaluation is at t = 1, where (1 − t) is 0. Each step runs in its own tidy.
 */
import * as tf from '@tensorflow/tfjs';

export type OdeMethod = 'euler' | 'midpoint';

/** v(t, x): x [R, D] -> [R, D]. */
export type Velocity = (t: number, x: tf.Tensor2D) => tf.Tensor2D;

/** Velocity evaluations of `steps` steps of `method`. */
export function odeEvaluations(method: OdeMethod, steps: number): number {
  return method === 'euler' ? steps : 2 * steps;
}

/** Integrates dx/dt = v(t, x) from x0 at t = 0 to t = 1 in `steps` steps. Returns x(1); x0 is not disposed. */
export function solveOde(method: OdeMethod, v: Velocity, x0: tf.Tensor2D, steps: number): tf.Tensor2D {
  const h = 1 / steps;
  let x = x0;
  for (let k = 0; k < steps; k++) {
    const t = k * h;
    const prev = x;
    x = tf.tidy(() => {
      if (method === 'euler') return tf.add(prev, tf.mul(v(t, prev), h)) as tf.Tensor2D;
      const mid = tf.add(prev, tf.mul(v(t, prev), h / 2)) as tf.Tensor2D;
      return tf.add(prev, tf.mul(v(t + h / 2, mid), h)) as tf.Tensor2D;
    });
    if (prev !== x0) prev.dispose();
  }
  return x === x0 ? x0.clone() : x;
}

/** L2D's constant velocity schedule: (x̂₁ − x) / (1 − t). */
export function flowVelocity(x1Hat: tf.Tensor2D, x: tf.Tensor2D, t: number): tf.Tensor2D {
  return tf.div(tf.sub(x1Hat, x), 1 - t) as tf.Tensor2D;
}
