/**
 * Where a chart's line labels go so that none overlaps another: pure geometry, no DOM, so the
 * rule is unit-tested in Node. Each label hangs off a vertical line at `x`; it is tried on the
 * line's right (text starting at x + PAD), then on its left (text ending at x − PAD), in the
 * top row first, then the rows below. A label that fits nowhere within `maxRows` is returned
 * unplaced, and the chart leaves its line out (a line with no name would be a puzzle) — unless
 * it is marked `always`: then, as a last resort, it is slid along its row to lie inside the
 * chart, as near its line as it can.
 */

/** Gap between a line and its label, and between two labels in one row (px). */
export const PAD = 4;

export interface LineLabel {
  key: string;
  /** The line's position in px from the chart's left edge. */
  x: number;
  /** The text's width in px, as drawn. */
  width: number;
  /** Never dropped (the chart's main line): slid inside the chart when neither side of its line has room. */
  always?: boolean;
}

export interface PlacedLabel {
  key: string;
  row: number;
  anchor: 'start' | 'end';
  /** Where the text is anchored (its start or its end). */
  textX: number;
  /** The text's extent, for overlap checks. */
  left: number;
  right: number;
}

/**
 * Places labels in priority order (the first gets the best spot), within [0, chartWidth].
 * Returns the placed ones, in the order given, and the keys that did not fit.
 */
export function placeLabels(labels: readonly LineLabel[], chartWidth: number, maxRows: number): { placed: PlacedLabel[]; dropped: string[] } {
  const rows: { left: number; right: number }[][] = [];
  const placed: PlacedLabel[] = [];
  const dropped: string[] = [];
  for (const l of labels) {
    const spot = findSpot(l, chartWidth, maxRows, rows);
    if (!spot) {
      dropped.push(l.key);
      continue;
    }
    (rows[spot.row] ??= []).push({ left: spot.left, right: spot.right });
    placed.push(spot);
  }
  return { placed, dropped };
}

function findSpot(l: LineLabel, chartWidth: number, maxRows: number, rows: { left: number; right: number }[][]): PlacedLabel | null {
  const candidates = (
    [
      { key: l.key, anchor: 'start', textX: l.x + PAD, left: l.x + PAD, right: l.x + PAD + l.width },
      { key: l.key, anchor: 'end', textX: l.x - PAD, left: l.x - PAD - l.width, right: l.x - PAD },
    ] satisfies Omit<PlacedLabel, 'row'>[]
  ).filter((c) => c.left >= 0 && c.right <= chartWidth);
  const free = (row: number, c: { left: number; right: number }) => (rows[row] ?? []).every((t) => c.right + PAD <= t.left || c.left >= t.right + PAD);
  for (let row = 0; row < maxRows; row++) {
    for (const c of candidates) if (free(row, c)) return { ...c, row };
  }
  if (!l.always) return null;
  const left = Math.max(0, Math.min(l.x + PAD, chartWidth - l.width));
  const slid = { key: l.key, anchor: 'start' as const, textX: left, left, right: left + l.width };
  for (let row = 0; row < maxRows; row++) if (free(row, slid)) return { ...slid, row };
  return { ...slid, row: 0 };
}

/**
 * Tick labels that do not crowd each other: every k-th tick, the smallest k that leaves at
 * least `minGap` px between the centres of neighbouring labels. The first and last stay.
 */
export function thinTicks(ticks: readonly number[], x: (v: number) => number, minGap: number): number[] {
  if (ticks.length < 3) return [...ticks];
  for (let k = 1; k < ticks.length; k++) {
    const kept = ticks.filter((_, i) => i % k === 0);
    const gaps = kept.slice(1).map((t, i) => x(t) - x(kept[i]!));
    if (gaps.every((g) => g >= minGap)) return kept;
  }
  return [ticks[0]!, ticks[ticks.length - 1]!];
}
