import { LitElement, css, html, nothing, svg, unsafeCSS } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { GPU_CATALOG } from '../estimate/gpus.ts';
import type { AdapterSummary, EngineRunReport } from '../protocol/engine-api.ts';
import { CATEGORY_LABELS, PLAN_CATEGORIES, type CategoryBytes, type Plan, type PlanCategory } from '../protocol/plan.ts';
import { formatBytes, formatSize } from './format.ts';
import { yTicks } from './timeline-chart.ts';
import { categoryPalette, legendStyles } from './chart-styles.ts';

const GiB = 2 ** 30;

/** One coloured piece of a bar: a plan category, or the textbook's params × 16 B term. */
type SegmentKey = PlanCategory | 'textbookParams';

interface Bar {
  id: 'textbook' | 'detailed' | 'measured';
  /** What the bar is and where its formula comes from, drawn above it. */
  label: string;
  /** The bar's total, as its source states it (data-bytes). */
  bytes: number;
  segments: { key: SegmentKey; label: string; bytes: number }[];
}

/** A vertical line across the bars: a catalog GPU's capacity or this adapter's largest buffer. */
interface Capacity {
  label: string;
  bytes: number;
  kind: 'gpu' | 'buffer';
}

/** How many catalog sizes are drawn around the bars. */
const NEAREST_GPUS = 3;
/**
 * A line up to this many times the longest bar widens the scale to show it; one further out
 * would squash the bars to slivers, so it is named under the chart as off the scale instead.
 */
const MAX_STRETCH = 3;

/** The catalog GPUs with the sizes nearest (by ratio) to `bytes`: up to `n` sizes, cards of one size (to the GiB) merged. */
export function nearestGpus(bytes: number, n = NEAREST_GPUS): Capacity[] {
  const bySize = new Map<number, { names: string[]; bytes: number }>();
  for (const g of GPU_CATALOG) {
    const key = Math.round(g.memoryBytes / GiB);
    const entry = bySize.get(key);
    if (entry) entry.names.push(g.name);
    else bySize.set(key, { names: [g.name], bytes: g.memoryBytes });
  }
  const ref = Math.max(bytes, 1);
  return [...bySize.values()]
    .sort((a, b) => Math.abs(Math.log(a.bytes / ref)) - Math.abs(Math.log(b.bytes / ref)))
    .slice(0, n)
    .sort((a, b) => a.bytes - b.bytes)
    .map((s) => ({ label: s.names.join(' / '), bytes: s.bytes, kind: 'gpu' as const }));
}

function segmentsOf(alive: CategoryBytes): Bar['segments'] {
  return PLAN_CATEGORIES.filter((c) => alive[c] > 0).map((c) => ({ key: c, label: CATEGORY_LABELS[c], bytes: alive[c] }));
}

const sum = (b: CategoryBytes): number => PLAN_CATEGORIES.reduce((s, c) => s + b[c], 0);

/** viewBox geometry; the SVG scales to its container's width. */
const W = 640;
/** The right margin holds each bar's total, printed after its end. */
const M = { left: 8, right: 72, bottom: 28 } as const;
const PW = W - M.left - M.right;
/** Rows of capacity-line labels above the bars, so close lines do not print over each other. */
const LABEL_ROW = 13;
const BAR_H = 22;
/** A bar row: its label line, then the bar. */
const ROW_H = 50;

/**
 * Peak memory three ways, as horizontal stacked bars on one byte scale: the textbook rule
 * (params × 16 B, then activations), the detailed per-tensor estimate (what is alive at its
 * peak, by category) and, after a run, the measurement (the ledger's bytes alive at its peak).
 * Vertical lines mark the catalog GPUs of the nearest sizes and, dashed, this adapter's
 * maxBufferSize (the largest single buffer it allows: a per-tensor limit, not a memory size).
 * Colours come from `--vl-cat-<category>` (chart-styles.ts, shared with the timeline chart) and
 * `--vl-bars-textbook`, with light and dark defaults.
 *
 * @csspart svg - the chart
 * @csspart legend - the legend under the chart
 */
@customElement('vl-plan-bars')
export class VlPlanBars extends LitElement {
  static override styles = [
    categoryPalette,
    legendStyles,
    css`
    :host {
      display: block;
      margin-bottom: 1rem;
      --vl-bars-textbook: #54546b;
      --vl-bars-gpu: var(--vl-fg, #1b1b1f);
      --vl-bars-buffer: var(--vl-error, #b00020);
      --vl-bars-grid: var(--vl-border, #d0d0d7);
      --vl-bars-text: var(--vl-fg, #1b1b1f);
      --vl-bars-muted: var(--vl-muted, #5f5f6b);
    }
    @media (prefers-color-scheme: dark) {
      :host {
        --vl-bars-textbook: #a9a9c2;
      }
    }
    :host([stale]) {
      opacity: 0.5;
    }
    h2 {
      font-size: 1.1rem;
      margin: 0 0 0.4rem;
    }
    svg {
      display: block;
      width: 100%;
      height: auto;
      overflow: visible;
    }
    text {
      fill: var(--vl-bars-text);
      font-size: 11px;
      font-family: system-ui, sans-serif;
    }
    /* A halo in the page colour keeps labels readable where a capacity line crosses them. */
    text.halo {
      paint-order: stroke;
      stroke: var(--vl-bg, #fff);
      stroke-width: 3px;
      stroke-linejoin: round;
    }
    text.muted {
      fill: var(--vl-bars-muted);
    }
    .grid {
      stroke: var(--vl-bars-grid);
      stroke-width: 1;
    }
    .gpu {
      stroke: var(--vl-bars-gpu);
      stroke-width: 1.5;
    }
    .buffer {
      stroke: var(--vl-bars-buffer);
      stroke-width: 1.5;
      stroke-dasharray: 5 3;
    }
    text.buffer-label {
      fill: var(--vl-bars-buffer);
    }
    .seg {
      stroke: var(--vl-bg, #fff);
      stroke-width: 0.5;
    }
    ${colourRules()}
    .swatch.line {
      width: 0;
      height: 0.9rem;
      border-left: 2px solid var(--vl-bars-gpu);
      border-radius: 0;
    }
    .swatch.line.dashed {
      border-left: 2px dashed var(--vl-bars-buffer);
    }
    p {
      margin: 0.3rem 0;
      font-size: 0.8rem;
      color: var(--vl-muted, #666);
    }
  `,
  ];

  /** The planner's estimate (null: nothing to draw yet). */
  @property({ attribute: false }) plan: Plan | null = null;
  /** The last run's report; its measurement is the third bar. */
  @property({ attribute: false }) report: EngineRunReport | null = null;
  /** This page's adapter: its maxBufferSize is the dashed line. */
  @property({ attribute: false }) adapter: AdapterSummary | null = null;
  /** The framework the detailed estimate predicts (the planner's "predict for"). */
  @property() framework = '';
  /** The plan is from an earlier, valid form state. */
  @property({ type: Boolean, reflect: true }) stale = false;

  override render() {
    const p = this.plan;
    if (!p) return nothing;
    const bars = this.bars(p);
    const longest = Math.max(1, ...bars.map((b) => Math.max(b.bytes, segTotal(b))));
    const maxBuffer = this.adapter?.limits['maxBufferSize'];
    const capacities: Capacity[] = [
      ...nearestGpus(longest),
      ...(maxBuffer ? [{ label: `this adapter's maxBufferSize ${formatSize(maxBuffer)}`, bytes: maxBuffer, kind: 'buffer' as const }] : []),
    ];
    const onScale = capacities.filter((c) => c.bytes <= longest * MAX_STRETCH);
    const offScale = capacities.filter((c) => c.bytes > longest * MAX_STRETCH);
    const { ticks } = yTicks(Math.max(longest, ...onScale.map((c) => c.bytes)));
    const xMax = ticks[ticks.length - 1]!;
    const x = (bytes: number) => M.left + (bytes / xMax) * PW;

    const top = onScale.length * LABEL_ROW + 6;
    const barsBottom = top + bars.length * ROW_H;
    const H = barsBottom + M.bottom;
    const shown = new Set(bars.flatMap((b) => b.segments.map((s) => s.key)));

    return html`
      <h2>Peak memory, three ways</h2>
      <svg part="svg" viewBox="0 0 ${W} ${H}" role="img" aria-label=${this.summary(bars, capacities)} data-testid="plan-bars">
        ${ticks.map(
          (t, i) => svg`<line class="grid" x1=${x(t)} x2=${x(t)} y1=${top} y2=${barsBottom}></line>
            <text class="muted" x=${x(t)} y=${barsBottom + 14} text-anchor=${i === 0 ? 'start' : i === ticks.length - 1 ? 'end' : 'middle'}>${
              t === 0 ? '0' : formatBytes(t)
            }</text>`,
        )}
        ${bars.map((b, i) => this.renderBar(b, top + i * ROW_H, x))}
        ${onScale.map((c, i) => {
          const cx = x(c.bytes);
          const ly = (i + 1) * LABEL_ROW - 2;
          const anchor = cx > W / 2 ? 'end' : 'start';
          return svg`<g data-testid=${c.kind === 'gpu' ? 'capacity-gpu' : 'capacity-buffer'} data-bytes=${c.bytes}>
            <line class=${c.kind} x1=${cx} x2=${cx} y1=${ly + 3} y2=${barsBottom}></line>
            <text class=${c.kind === 'buffer' ? 'halo buffer-label' : 'halo'} x=${anchor === 'end' ? cx - 3 : cx + 3} y=${ly} text-anchor=${anchor}>${
              c.kind === 'gpu' ? `${c.label} (${formatSize(c.bytes)})` : c.label
            }</text>
          </g>`;
        })}
      </svg>
      <ul part="legend" data-testid="plan-bars-legend">
        ${[...shown].map(
          (k) => html`<li><span class="swatch seg-${k}" aria-hidden="true"></span>${k === 'textbookParams' ? 'params × 16 B (textbook)' : CATEGORY_LABELS[k]}</li>`,
        )}
        ${capacities.some((c) => c.kind === 'gpu') ? html`<li><span class="swatch line" aria-hidden="true"></span>GPU memory (catalog, usable)</li>` : nothing}
        ${maxBuffer
          ? html`<li><span class="swatch line dashed" aria-hidden="true"></span>this adapter's largest single buffer (not its memory)</li>`
          : nothing}
      </ul>
      ${offScale.length > 0
        ? html`<p data-testid="plan-bars-offscale">
            Off the scale, to the right: ${offScale.map((c) => `${c.kind === 'gpu' ? c.label : "this adapter's maxBufferSize"} at ${formatSize(c.bytes)}`).join('; ')}.
          </p>`
        : nothing}
      ${this.report
        ? html`<p>The measured bar is the last run (framework vramlab, ${this.report.config.model} model); the detailed bar follows the form.</p>`
        : nothing}
    `;
  }

  private bars(p: Plan): Bar[] {
    // The textbook total is params × 16 B plus its activations term; the activations are the rest.
    const paramBytes = p.params * 16;
    const bars: Bar[] = [
      {
        id: 'textbook',
        label: 'textbook: params × 4 B × (1+1+2) + activations (Korthikanti et al. 2022)',
        bytes: p.textbook.bytes,
        segments: [
          { key: 'textbookParams', label: 'params × 16 B', bytes: paramBytes },
          { key: 'activations', label: CATEGORY_LABELS.activations, bytes: Math.max(0, p.textbook.bytes - paramBytes) },
        ].filter((s) => s.bytes > 0) as Bar['segments'],
      },
      {
        id: 'detailed',
        label: `detailed: per-tensor model (framework ${this.framework || 'as planned'}), alive at the peak`,
        bytes: p.peak.bytes,
        segments: segmentsOf(p.peak.alive),
      },
    ];
    if (this.report) {
      const alive = this.report.actual.aliveAtPeak;
      bars.push({ id: 'measured', label: 'measured: the ledger, alive at the peak (last run)', bytes: sum(alive), segments: segmentsOf(alive) });
    }
    return bars;
  }

  private renderBar(b: Bar, y: number, x: (bytes: number) => number) {
    let at = 0;
    const end = x(segTotal(b));
    return svg`<g data-testid=${`bar-${b.id}`} data-bytes=${b.bytes}>
      <text class="halo" x=${M.left} y=${y + 14}>${b.label}</text>
      ${b.segments.map((s) => {
        const x0 = x(at);
        at += s.bytes;
        return svg`<rect class="seg seg-${s.key}" x=${x0} y=${y + 20} width=${Math.max(0, x(at) - x0)} height=${BAR_H}><title>${s.label}: ${formatBytes(s.bytes)}</title></rect>`;
      })}
      <text x=${end + 4} y=${y + 20 + BAR_H / 2 + 4}>${formatSize(b.bytes)}</text>
    </g>`;
  }

  private summary(bars: Bar[], capacities: Capacity[]): string {
    const parts = bars.map((b) => `${b.id} ${formatSize(b.bytes)}`);
    const gpus = capacities.filter((c) => c.kind === 'gpu').map((c) => `${c.label} ${formatSize(c.bytes)}`);
    const buffer = capacities.find((c) => c.kind === 'buffer');
    return `Peak memory three ways: ${parts.join(', ')}. GPUs of nearby sizes: ${gpus.join(', ')}.${
      buffer ? ` This adapter's largest single buffer (maxBufferSize): ${formatSize(buffer.bytes)}.` : ''
    }`;
  }
}

const segTotal = (b: Bar): number => b.segments.reduce((s, x) => s + x.bytes, 0);

/** `.seg-<key>` fill and swatch rules from the palette's custom properties. */
function colourRules() {
  const rules = PLAN_CATEGORIES.map((c) => {
    if (!/^[A-Za-z][A-Za-z0-9]*$/.test(c)) throw new Error(`not an identifier: ${c}`);
    return `.seg-${c} { fill: var(--vl-cat-${c}); background: var(--vl-cat-${c}); }`;
  });
  rules.push('.seg-textbookParams { fill: var(--vl-bars-textbook); background: var(--vl-bars-textbook); }');
  return unsafeCSS(rules.join('\n'));
}

declare global {
  interface HTMLElementTagNameMap {
    'vl-plan-bars': VlPlanBars;
  }
}
