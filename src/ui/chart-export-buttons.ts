import { LitElement, css, html } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { exportPng, exportSvg } from './chart-export.ts';
import { buttonRowStyles, buttonStyles } from './export-styles.ts';

/**
 * "SVG" and "PNG" buttons that save a chart (chart-export.ts). The chart is found when a
 * button is pressed, through `target`, so the buttons work for a chart that re-renders.
 *
 * API: `.target=${() => svgElement}` and `name` (the file name without extension). It fires no events.
 *
 * @csspart group - the row of buttons
 */
@customElement('vl-chart-export')
export class VlChartExport extends LitElement {
  static override styles = [
    buttonStyles,
    buttonRowStyles,
    css`
      .error {
        color: var(--vl-error, #b00020);
        font-size: 0.85rem;
      }
    `,
  ];

  /** Returns the chart to save, or null while there is none. */
  @property({ attribute: false }) target: () => SVGSVGElement | null = () => null;
  /** File name without extension. */
  @property() name = 'vramlab-chart';
  /** What the chart is, for the buttons' accessible names ("Save <what> as SVG"). */
  @property() what = 'chart';

  @state() private error = '';

  override render() {
    return html`<div part="group" role="group" aria-label=${`Save the ${this.what}`}>
      <button type="button" data-testid="chart-export-svg" aria-label=${`Save the ${this.what} as SVG`} @click=${this.handleSvg}>SVG</button>
      <button type="button" data-testid="chart-export-png" aria-label=${`Save the ${this.what} as PNG`} @click=${this.handlePng}>PNG</button>
      ${this.error ? html`<span class="error" role="alert">${this.error}</span>` : ''}
    </div>`;
  }

  private chart(): SVGSVGElement | null {
    const svg = this.target();
    this.error = svg ? '' : 'There is no chart to save yet.';
    return svg;
  }

  private handleSvg(): void {
    const svg = this.chart();
    if (svg) exportSvg(svg, this.name);
  }

  private async handlePng(): Promise<void> {
    const svg = this.chart();
    if (!svg) return;
    try {
      await exportPng(svg, this.name);
    } catch (e) {
      this.error = e instanceof Error ? e.message : String(e);
    }
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'vl-chart-export': VlChartExport;
  }
}
