/** The page's pure helpers: where chart labels go, and the plan as CSV and JSON. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PAD, placeLabels, thinTicks } from '../../src/ui/label-layout.ts';
import { PLAN_CSV_HEADER, PLAN_SCHEMA, planFileName, planToCsv, planToJson } from '../../src/ui/plan-export.ts';
import { estimate } from '../../src/estimate/index.ts';
import { DEFAULT_PLAN } from '../../src/protocol/config.ts';
import { PLAN_CATEGORIES, type Plan } from '../../src/protocol/plan.ts';

describe('placeLabels', () => {
  it('never overlaps two labels in a row and keeps every placed one inside the chart', () => {
    const labels = fc.array(
      fc.record({ x: fc.double({ min: 0, max: 600, noNaN: true }), width: fc.double({ min: 10, max: 300, noNaN: true }) }),
      { maxLength: 8 },
    );
    fc.assert(
      fc.property(labels, fc.integer({ min: 1, max: 4 }), (ls, rows) => {
        const { placed, dropped } = placeLabels(
          ls.map((l, i) => ({ key: String(i), ...l })),
          600,
          rows,
        );
        expect(placed.length + dropped.length).toBe(ls.length);
        for (const p of placed) {
          expect(p.row).toBeLessThan(rows);
          expect(p.left).toBeGreaterThanOrEqual(0);
          expect(p.right).toBeLessThanOrEqual(600);
          // The text starts or ends PAD from its own line.
          const x = ls[Number(p.key)]!.x;
          expect(p.anchor === 'start' ? p.left - x : x - p.right).toBeCloseTo(PAD, 9);
        }
        for (const [i, a] of placed.entries()) {
          for (const b of placed.slice(i + 1)) if (a.row === b.row) expect(a.right <= b.left || b.right <= a.left).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('puts the first label in the top row, on the right of its line when there is room, else on the left', () => {
    expect(placeLabels([{ key: 'a', x: 100, width: 50 }], 600, 3).placed[0]).toMatchObject({ row: 0, anchor: 'start', left: 104 });
    expect(placeLabels([{ key: 'a', x: 580, width: 50 }], 600, 3).placed[0]).toMatchObject({ row: 0, anchor: 'end', right: 576 });
    // Two lines close together: the second goes a row down rather than over the first.
    const two = placeLabels(
      [
        { key: 'a', x: 100, width: 120 },
        { key: 'b', x: 110, width: 120 },
      ],
      600,
      3,
    );
    expect(two.placed.map((p) => p.row)).toEqual([0, 1]);
    // No room anywhere: dropped, not drawn over.
    expect(placeLabels([{ key: 'a', x: 5, width: 40 }, { key: 'b', x: 7, width: 40 }], 60, 1).dropped).toEqual(['b']);
  });

  it('slides an `always` label inside the chart when neither side of its line has room', () => {
    // A 300px label on a line in the middle of a 400px chart: 204 + 300 and 196 − 300 both fall outside.
    expect(placeLabels([{ key: 'a', x: 200, width: 300 }], 400, 3).dropped).toEqual(['a']);
    const { placed, dropped } = placeLabels([{ key: 'a', x: 200, width: 300, always: true }], 400, 3);
    expect(dropped).toEqual([]);
    expect(placed[0]).toMatchObject({ row: 0, left: 100, right: 400 });
  });
});

describe('thinTicks', () => {
  it('keeps every tick when there is room and thins them when there is not', () => {
    const ticks = [0, 10, 20, 30, 40, 50, 60];
    expect(thinTicks(ticks, (v) => v * 10, 60)).toEqual(ticks);
    expect(thinTicks(ticks, (v) => v * 3, 60)).toEqual([0, 20, 40, 60]);
  });
});

/** RFC 4180 fields of one line (no line breaks inside fields here). */
function csvFields(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    let f = '';
    if (line[i] === '"') {
      for (i++; !(line[i] === '"' && line[i + 1] !== '"'); i++) f += line[i] === '"' ? (i++, '"') : line[i];
      i++;
    } else {
      while (i < line.length && line[i] !== ',') f += line[i++];
    }
    out.push(f);
    if (i >= line.length) return out;
    i++; // the comma
  }
}

describe('plan export', () => {
  const plan: Plan = estimate({ ...DEFAULT_PLAN, model: 'llama-3.2-1b' });
  const now = new Date('2026-11-22T20:49:50.123Z');

  it('CSV: the header, a row per category at its most and at the peak, the totals and every term', () => {
    const lines = planToCsv(plan).split('\r\n');
    expect(lines[0]).toBe(PLAN_CSV_HEADER.join(','));
    expect(lines.at(-1)).toBe('');
    for (const c of PLAN_CATEGORIES) {
      expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^category,${c},[^,]+,${plan.bytes[c]},,$`)));
      expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^alive-at-peak,${c},[^,]+,${plan.peak.alive[c]},,$`)));
    }
    expect(lines).toContain(`total,total,peak + overheads,${plan.totalBytes},,`);
    expect(lines.filter((l) => l.startsWith('term,'))).toHaveLength(plan.terms.length);
    // Quoted where a field holds a comma or quote: every line still has six fields.
    for (const l of lines.slice(0, -1)) expect(csvFields(l), l).toHaveLength(6);
  });

  it('CSV text that starts like a spreadsheet formula is defused', () => {
    const hostile: Plan = { ...plan, terms: [{ ...plan.terms[0]!, label: '=HYPERLINK("x")', formula: '+1', source: '@SUM(A1)' }] };
    const row = planToCsv(hostile).split('\r\n').find((l) => l.startsWith('term,'))!;
    expect(row).toBe(`term,${plan.terms[0]!.category},"'=HYPERLINK(""x"")",${plan.terms[0]!.bytes},'+1,'@SUM(A1)`);
  });

  it('JSON: a versioned header, the config and the plan unchanged', () => {
    const doc = JSON.parse(planToJson(plan, DEFAULT_PLAN, now));
    expect(doc.vramlab).toMatchObject({ schema: PLAN_SCHEMA, generatedAt: '2026-11-22T20:49:50.123Z', version: expect.any(String) });
    expect(doc.config).toEqual(DEFAULT_PLAN);
    expect(doc.plan).toEqual(JSON.parse(JSON.stringify(plan)));
    expect(planFileName(plan, 'csv', now)).toBe('vramlab-plan-llama-3.2-1b-2026-11-22T20-49-50Z.csv');
  });
});
