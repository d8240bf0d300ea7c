import { LitElement, css, html, nothing, svg, unsafeCSS } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { legendStyles } from './chart-styles.ts';
import { ResizeController } from './resize-controller.ts';
import { yTicks } from './timeline-chart.ts';

/**
 * What a mark or line stands for; each has a colour from `--vl-scatter-<tone>` (light and dark
 * defaults below). A fixed list, so the class names built from it are known identifiers.
 */
export const SCATTER_TONES = ['measured', 'estimate', 'activations', 'estimateActivations'] as const;
export type ScatterTone = (typeof SCATTER_TONES)[number];

/** Tone colours outside the app (the app's theme sets --vl-scatter-<tone> for light and dark). */
const SCATTER_LIGHT: Record<ScatterTone, string> = { measured: '#d55e00', estimate: '#0072b2', activations: '#009e73', estimateActivations: '#009e73' };

export const SCATTER_SHAPES = ['dot', 'ring', 'square', 'line', 'dashed'] as const;
export type ScatterShape = (typeof SCATTER_SHAPES)[number];

/** One entry of the legend, and the look of the marks or curve that carry its tone. */
export interface ScatterSeries {
  tone: ScatterTone;
  shape: ScatterShape;
  label: string;
}

/** A mark at (x, y bytes). `label` is written beside it; `title` is its tooltip. */
export interface ScatterPoint {
  x: number;
  y: number;
  tone: ScatterTone;
  shape: Exclude<ScatterShape, 'line' | 'dashed'>;
  label?: string;
  title: string;
}

/** A polyline through (x, y bytes) points, in x order. */
export interface ScatterCurve {
  tone: ScatterTone;
  shape: 'line' | 'dashed';
  points: readonly (readonly [number, number])[];
}

/** Geometry in CSS pixels: the SVG is drawn at its container's width (at most MAX_W), so text stays 11 px. */
const MAX_W = 704;
const H = 280;
const M = { left: 70, right: 24, top: 16, bottom: 40 } as const;
const PH = H - M.top - M.bottom;
const R = 5;

/** About four ticks of 1, 2 or 5 × 10^k from 0 (or `lo`) to at least `hi`. */
export function linearTicks(lo: number, hi: number): number[] {
  const span = Math.max(hi - lo, Number.EPSILON);
  const raw = span / 4;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw)!;
  const first = Math.floor(lo / step) * step;
  const ticks: number[] = [];
  for (let v = first; ; v += step) {
    ticks.push(Number(v.toPrecision(12)));
    if (v >= hi) break;
  }
  return ticks;
}

/**
 * Bytes (y) against a linear x: labelled marks (filled dots for measurements, rings for
 * estimates) and curves (an estimate over a fine range of x). The y axis starts at 0 so heights
 * compare; x starts at 0 unless `xFromData` (a sweep over 64…1024 would waste the left half).
 * Colours come from `--vl-scatter-<tone>`.
 *
 * @csspart svg - the chart
 * @csspart legend - the legend under the chart
 */
@customElement('vl-scatter-chart')
export class VlScatterChart extends LitElement {
  static override styles = [
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
    text.mark-label {
      fill: var(--vl-chart-line);
    }
    .grid {
      stroke: var(--vl-chart-grid);
      stroke-width: 1;
    }
    .axis {
      stroke: var(--vl-chart-text);
      stroke-width: 1;
    }
    .curve {
      fill: none;
      stroke-width: 2;
    }
    .curve.dashed {
      stroke-dasharray: 6 4;
    }
    .mark.ring {
      fill: none;
      stroke-width: 2;
    }
    .mark.dot,
    .mark.square {
      stroke: none;
    }
    ${toneRules()}
    .swatch {
      width: 0.7rem;
      height: 0.7rem;
      border-radius: 0;
    }
    .swatch.dot {
      border-radius: 50%;
    }
    /* Width and style only: the colour comes from .swatch-<tone>'s border-color. */
    .swatch.ring {
      border-radius: 50%;
      background: none !important;
      border-width: 2px;
      border-style: solid;
      width: 0.5rem;
      height: 0.5rem;
    }
    .swatch.line,
    .swatch.dashed {
      height: 0;
      width: 1.2rem;
      background: none !important;
      border-top-width: 2px;
      border-top-style: solid;
    }
    .swatch.dashed {
      border-top-style: dashed;
    }
  `,
  ];

  @property({ attribute: false }) series: readonly ScatterSeries[] = [];
  @property({ attribute: false }) points: readonly ScatterPoint[] = [];
  @property({ attribute: false }) curves: readonly ScatterCurve[] = [];
  /** The x axis title, with its unit, e.g. "step time (ms)". */
  @property() xLabel = '';
  /** How x tick values are written. */
  @property({ attribute: false }) formatX: (x: number) => string = (x) => String(x);
  /** Start the x axis at the smallest x instead of 0. */
  @property({ type: Boolean }) xFromData = false;
  /** The chart's accessible name: what it shows, in a sentence. */
  @property() label = '';

  private readonly size = new ResizeController(this);

  /** The drawn chart, for the SVG and PNG exports; null before the first render. */
  get svgElement(): SVGSVGElement | null {
    return this.renderRoot.querySelector('svg');
  }

  override render() {
    const W = Math.min(MAX_W, Math.max(280, this.size.width || 640));
    const PW = W - M.left - M.right;
    const xs = [...this.points.map((p) => p.x), ...this.curves.flatMap((c) => c.points.map((p) => p[0]))];
    const ys = [...this.points.map((p) => p.y), ...this.curves.flatMap((c) => c.points.map((p) => p[1]))];
    if (xs.length === 0) return nothing;
    const { ticks: yt, unit } = yTicks(Math.max(1, ...ys));
    const yMax = yt[yt.length - 1]!;
    const xLo = this.xFromData ? Math.min(...xs) : 0;
    const xHiRaw = Math.max(...xs);
    const xt = linearTicks(xLo, xHiRaw > xLo ? xHiRaw : xLo + 1);
    const x0 = xt[0]!;
    const x1 = xt[xt.length - 1]!;
    const x = (v: number) => M.left + ((v - x0) / (x1 - x0 || 1)) * PW;
    const y = (b: number) => M.top + PH - (b / yMax) * PH;

    return html`
      <svg part="svg" width=${W} height=${H} viewBox="0 0 ${W} ${H}" role="img" aria-label=${this.label}>
        ${yt.map(
          (t) => svg`<line class="grid" x1=${M.left} x2=${M.left + PW} y1=${y(t)} y2=${y(t)}></line>
            <text x=${M.left - 6} y=${y(t) + 4} text-anchor="end">${t === 0 ? '0' : `${Number((t / unit.bytes).toFixed(2))} ${unit.name}`}</text>`,
        )}
        ${xt.map(
          (t) => svg`<line class="axis" x1=${x(t)} x2=${x(t)} y1=${M.top + PH} y2=${M.top + PH + 4}></line>
            <text x=${x(t)} y=${M.top + PH + 16} text-anchor="middle">${this.formatX(t)}</text>`,
        )}
        <line class="axis" x1=${M.left} x2=${M.left + PW} y1=${M.top + PH} y2=${M.top + PH}></line>
        <text x=${M.left + PW / 2} y=${H - 4} text-anchor="middle">${this.xLabel}</text>
        ${this.curves.map(
          (c) =>
            svg`<polyline class="curve ${c.shape} stroke-${c.tone}" points=${c.points.map(([a, b]) => `${x(a).toFixed(2)},${y(b).toFixed(2)}`).join(' ')}></polyline>`,
        )}
        ${this.marks(x, y, PW)}
      </svg>
      <ul part="legend">
        ${this.series.map((s) => html`<li><span class="swatch ${s.shape} swatch-${s.tone}" aria-hidden="true"></span>${s.label}</li>`)}
      </ul>
    `;
  }

  /**
   * The marks, each label above its mark, or below it when that would overlap a label already
   * placed (two modes with nearly the same step time), leftwards near the right edge. Label
   * widths are estimated from the 11 px font (about 6.2 units a character).
   */
  private marks(x: (v: number) => number, y: (b: number) => number, PW: number) {
    const placed: { x0: number; x1: number; y0: number; y1: number }[] = [];
    const overlaps = (b: (typeof placed)[number]) => placed.some((o) => b.x0 < o.x1 && o.x0 < b.x1 && b.y0 < o.y1 && o.y0 < b.y1);
    return this.points.map((p) => {
      const cx = x(p.x);
      const cy = y(p.y);
      const title = svg`<title>${p.title}</title>`;
      const shape =
        p.shape === 'square'
          ? svg`<rect class="mark square fill-${p.tone}" x=${cx - R + 1} y=${cy - R + 1} width=${2 * R - 2} height=${2 * R - 2}>${title}</rect>`
          : svg`<circle class="mark ${p.shape} ${p.shape === 'ring' ? `stroke-${p.tone}` : `fill-${p.tone}`}" cx=${cx} cy=${cy} r=${p.shape === 'ring' ? R + 2 : R}>${title}</circle>`;
      if (!p.label) return shape;
      const right = cx > M.left + 0.75 * PW;
      const width = p.label.length * 6.2;
      const lx = right ? cx - R - 2 : cx + R + 2;
      const x0 = right ? lx - width : lx;
      let ly = cy - R - 4;
      if (overlaps({ x0, x1: x0 + width, y0: ly - 11, y1: ly })) ly = cy + R + 14;
      placed.push({ x0, x1: x0 + width, y0: ly - 11, y1: ly });
      return svg`${shape}<text class="mark-label" x=${lx} y=${ly} text-anchor=${right ? 'end' : 'start'}>${p.label}</text>`;
    });
  }
}

/** `.fill-<tone>`, `.stroke-<tone>`, `.swatch-<tone>` from `--vl-scatter-<tone>`; names from SCATTER_TONES only. */
function toneRules() {
  const rules = SCATTER_TONES.map((t) => {
    if (!/^[A-Za-z][A-Za-z0-9]*$/.test(t)) throw new Error(`not an identifier: ${t}`);
    // The page theme's colour (theme.ts), else the light one.
    const v = `var(--vl-scatter-${t}, ${SCATTER_LIGHT[t]})`;
    return `.fill-${t} { fill: ${v}; } .stroke-${t} { stroke: ${v}; } .swatch-${t} { background: ${v}; border-color: ${v}; }`;
  });
  return unsafeCSS(rules.join('\n'));
}

declare global {
  interface HTMLElementTagNameMap {
    'vl-scatter-chart': VlScatterChart;
  }
}
