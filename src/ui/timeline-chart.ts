import { LitElement, css, html, nothing, svg, unsafeCSS } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { CATEGORY_LABELS, PLAN_CATEGORIES, type CategoryBytes, type Plan, type PlanCategory } from '../protocol/plan.ts';
import { phaseOfOpLabel, type RunReport, type RunTensor } from '../protocol/run.ts';
import { categoryPalette, legendStyles } from './chart-styles.ts';
import { ResizeController } from './resize-controller.ts';
import { alignEstimate } from './timeline-align.ts';
import { formatBytes } from './format.ts';

/** Phases a measured ledger event is drawn in; 'setup' is the state before the step's first op. */
export const CHART_PHASES = ['setup', 'forward', 'backward', 'recompute', 'optimizer'] as const;
export type ChartPhase = (typeof CHART_PHASES)[number];

/** The phase of an engine op from its ledger label (protocol/run.ts). */
export const phaseOfLabel: (label: string, previous: ChartPhase) => ChartPhase = phaseOfOpLabel;

const total = (b: CategoryBytes): number => PLAN_CATEGORIES.reduce((s, c) => s + b[c], 0);

/** Phase colours outside the app (the app's theme sets --vl-phase-<phase> for light and dark). */
const PHASE_LIGHT = { forward: '#4a90d9', backward: '#d9534f', recompute: '#9b59b6', optimizer: '#2e9e5b' } as const;

/** Binary units for the y axis, largest first. */
const UNITS = [
  { name: 'GiB', bytes: 2 ** 30 },
  { name: 'MiB', bytes: 2 ** 20 },
  { name: 'KiB', bytes: 2 ** 10 },
  { name: 'B', bytes: 1 },
] as const;

/**
 * Tick values (bytes) from 0 to at least `max`, about four steps of 1, 2 or 5 × 10^k in the
 * largest binary unit that keeps `max` at or above 1, so labels read "0, 2 KiB, 4 KiB, …".
 */
export function yTicks(max: number): { ticks: number[]; unit: (typeof UNITS)[number] } {
  const unit = UNITS.find((u) => max >= u.bytes) ?? UNITS[UNITS.length - 1]!;
  const top = Math.max(max, 1) / unit.bytes;
  const raw = top / 4;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let i = 0; ; i++) {
    ticks.push(i * step * unit.bytes);
    if (i * step >= top) break;
  }
  return { ticks, unit };
}

/** Geometry in CSS pixels: the SVG is drawn at its container's width, so text stays 11 px. */
const H = 260;
const M = { left: 64, right: 12, top: 22, bottom: 30 } as const;
const PH = H - M.top - M.bottom;
/** Phase bands narrower than this (px) get no text label. */
const MIN_LABEL_WIDTH = 60;
/** How many tensors the readout lists before "and N more". */
const READOUT_TENSORS = 10;

/**
 * Live bytes over one training step: the measured ledger events as stacked step-areas by
 * category, shaded by phase, and the estimate's timeline as a dashed line of its totals, each
 * point at the end of the op it describes (alignEstimate; spread evenly when the estimate
 * names no ops). Pointing at the chart (hover, tap, or the arrow keys once focused) names the
 * tensors alive at that event with their bytes, as PyTorch's memory_viz does.
 * Colours come from `--vl-cat-<category>` and `--vl-phase-<phase>` (the page theme, theme.ts), with light defaults.
 *
 * @csspart svg - the chart
 * @csspart legend - the legend under the chart
 */
@customElement('vl-timeline-chart')
export class VlTimelineChart extends LitElement {
  static override styles = [
    categoryPalette,
    legendStyles,
    css`
    :host {
      display: block;
      --vl-chart-line: var(--vl-fg, #1b1b1f);
      --vl-chart-grid: var(--vl-border, #d0d0d7);
      --vl-chart-text: var(--vl-muted, #5f5f6b);
    }
    svg {
      display: block;
      overflow: visible;
    }
    text {
      fill: var(--vl-chart-text);
      font-size: 11px;
      font-family: system-ui, sans-serif;
    }
    .grid {
      stroke: var(--vl-chart-grid);
      stroke-width: 1;
    }
    .phase {
      opacity: 0.14;
    }
    .estimate {
      fill: none;
      stroke: var(--vl-chart-line);
      stroke-width: 2;
      stroke-dasharray: 6 4;
    }
    .peak {
      stroke: var(--vl-chart-line);
      stroke-width: 1;
      opacity: 0.6;
    }
    ${colourRules()}
    .swatch.phase-swatch {
      opacity: 0.35;
    }
    .swatch.line {
      height: 0;
      border-top: 2px dashed var(--vl-chart-line);
      background: none;
    }
    .swatch.peak-swatch {
      border-top: 1px solid var(--vl-chart-line);
    }
    .muted {
      color: var(--vl-muted, #666);
    }
    svg:focus-visible {
      outline: 2px solid var(--vl-accent, #0b57d0);
      outline-offset: 2px;
    }
    .cursor {
      stroke: var(--vl-chart-line);
      stroke-width: 1.5;
    }
    .readout {
      font-size: 0.85rem;
      margin: 0.4rem 0 0;
      min-height: 2.5rem;
    }
    .readout p {
      margin: 0 0 0.2rem;
      overflow-wrap: anywhere;
    }
    .readout ul {
      list-style: none;
      padding: 0;
      margin: 0;
      columns: 2 16rem;
    }
    .readout li {
      overflow-wrap: anywhere;
    }
    .readout .swatch {
      display: inline-block;
      width: 0.7rem;
      height: 0.7rem;
      border-radius: 2px;
      margin-right: 0.3rem;
    }
  `,
  ];

  /** The measured step: one point per ledger allocation or release (RunReport.timeline). */
  @property({ attribute: false }) measured: RunReport['timeline'] = [];
  /** The estimate's step (Plan.timeline). */
  @property({ attribute: false }) estimate: Plan['timeline'] = [];
  @property({ type: Number }) measuredPeak = 0;
  @property({ type: Number }) estimatedPeak = 0;
  /** The tensors alive after measured point i (tensorsAtAlive of the report); no readout without it. */
  @property({ attribute: false }) aliveAt: ((index: number) => RunTensor[]) | null = null;

  /** The measured point under the pointer or keyboard cursor. */
  @state() private cursor: number | null = null;

  private readonly size = new ResizeController(this);

  /** The drawn chart, for the SVG and PNG exports; null before the first render. */
  get svgElement(): SVGSVGElement | null {
    return this.renderRoot.querySelector('svg');
  }

  override render() {
    const points = this.measured;
    if (points.length === 0) return html`<p class="muted">No measured timeline.</p>`;
    const W = Math.max(300, this.size.width || 640);
    const PW = W - M.left - M.right;
    const estTotals = this.estimate.map((p) => total(p.bytes));
    const measTotals = points.map((p) => total(p.bytes));
    const max = Math.max(1, this.measuredPeak, this.estimatedPeak, ...measTotals, ...estTotals);
    const { ticks, unit } = yTicks(max);
    const yMax = ticks[ticks.length - 1]!;
    const y = (bytes: number) => M.top + PH - (bytes / yMax) * PH;
    const slot = PW / points.length;
    const x = (i: number) => M.left + i * slot;

    const cats = PLAN_CATEGORIES.filter((c) => points.some((p) => p.bytes[c] > 0));
    const phases = this.phaseBands(points);
    const label = `Live bytes by category over the last measured step: measured peak ${formatBytes(this.measuredPeak)}, estimated peak ${formatBytes(this.estimatedPeak)}${
      this.measuredPeak === this.estimatedPeak ? ' (exact match)' : ''
    }. Use the arrow keys to step through the events and list the tensors alive at each.`;
    const aligned = alignEstimate(this.estimate, points);
    const estXs = aligned ? aligned.map((i) => x(i)) : estTotals.map((_, j) => M.left + (estTotals.length === 1 ? PW / 2 : (j / (estTotals.length - 1)) * PW));
    const cursor = this.cursor !== null && this.cursor < points.length ? this.cursor : null;

    return html`
      <svg
        part="svg"
        width=${W}
        height=${H}
        viewBox="0 0 ${W} ${H}"
        role="img"
        tabindex="0"
        aria-label=${label}
        data-testid="timeline-svg"
        data-aligned=${aligned ? 'ops' : 'even'}
        @pointermove=${(e: PointerEvent) => this.handlePointer(e, slot)}
        @pointerdown=${(e: PointerEvent) => this.handlePointer(e, slot)}
        @keydown=${this.handleKey}
      >
        ${phases.map(
          (b) => svg`<rect class="phase phase-${b.phase}" x=${x(b.from)} y=${M.top} width=${x(b.to) - x(b.from)} height=${PH}></rect>
            ${x(b.to) - x(b.from) >= MIN_LABEL_WIDTH ? svg`<text x=${x(b.from) + 3} y=${M.top - 6}>${b.phase}</text>` : nothing}`,
        )}
        ${ticks.map(
          (t) => svg`<line class="grid" x1=${M.left} x2=${M.left + PW} y1=${y(t)} y2=${y(t)}></line>
            <text x=${M.left - 6} y=${y(t) + 4} text-anchor="end">${formatTick(t, unit)}</text>`,
        )}
        ${this.areas(cats, x, y).map((a) => svg`<path class="area cat-${a.category}" d=${a.d}><title>${CATEGORY_LABELS[a.category]}</title></path>`)}
        ${this.measuredPeak > 0
          ? svg`<line class="peak" x1=${M.left} x2=${M.left + PW} y1=${y(this.measuredPeak)} y2=${y(this.measuredPeak)}></line>
              <text x=${M.left + 4} y=${y(this.measuredPeak) - 4}>measured peak ${formatBytes(this.measuredPeak)}</text>`
          : nothing}
        ${estTotals.length > 0
          ? svg`<polyline class="estimate" data-testid="timeline-estimate" points=${estTotals.map((t, j) => `${estXs[j]!.toFixed(2)},${y(t).toFixed(2)}`).join(' ')}></polyline>`
          : nothing}
        ${cursor !== null ? svg`<line class="cursor" x1=${x(cursor + 0.5)} x2=${x(cursor + 0.5)} y1=${M.top} y2=${M.top + PH}></line>` : nothing}
        <text x=${M.left} y=${H - 8}>${W < 520 ? `ledger events (${points.length})` : `ledger events of the last step, in order (${points.length}); estimate ${aligned ? 'at the end of each op' : 'spread evenly'}`}</text>
      </svg>
      ${this.renderReadout(cursor)}
      <ul part="legend" data-testid="timeline-legend">
        ${cats.map((c) => html`<li><span class="swatch cat-${c}" aria-hidden="true"></span>${CATEGORY_LABELS[c]} (measured)</li>`)}
        <li><span class="swatch line" aria-hidden="true"></span>estimate, total</li>
        <li><span class="swatch line peak-swatch" aria-hidden="true"></span>measured peak</li>
        ${[...new Set(phases.map((b) => b.phase))].map(
          (p) => html`<li><span class="swatch phase-swatch phase-${p}" aria-hidden="true"></span>${p} phase</li>`,
        )}
      </ul>
    `;
  }

  /** Contiguous runs of one phase over the measured points (slot indices [from, to)), setup excluded. */
  private phaseBands(points: RunReport['timeline']): { phase: Exclude<ChartPhase, 'setup'>; from: number; to: number }[] {
    const bands: { phase: Exclude<ChartPhase, 'setup'>; from: number; to: number }[] = [];
    let phase: ChartPhase = 'setup';
    points.forEach((p, i) => {
      phase = phaseOfLabel(p.label, phase);
      if (phase === 'setup') return;
      const last = bands[bands.length - 1];
      if (last && last.phase === phase && last.to === i) last.to = i + 1;
      else bands.push({ phase, from: i, to: i + 1 });
    });
    return bands;
  }

  /**
   * One closed path per category: a step function (bytes stay constant until the next event),
   * stacked in PLAN_CATEGORIES order, its top edge left to right, then its base right to left.
   */
  private areas(cats: readonly PlanCategory[], x: (i: number) => number, y: (b: number) => number): { category: PlanCategory; d: string }[] {
    const points = this.measured;
    const base = points.map(() => 0);
    return cats.map((c) => {
      const top = points.map((p, i) => base[i]! + p.bytes[c]);
      const edge = (vals: number[]) => vals.flatMap((v, i) => [`${x(i).toFixed(2)},${y(v).toFixed(2)}`, `${x(i + 1).toFixed(2)},${y(v).toFixed(2)}`]);
      const upper = edge(top);
      const lower = edge(base).reverse();
      top.forEach((v, i) => (base[i] = v));
      return { category: c, d: `M${upper.join('L')}L${lower.join('L')}Z` };
    });
  }

  /** The tensors alive at the cursor, largest first. */
  private renderReadout(cursor: number | null) {
    if (!this.aliveAt) return nothing;
    if (cursor === null) return html`<p class="muted readout" data-testid="timeline-readout">Point at the chart (or focus it and use the arrow keys) to list the tensors alive at that moment.</p>`;
    const p = this.measured[cursor]!;
    const tensors = this.aliveAt(cursor);
    const shown = tensors.slice(0, READOUT_TENSORS);
    return html`<div class="readout" data-testid="timeline-readout" data-index=${cursor} aria-live="polite">
      <p>
        <strong>${p.label || 'before the step'}</strong>: after ${p.event === 'create' ? 'allocating' : 'freeing'} <code>${p.name}</code>,
        ${formatBytes(total(p.bytes))} live in ${tensors.length} tensor${tensors.length === 1 ? '' : 's'}.
      </p>
      <ul>
        ${shown.map((t) => html`<li><span class="swatch cat-${t.category}" aria-hidden="true"></span><code>${t.name}</code> ${CATEGORY_LABELS[t.category]}, ${formatBytes(t.bytes)}</li>`)}
        ${tensors.length > shown.length ? html`<li>and ${tensors.length - shown.length} more (${formatBytes(tensors.slice(READOUT_TENSORS).reduce((a, t) => a + t.bytes, 0))})</li>` : nothing}
      </ul>
    </div>`;
  }

  private handlePointer(e: PointerEvent, slot: number): void {
    const svgEl = e.currentTarget as SVGSVGElement;
    const px = e.clientX - svgEl.getBoundingClientRect().left - M.left;
    const i = Math.floor(px / slot);
    this.cursor = i >= 0 && i < this.measured.length ? i : null;
  }

  private handleKey(e: KeyboardEvent): void {
    const n = this.measured.length;
    if (n === 0) return;
    const step = { ArrowRight: 1, ArrowLeft: -1, PageDown: 10, PageUp: -10 }[e.key];
    if (e.key === 'Home' || e.key === 'End') this.cursor = e.key === 'Home' ? 0 : n - 1;
    else if (step !== undefined) this.cursor = Math.min(n - 1, Math.max(0, (this.cursor ?? (step > 0 ? -1 : n)) + step));
    else return;
    e.preventDefault();
  }
}

/**
 * `.cat-<category>` and `.phase-<phase>` rules, filled (SVG) and painted (legend swatches) from
 * their custom properties. The names come from the `as const` lists, never from input; the
 * check keeps it that way, since unsafeCSS takes the text as it is.
 */
function colourRules() {
  const names = [...PLAN_CATEGORIES.map((c) => ['cat', c] as const), ...CHART_PHASES.filter((p) => p !== 'setup').map((p) => ['phase', p] as const)];
  const rules = names.map(([kind, name]) => {
    if (!/^[A-Za-z][A-Za-z0-9]*$/.test(name)) throw new Error(`not an identifier: ${name}`);
    // Phases take the page theme's colour (theme.ts), else the light one; categories come from categoryPalette.
    const v = kind === 'phase' ? `var(--vl-phase-${name}, ${PHASE_LIGHT[name as keyof typeof PHASE_LIGHT]})` : `var(--vl-${kind}-${name})`;
    return `.${kind}-${name} { fill: ${v}; background: ${v}; }`;
  });
  return unsafeCSS(rules.join('\n'));
}

function formatTick(bytes: number, unit: (typeof UNITS)[number]): string {
  if (bytes === 0) return '0';
  return `${Number((bytes / unit.bytes).toFixed(2))} ${unit.name}`;
}

declare global {
  interface HTMLElementTagNameMap {
    'vl-timeline-chart': VlTimelineChart;
  }
}
