/** Step times as the page reports them: the median of the steps after the first, with their range. */
import { steadyStepStats } from '../protocol/csv.ts';

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
  const { n, median, min, max } = steadyStepStats(stepsMs);
  if (n === 0) return { n: 0, median: 0, min: 0, max: 0, text: '—' };
  return { n, median, min, max, text: n > 1 ? `${ms.format(median)} ms [${ms.format(min)}–${ms.format(max)}]` : `${ms.format(median)} ms` };
}
