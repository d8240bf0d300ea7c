import { LitElement, html } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { downloadBlob } from './download.ts';
import { buttonRowStyles, buttonStyles } from './export-styles.ts';
import { resultsFileName, resultsToCsv, resultsToJson, type ResultRun } from './results-export.ts';

/**
 * "JSON" and "CSV" buttons that save a lesson's or an experiment's runs (results-export.ts),
 * disabled while there are none.
 *
 * API: `.runs` and `what` (names the file and the JSON: "lesson checkpointing"). It fires no events.
 *
 * @csspart group - the row of buttons
 */
@customElement('vl-results-export')
export class VlResultsExport extends LitElement {
  static override styles = [buttonStyles, buttonRowStyles];

  @property({ attribute: false }) runs: readonly ResultRun[] = [];
  @property() what = 'results';

  override render() {
    const none = this.runs.length === 0;
    return html`<div part="group" role="group" aria-label=${`Save the ${this.what} results`}>
      <button type="button" data-testid="results-export-json" aria-label=${`Save the ${this.what} results as JSON`} ?disabled=${none} @click=${this.handleJson}>JSON</button>
      <button type="button" data-testid="results-export-csv" aria-label=${`Save the ${this.what} results as CSV`} ?disabled=${none} @click=${this.handleCsv}>CSV</button>
    </div>`;
  }

  private handleJson(): void {
    const now = new Date();
    downloadBlob(new Blob([resultsToJson(this.what, this.runs, now)], { type: 'application/json' }), resultsFileName(this.what, 'json', now), this.renderRoot);
  }

  private handleCsv(): void {
    downloadBlob(new Blob([resultsToCsv(this.runs)], { type: 'text/csv' }), resultsFileName(this.what, 'csv'), this.renderRoot);
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'vl-results-export': VlResultsExport;
  }
}
