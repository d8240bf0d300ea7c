import { LitElement, css, html, nothing, svg, unsafeCSS } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { GPU_CATALOG, type ChosenGpu } from '../estimate/gpus.ts';
import type { AdapterSummary } from '../protocol/engine-api.ts';
import { CATEGORY_LABELS, PLAN_CATEGORIES, type CategoryBytes, type Plan, type PlanCategory } from '../protocol/plan.ts';
import { formatSize } from './format.ts';
import { yTicks } from './timeline-chart.ts';
import { categoryPalette, legendStyles } from './chart-styles.ts';
import { placeLabels, thinTicks } from './label-layout.ts';
import { ResizeController } from './resize-controller.ts';

const GiB = 2 ** 30;

/** One coloured piece of a bar: a plan category, the textbook's params × 16 B, or the overheads outside the peak. */
type SegmentKey = PlanCategory | 'textbookParams' | 'overhead';

interface Bar {
  id: 'textbook' | 'detailed' | 'pinned';
  /** What the bar is, drawn above it: the long form where it fits, else the short one. */
  label: string;
  short: string;
  /** The bar's peak as its source states it (data-bytes); overheads come on top. */
  bytes: number;
  segments: { key: SegmentKey; label: string; bytes: number }[];
  ghost: boolean;
}

/** A vertical line across the bars. */
interface Capacity {
  key: string;
  label: string;
  bytes: number;
  kind: 'chosen' | 'gpu' | 'buffer';
}

/** Another catalog size is drawn only up to this many times the chart's own reach. */
const MAX_STRETCH = 3;
/** Chart text in CSS px: the viewBox is the box's own size, so this is what a reader sees. */
const FONT_PX = 12;
const FONT = `${FONT_PX}px system-ui, sans-serif`;
const LABEL_ROW = 18;
const MAX_LABEL_ROWS = 3;
const TITLE_H = 18;
const AXIS_H = 26;
/** The whole chart is at least this tall, so the bars read at a glance. */
const MIN_HEIGHT = 300;
const NARROW_WIDTH = 320;

let measureCtx: CanvasRenderingContext2D | null = null;
/** Width of `text` in the chart's font, in px (a canvas measures it without layout). */
function textWidth(text: string): number {
  measureCtx ??= document.createElement('canvas').getContext('2d');
  if (!measureCtx) return text.length * FONT_PX * 0.6;
  measureCtx.font = FONT;
  return measureCtx.measureText(text).width;
}

/** The catalog sizes just below and just above `bytes`, skipping the chosen card's size; cards of one size (to the GiB) merged. */
export function neighbourGpus(bytes: number, chosen: ChosenGpu): Capacity[] {
  const bySize = new Map<number, { names: string[]; bytes: number }>();
  for (const g of GPU_CATALOG) {
    if (g.mig) continue; // the chart's neighbours are whole cards
    const key = Math.round(g.memoryBytes / GiB);
    if (key === Math.round(chosen.memoryBytes / GiB)) continue;
    const entry = bySize.get(key);
    if (entry) entry.names.push(g.name);
    else bySize.set(key, { names: [g.name], bytes: g.memoryBytes });
  }
  const sizes = [...bySize.values()].sort((a, b) => a.bytes - b.bytes);
  const below = sizes.filter((s) => s.bytes < bytes).pop();
  const above = sizes.find((s) => s.bytes >= bytes);
  return [below, above]
    .filter((s) => s !== undefined)
    .map((s) => ({ key: `gpu-${Math.round(s.bytes / GiB)}`, label: `${s.names.join(' / ')}`, bytes: s.bytes, kind: 'gpu' as const }));
}

const alive = (c: CategoryBytes): Bar['segments'] =>
  PLAN_CATEGORIES.filter((k) => c[k] > 0).map((k) => ({ key: k, label: CATEGORY_LABELS[k], bytes: c[k] }));

const overheadOf = (p: Plan): Bar['segments'][number] => ({
  key: 'overhead',
  label: 'CUDA context + allocator',
  bytes: p.overhead.cudaContextBytes + p.overhead.allocatorBytes,
});

/**
 * The headline chart: peak memory as horizontal stacked bars on one byte scale — the
 * textbook rule (params × 16 B, then activations), the detailed per-tensor estimate (what is
 * alive at its peak, by category, then the CUDA context and allocator overhead that the fit
 * check adds) and, when a plan is pinned, that plan's detailed bar as a ghost beside it. The
 * chosen GPU is always a labelled line (the axis stretches to it); the catalog sizes just
 * below and above, and this adapter's maxBufferSize (dashed: a per-buffer limit, not a memory
 * size), are drawn where their labels fit without overlapping. The viewBox is the element's
 * own size (ResizeController), so text stays 12px at every width. Colours come from the
 * theme's `--vl-cat-<category>` and `--vl-bars-*` properties.
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
        min-width: 0;
        --vl-bars-textbook: var(--vl-textbook, #54546b);
        --vl-bars-overhead: var(--vl-overhead, #b7b7c4);
        --vl-bars-gpu: var(--vl-muted, #5f5f6b);
        --vl-bars-chosen: var(--vl-accent, #0b57d0);
        --vl-bars-buffer: var(--vl-error, #b00020);
        --vl-bars-grid: var(--vl-border, #d0d0d7);
      }
      :host([stale]) {
        opacity: 0.5;
      }
      svg {
        display: block;
        width: 100%;
        overflow: visible;
      }
      text {
        fill: var(--vl-fg, #1b1b1f);
        font: ${unsafeCSS(FONT)};
      }
      text.halo {
        paint-order: stroke;
        stroke: var(--vl-bg, #fff);
        stroke-width: 4px;
        stroke-linejoin: round;
      }
      text.muted {
        fill: var(--vl-muted, #5f5f6b);
      }
      text.value {
        font-weight: 650;
      }
      .grid {
        stroke: var(--vl-bars-grid);
      }
      line.gpu {
        stroke: var(--vl-bars-gpu);
        stroke-width: 1.5;
      }
      line.chosen {
        stroke: var(--vl-bars-chosen);
        stroke-width: 3;
      }
      text.chosen {
        fill: var(--vl-bars-chosen);
        font-weight: 650;
      }
      line.buffer {
        stroke: var(--vl-bars-buffer);
        stroke-width: 1.5;
        stroke-dasharray: 5 3;
      }
      text.buffer {
        fill: var(--vl-bars-buffer);
      }
      .seg {
        stroke: var(--vl-bg, #fff);
        stroke-width: 0.5;
      }
      .ghost .seg {
        fill-opacity: 0.18;
        stroke-width: 1.5;
        stroke-dasharray: 4 2;
      }
      @media (prefers-reduced-motion: no-preference) {
        rect.seg {
          transition:
            x 0.25s ease,
            width 0.25s ease;
        }
      }
      ${colourRules()}
      .swatch.line {
        width: 0;
        height: 0.9rem;
        border-left: 2px solid var(--vl-bars-gpu);
        border-radius: 0;
      }
      .swatch.line.chosen {
        border-left: 3px solid var(--vl-bars-chosen);
      }
      .swatch.line.dashed {
        border-left: 2px dashed var(--vl-bars-buffer);
      }
      .swatch.ghost {
        border: 1.5px dashed var(--vl-fg, #1b1b1f);
        background: transparent;
      }
    `,
  ];

  /** The planner's estimate (null: nothing to draw yet). */
  @property({ attribute: false }) plan: Plan | null = null;
  /** A plan pinned for comparison: drawn as a ghost bar beside the current one. */
  @property({ attribute: false }) pinned: Plan | null = null;
  /** What the pinned plan was, in a few words (the ghost bar's title). */
  @property() pinnedLabel = '';
  /** The card the verdict is for: always drawn. */
  @property({ attribute: false }) gpu: ChosenGpu | null = null;
  /** This page's adapter: its maxBufferSize is the dashed line. */
  @property({ attribute: false }) adapter: AdapterSummary | null = null;
  /** The framework the detailed estimate predicts (the planner's "predict for"). */
  @property() framework = '';
  /** The plan is from an earlier, valid form state. */
  @property({ type: Boolean, reflect: true }) stale = false;

  private readonly size = new ResizeController(this);

  /** The drawn chart, for exports. */
  get svgElement(): SVGSVGElement | null {
    return this.renderRoot.querySelector('svg');
  }

  override render() {
    const p = this.plan;
    const W = this.size.width;
    if (!p || W === 0) return html`<svg part="svg" data-testid="plan-bars" role="img" aria-label="Peak memory: no plan yet" height=${MIN_HEIGHT}></svg>`;
    const bars = this.bars(p);
    const reach = Math.max(1, ...bars.map(barTotal));
    const lines = this.capacities(reach);
    const { ticks } = yTicks(Math.max(reach, ...lines.map((c) => c.bytes)));
    const xMax = ticks[ticks.length - 1]!;
    const x = (bytes: number) => (bytes / xMax) * (W - 1);

    const { placed } = placeLabels(
      lines.map((c) => ({ key: c.key, x: x(c.bytes), width: textWidth(lineText(c)), always: c.kind === 'chosen' })),
      W,
      MAX_LABEL_ROWS,
    );
    const shownLines = lines.filter((c) => placed.some((l) => l.key === c.key));
    const rowsUsed = Math.max(1, ...placed.map((l) => l.row + 1));
    const top = rowsUsed * LABEL_ROW + 6;
    const rowH = Math.max(TITLE_H + 30, (MIN_HEIGHT - top - AXIS_H) / bars.length);
    const barH = Math.min(52, rowH - TITLE_H - 14);
    const bottom = top + bars.length * rowH;
    const H = bottom + AXIS_H;
    const shownKeys = new Set(bars.flatMap((b) => b.segments.map((s) => s.key)));

    return html`
      <svg
        part="svg"
        xmlns="http://www.w3.org/2000/svg"
        viewBox="0 0 ${W} ${H}"
        width=${W}
        height=${H}
        role="img"
        aria-label=${this.summary(bars, shownLines)}
        data-testid="plan-bars"
      >
        ${thinTicks(ticks, x, 64).map(
          (t, i, all) => svg`<line class="grid" x1=${x(t)} x2=${x(t)} y1=${top} y2=${bottom}></line>
            <text class="muted" data-testid="plan-bars-tick" x=${x(t)} y=${bottom + 17} text-anchor=${i === 0 ? 'start' : i === all.length - 1 ? 'end' : 'middle'}>${
              t === 0 ? '0' : formatSize(t)
            }</text>`,
        )}
        ${bars.map((b, i) => this.renderBar(b, top + i * rowH, barH, x, W))}
        ${placed.map((l) => {
          const c = lines.find((k) => k.key === l.key)!;
          const cx = x(c.bytes);
          const ly = (l.row + 1) * LABEL_ROW - 4;
          return svg`<g data-testid=${`capacity-${c.kind}`} data-bytes=${c.bytes}>
            <line class=${c.kind} x1=${cx} x2=${cx} y1=${ly + 4} y2=${bottom}></line>
            <text class="halo ${c.kind}" x=${l.textX} y=${ly} text-anchor=${l.anchor}>${lineText(c)}</text>
          </g>`;
        })}
      </svg>
      <ul part="legend" data-testid="plan-bars-legend">
        ${[...shownKeys].map((k) => html`<li><span class="swatch seg-${k}" aria-hidden="true"></span>${segmentName(k)}</li>`)}
        ${this.pinned ? html`<li><span class="swatch ghost" aria-hidden="true"></span>pinned plan</li>` : nothing}
        <li><span class="swatch line chosen" aria-hidden="true"></span>your GPU (usable memory)</li>
        ${shownLines.some((c) => c.kind === 'gpu') ? html`<li><span class="swatch line" aria-hidden="true"></span>other catalog GPUs</li>` : nothing}
        ${shownLines.some((c) => c.kind === 'buffer')
          ? html`<li><span class="swatch line dashed" aria-hidden="true"></span>this adapter's largest single buffer (not its memory)</li>`
          : nothing}
      </ul>
    `;
  }

  private bars(p: Plan): Bar[] {
    // The textbook total is params × 16 B plus its activations term; the activations are the rest.
    const paramBytes = p.params * 16;
    const bars: Bar[] = [
      {
        id: 'textbook',
        label: 'textbook: params × 4 B × (1+1+2) + activations (Korthikanti et al. 2022)',
        short: 'textbook rule',
        bytes: p.textbook.bytes,
        segments: [
          { key: 'textbookParams' as const, label: 'params × 16 B', bytes: paramBytes },
          { key: 'activations' as const, label: CATEGORY_LABELS.activations, bytes: Math.max(0, p.textbook.bytes - paramBytes) },
        ].filter((s) => s.bytes > 0),
        ghost: false,
      },
      {
        id: 'detailed',
        label: `detailed: per-tensor model (framework ${this.framework || 'as planned'}), alive at the peak, + overheads`,
        short: 'detailed estimate + overheads',
        bytes: p.peak.bytes,
        segments: [...alive(p.peak.alive), overheadOf(p)],
        ghost: false,
      },
    ];
    const pin = this.pinned;
    if (pin) {
      bars.push({
        id: 'pinned',
        label: `pinned: ${this.pinnedLabel || 'an earlier plan'}`,
        short: 'pinned plan',
        bytes: pin.peak.bytes,
        segments: [...alive(pin.peak.alive), overheadOf(pin)],
        ghost: true,
      });
    }
    return bars;
  }

  private capacities(reach: number): Capacity[] {
    const gpu = this.gpu;
    const out: Capacity[] = [];
    if (gpu) out.push({ key: 'chosen', label: gpu.name, bytes: gpu.memoryBytes, kind: 'chosen' });
    const span = Math.max(reach, gpu?.memoryBytes ?? 0) * MAX_STRETCH;
    if (gpu) out.push(...neighbourGpus(reach, gpu).filter((c) => c.bytes <= span));
    const maxBuffer = this.adapter?.limits['maxBufferSize'];
    if (maxBuffer && maxBuffer <= span) out.push({ key: 'buffer', label: 'maxBufferSize', bytes: maxBuffer, kind: 'buffer' });
    return out;
  }

  private renderBar(b: Bar, y: number, barH: number, x: (bytes: number) => number, W: number) {
    let at = 0;
    const total = barTotal(b);
    const end = x(total);
    const value = formatSize(total);
    const valueW = textWidth(value);
    const outside = end + 6 + valueW <= W;
    const title = textWidth(b.label) <= W || W > 2 * NARROW_WIDTH ? b.label : b.short;
    return svg`<g data-testid=${`bar-${b.id}`} data-bytes=${b.bytes} data-total=${total} class=${b.ghost ? 'ghost' : ''}>
      <title>${b.label}: ${value}</title>
      <text class="halo ${b.ghost ? 'muted' : ''}" x="0" y=${y + TITLE_H - 5}>${title}</text>
      ${b.segments.map((s) => {
        const x0 = x(at);
        at += s.bytes;
        return svg`<rect class="seg seg-${s.key}" data-key=${s.key} x=${x0} y=${y + TITLE_H} width=${Math.max(0, x(at) - x0)} height=${barH}><title>${s.label}: ${formatSize(s.bytes)}</title></rect>`;
      })}
      <text class="value halo" x=${outside ? end + 6 : end - 6} y=${y + TITLE_H + barH / 2 + 4} text-anchor=${outside ? 'start' : 'end'}>${value}</text>
    </g>`;
  }

  private summary(bars: Bar[], lines: Capacity[]): string {
    const parts = bars.map((b) => `${b.id} ${formatSize(barTotal(b))}`);
    const gpus = lines.filter((c) => c.kind !== 'buffer').map((c) => `${c.label} ${formatSize(c.bytes)}`);
    const buffer = lines.find((c) => c.kind === 'buffer');
    return `Peak memory: ${parts.join(', ')}. GPU lines: ${gpus.join(', ')}.${
      buffer ? ` This adapter's largest single buffer (maxBufferSize): ${formatSize(buffer.bytes)}.` : ''
    }`;
  }
}

const barTotal = (b: Bar): number => b.segments.reduce((s, x) => s + x.bytes, 0);

/** The chosen card with its usable size; other catalog cards by name (it carries the nominal GB); the buffer limit with its size. */
const lineText = (c: Capacity): string => (c.kind === 'gpu' ? c.label : `${c.label} ${formatSize(c.bytes)}`);

function segmentName(k: SegmentKey): string {
  if (k === 'textbookParams') return 'params × 16 B (textbook)';
  if (k === 'overhead') return 'CUDA context + allocator';
  return CATEGORY_LABELS[k];
}

/** `.seg-<key>` fill and swatch rules from the palette's custom properties. */
function colourRules() {
  const rules = PLAN_CATEGORIES.map((c) => {
    if (!/^[A-Za-z][A-Za-z0-9]*$/.test(c)) throw new Error(`not an identifier: ${c}`);
    return `.seg-${c} { fill: var(--vl-cat-${c}); background: var(--vl-cat-${c}); stroke: var(--vl-cat-${c}); }`;
  });
  rules.push('.seg-textbookParams { fill: var(--vl-bars-textbook); background: var(--vl-bars-textbook); }');
  rules.push('.seg-overhead { fill: var(--vl-bars-overhead); background: var(--vl-bars-overhead); }');
  // Solid segments keep the page-coloured hairline between them; ghosts are outlined in their own colour.
  rules.push('g:not(.ghost) > .seg { stroke: var(--vl-bg, #fff); }');
  return unsafeCSS(rules.join('\n'));
}

declare global {
  interface HTMLElementTagNameMap {
    'vl-plan-bars': VlPlanBars;
  }
}
