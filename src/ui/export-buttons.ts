import { LitElement, css, html } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { downloadBlob } from './download.ts';
import { exportFileName, type ExportableReport, reportToJson, reportToTrace, traceToJson } from './export.ts';
import { memorySnapshotPickle } from '../protocol/memory-snapshot.ts';

/**
 * Three buttons that save a run report: "Export JSON" (the report under a `vramlab` version and
 * schema header, see export.ts reportToJson), "Export trace (Perfetto)" (the last step as a
 * Chrome trace: memory counters per category and phase slices, see reportToTrace) and "Export
 * snapshot (memory_viz)" (the last step as a PyTorch memory snapshot pickle for
 * pytorch.org/memory_viz, see protocol/memory-snapshot.ts). Files are named
 * `vramlab-run-<model>-<UTC time>.json` / `.trace.json` / `.pickle`. All are disabled, with a
 * description saying why, until `report` is set. The file is made in the page (Blob + object
 * URL + a temporary `<a download>`): nothing is sent anywhere.
 *
 * API: set the `report` property (a RunReport or GptRunReport, or null for none). It fires no events.
 *
 * @csspart buttons - the row holding both buttons
 * @csspart json - the "Export JSON" button
 * @csspart trace - the "Export trace (Perfetto)" button
 * @csspart snapshot - the "Export snapshot (memory_viz)" button
 */
@customElement('vl-export-buttons')
export class VlExportButtons extends LitElement {
  static override styles = css`
    :host {
      display: block;
    }
    div {
      display: flex;
      flex-wrap: wrap;
      align-items: center;
      gap: 0.5rem;
    }
    button {
      font: inherit;
      padding: 0.3rem 1rem;
      border-radius: 4px;
      border: 1px solid var(--vl-accent, #0b57d0);
      background: transparent;
      color: var(--vl-accent, #0b57d0);
      cursor: pointer;
    }
    button:disabled {
      opacity: 0.5;
      cursor: not-allowed;
    }
    button:focus-visible {
      outline: 2px solid var(--vl-accent, #0b57d0);
      outline-offset: 1px;
    }
    .muted {
      color: var(--vl-muted, #666);
      font-size: 0.85rem;
    }
  `;

  /** The report to export; both buttons are disabled while it is null. */
  @property({ attribute: false }) report: ExportableReport | null = null;

  override render() {
    const none = this.report === null;
    return html`<div part="buttons" role="group" aria-label="Export the run">
      <button
        part="json"
        type="button"
        data-testid="export-json"
        ?disabled=${none}
        aria-describedby=${none ? 'export-why' : 'export-json-what'}
        @click=${this.handleExportJson}
      >
        Export JSON
      </button>
      <button
        part="trace"
        type="button"
        data-testid="export-trace"
        ?disabled=${none}
        aria-describedby=${none ? 'export-why' : 'export-trace-what'}
        @click=${this.handleExportTrace}
      >
        Export trace (Perfetto)
      </button>
      <button
        part="snapshot"
        type="button"
        data-testid="export-snapshot"
        ?disabled=${none}
        aria-describedby=${none ? 'export-why' : 'export-snapshot-what'}
        @click=${this.handleExportSnapshot}
      >
        Export snapshot (memory_viz)
      </button>
      ${none
        ? html`<span class="muted" id="export-why" data-testid="export-why">Run first; then the report can be saved.</span>`
        : html`<span hidden id="export-json-what">Saves the whole report as a JSON file.</span
            ><span hidden id="export-trace-what">Saves the last step as a trace file for ui.perfetto.dev or chrome://tracing.</span
            ><span hidden id="export-snapshot-what">Saves the last step as a PyTorch memory snapshot (.pickle) for pytorch.org/memory_viz.</span>`}
    </div>`;
  }

  private handleExportJson(): void {
    if (!this.report) return;
    const now = new Date();
    this.download(reportToJson(this.report, now), exportFileName(this.report, 'json', now));
  }

  private handleExportTrace(): void {
    if (!this.report) return;
    this.download(traceToJson(reportToTrace(this.report)), exportFileName(this.report, 'trace'));
  }

  private handleExportSnapshot(): void {
    if (!this.report) return;
    const bytes = memorySnapshotPickle(this.report);
    const name = exportFileName(this.report, 'json').replace(/\.json$/, '.pickle');
    downloadBlob(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }), name, this.renderRoot);
  }

  private download(text: string, fileName: string): void {
    downloadBlob(new Blob([text], { type: 'application/json' }), fileName, this.renderRoot);
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'vl-export-buttons': VlExportButtons;
  }
}
