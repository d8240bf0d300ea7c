/** Step times as the page reports them: the median of the steps after the first, with their range. */

const ms = new Intl.NumberFormat('en', { maximumFractionDigits: 1 });

export interface StepTimeSummary {
  /** Steps counted (after the first, which compiles). */
  n: number;
  median: number;
  min: number;
  max: number;
  /** "812 ms [790–840]" */
  text: string;
}

export function stepTimeSummary(stepsMs: readonly number[]): StepTimeSummary {
  const xs = (stepsMs.length > 1 ? stepsMs.slice(1) : [...stepsMs]).sort((a, b) => a - b);
  if (xs.length === 0) return { n: 0, median: 0, min: 0, max: 0, text: '—' };
  const m = xs.length >> 1;
  const median = xs.length % 2 ? xs[m]! : (xs[m - 1]! + xs[m]!) / 2;
  const min = xs[0]!;
  const max = xs[xs.length - 1]!;
  return { n: xs.length, median, min, max, text: xs.length > 1 ? `${ms.format(median)} ms [${ms.format(min)}–${ms.format(max)}]` : `${ms.format(median)} ms` };
}
