/** Seeded test data, so every failure reproduces (the engine's own mulberry32). */
import { mulberry32 } from '../../src/engine/rng.ts';

export const rng = mulberry32;

/** n values uniform in [lo, hi). */
export function randoms(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * r());
}
