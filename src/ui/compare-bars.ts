import { LitElement, css, html, nothing, svg } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { styleMap } from 'lit/directives/style-map.js';
import { CATEGORY_LABELS, PLAN_CATEGORIES, type CategoryBytes, type PlanCategory } from '../protocol/plan.ts';
import { categoryPalette, legendStyles } from './chart-styles.ts';
import { ResizeController } from './resize-controller.ts';
import { formatBytes } from './format.ts';
import { yTicks } from './timeline-chart.ts';

/** One bar: what was alive at a run's measured peak, by category, and estimates of the same configuration. */
export interface CompareRow {
  id: string;
  label: string;
  /** Measured bytes alive at the peak, by category (they add up to the measured peak). */
  bytes: CategoryBytes;
  /** Estimated peaks of the same configuration, drawn as ticks on the bar: "vramlab", "PyTorch". */
  marks?: { label: string; bytes: number }[];
}

const total = (b: CategoryBytes) => PLAN_CATEGORIES.reduce((a, c) => a + b[c], 0);
const ROW_H = 30;
const BAR_H = 18;
const TOP = 8;
const AXIS_H = 22;
const FONT = 12;

/**
 * Horizontal stacked bars, one per run: the bytes alive at its measured peak by category,
 * with the estimates of the same configuration as ticks. The category a lesson is about can be
 * emphasised (the others are dimmed). Drawn in real pixels at the element's width, so the text
 * stays 12 px on a phone; labels above each bar, values after it.
 *
 * @csspart svg - the chart
 * @csspart legend - the legend
 */
@customElement('vl-compare-bars')
export class VlCompareBars extends LitElement {
  static override styles = [
    categoryPalette,
    legendStyles,
    css`
      :host {
        display: block;
        min-width: 0;
      }
      svg {
        display: block;
        overflow: visible;
      }
      text {
        fill: currentColor;
        font-size: ${FONT}px;
        font-family: inherit;
      }
      .axis line {
        stroke: var(--vl-border, #ccc);
      }
      .mark {
        stroke: var(--vl-fg, #111);
        stroke-width: 2;
      }
      .dim {
        opacity: 0.35;
      }
      .mark-legend {
        display: inline-block;
        width: 2px;
        height: 0.9rem;
        background: var(--vl-fg, #111);
      }
    `,
  ];

  @property({ attribute: false }) rows: CompareRow[] = [];
  /** The category drawn at full strength; the others are dimmed. None: all at full strength. */
  @property() emphasis: PlanCategory | '' = '';
  /** The chart's accessible name. */
  @property() label = 'Memory at the peak by category';

  private readonly size = new ResizeController(this);

  /** The drawn chart, for the SVG and PNG exports; null before the first render. */
  get svgElement(): SVGSVGElement | null {
    return this.renderRoot.querySelector('svg');
  }

  override render() {
    if (this.rows.length === 0) return nothing;
    const width = Math.max(240, this.size.width || 640);
    const max = Math.max(1, ...this.rows.map((r) => Math.max(total(r.bytes), ...(r.marks ?? []).map((m) => m.bytes))));
    const { ticks: all, unit } = yTicks(max);
    // The longest bar spans the plot; ticks past it are left out.
    const ticks = all.filter((v) => v <= max);
    const top = max;
    // Room after the longest bar for its value.
    const valueW = 84;
    const plotW = Math.max(80, width - valueW);
    const x = (b: number) => (plotW * b) / top;
    const rowH = ROW_H + FONT + 4;
    const height = TOP + this.rows.length * rowH + AXIS_H;
    const used = PLAN_CATEGORIES.filter((c) => this.rows.some((r) => r.bytes[c] > 0));
    return html`<svg part="svg" width=${width} height=${height} viewBox="0 0 ${width} ${height}" role="img" aria-label=${this.label} data-testid="compare-svg">
        ${this.rows.map((r, i) => {
          const y = TOP + i * rowH;
          let at = 0;
          const t = total(r.bytes);
          return svg`<g data-row=${r.id} data-bytes=${t}>
            <text x="0" y=${y + FONT}>${r.label}</text>
            ${used.map((c) => {
              const w = x(r.bytes[c]);
              const rect = svg`<rect x=${x(at)} y=${y + FONT + 4} width=${Math.max(0, w)} height=${BAR_H} fill=${`var(--vl-cat-${c})`} class=${this.emphasis && this.emphasis !== c ? 'dim' : ''} data-category=${c}><title>${CATEGORY_LABELS[c]}: ${formatBytes(r.bytes[c])}</title></rect>`;
              at += r.bytes[c];
              return rect;
            })}
            ${(r.marks ?? []).map((m) => svg`<line class="mark" x1=${x(m.bytes)} x2=${x(m.bytes)} y1=${y + FONT + 1} y2=${y + FONT + 7 + BAR_H}><title>${m.label} estimate: ${formatBytes(m.bytes)}</title></line>`)}
            <text x=${x(Math.max(t, ...(r.marks ?? []).map((m) => m.bytes))) + 6} y=${y + FONT + 4 + BAR_H - 4}>${formatBytes(t)}</text>
          </g>`;
        })}
        <g class="axis">
          ${ticks.map((v) => svg`<line x1=${x(v)} x2=${x(v)} y1=${height - AXIS_H} y2=${height - AXIS_H + 4}></line><text x=${x(v)} y=${height - 4} text-anchor=${v === 0 ? 'start' : 'middle'}>${v === 0 ? '0' : `${+(v / unit.bytes).toFixed(2)} ${unit.name}`}</text>`)}
        </g>
      </svg>
      <ul part="legend">
        ${used.map((c) => html`<li class=${this.emphasis && this.emphasis !== c ? 'dim' : ''}><span class="swatch" style=${styleMap({ background: `var(--vl-cat-${c})` })}></span>${CATEGORY_LABELS[c]}</li>`)}
        ${this.rows.some((r) => (r.marks ?? []).length > 0) ? html`<li><span class="mark-legend"></span>estimate of the same configuration</li>` : nothing}
      </ul>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'vl-compare-bars': VlCompareBars;
  }
}
