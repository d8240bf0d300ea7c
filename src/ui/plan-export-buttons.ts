import { LitElement, html } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import type { PlanConfig } from '../protocol/config.ts';
import type { Plan } from '../protocol/plan.ts';
import { downloadBlob } from './download.ts';
import { buttonRowStyles, buttonStyles } from './export-styles.ts';
import { planFileName, planToCsv, planToJson } from './plan-export.ts';

/**
 * "JSON" and "CSV" buttons that save the current plan (plan-export.ts), disabled while there is none.
 *
 * API: `.plan` and `.config`. It fires no events.
 *
 * @csspart group - the row of buttons
 */
@customElement('vl-plan-export')
export class VlPlanExport extends LitElement {
  static override styles = [buttonStyles, buttonRowStyles];

  @property({ attribute: false }) plan: Plan | null = null;
  @property({ attribute: false }) config: PlanConfig | null = null;

  override render() {
    const none = !this.plan || !this.config;
    return html`<div part="group" role="group" aria-label="Save the plan">
      <button type="button" data-testid="plan-export-json" aria-label="Save the plan as JSON" ?disabled=${none} @click=${this.handleJson}>JSON</button>
      <button type="button" data-testid="plan-export-csv" aria-label="Save the plan as CSV" ?disabled=${none} @click=${this.handleCsv}>CSV</button>
    </div>`;
  }

  private handleJson(): void {
    if (!this.plan || !this.config) return;
    const now = new Date();
    downloadBlob(new Blob([planToJson(this.plan, this.config, now)], { type: 'application/json' }), planFileName(this.plan, 'json', now), this.renderRoot);
  }

  private handleCsv(): void {
    if (!this.plan) return;
    downloadBlob(new Blob([planToCsv(this.plan)], { type: 'text/csv' }), planFileName(this.plan, 'csv'), this.renderRoot);
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'vl-plan-export': VlPlanExport;
  }
}
