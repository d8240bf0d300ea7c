import { LitElement, css, html, nothing } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { ENGINE_ERRORS, NO_WEBGPU_MESSAGE, type AdapterSummary, type DeviceErrorReport } from '../protocol/engine-api.ts';
import type { EngineFailure, EngineStatus } from './engine-controller.ts';
import { formatBytes, formatInteger } from './format.ts';

/** The limits that bound what the engine can allocate and dispatch; `bytes` ones get a size too. */
const KEY_LIMITS = [
  { name: 'maxBufferSize', bytes: true },
  { name: 'maxStorageBufferBindingSize', bytes: true },
  { name: 'maxComputeWorkgroupStorageSize', bytes: true },
  { name: 'maxComputeInvocationsPerWorkgroup', bytes: false },
  { name: 'maxStorageBuffersPerShaderStage', bytes: false },
] as const;
/** The first few limits are shown; the rest, and the features, fold away. */
const SHOWN_LIMITS = 2;

/**
 * The WebGPU adapter the engine found, compact: name, a fallback (software) badge, vendor,
 * architecture and the two limits that bound a buffer; the other limits and the features
 * fold into a <details>.
 *
 * @csspart card - the outer box
 * @csspart limits - the key limits list
 * @csspart features - the feature list
 */
@customElement('vl-adapter-card')
export class VlAdapterCard extends LitElement {
  static override styles = css`
    :host {
      display: block;
    }
    section {
      border: 1px solid var(--vl-border, #ccc);
      border-radius: 8px;
      padding: 0.6rem 0.85rem;
      min-width: 0;
      background: var(--vl-surface, transparent);
    }
    h2 {
      font-size: 1rem;
      margin: 0 0 0.5rem;
    }
    .name {
      font-weight: 600;
      overflow-wrap: anywhere;
      margin: 0;
      display: flex;
      flex-wrap: wrap;
      gap: 0.25rem 0.5rem;
      align-items: baseline;
    }
    .badge {
      display: inline-block;
      font-size: 0.75rem;
      padding: 0 0.4rem;
      border-radius: 4px;
      background: var(--vl-warn-bg, #fff3cd);
      color: var(--vl-warn-fg, #664d03);
    }
    dl {
      display: grid;
      grid-template-columns: max-content 1fr;
      gap: 0.15rem 0.75rem;
      margin: 0.5rem 0;
      font-size: 0.85rem;
    }
    dt {
      color: var(--vl-muted, #666);
    }
    dd {
      margin: 0;
      font-variant-numeric: tabular-nums;
      min-width: 0;
      overflow-wrap: anywhere;
    }
    /* Limit names are long (maxComputeInvocationsPerWorkgroup): name above value. */
    dl.limits {
      grid-template-columns: minmax(0, 1fr);
      gap: 0;
    }
    dl.limits dt {
      font-family: ui-monospace, monospace;
      font-size: 0.75rem;
      overflow-wrap: anywhere;
    }
    dl.limits dd {
      margin-bottom: 0.3rem;
    }
    ul.features {
      display: flex;
      flex-wrap: wrap;
      gap: 0.25rem;
      list-style: none;
      padding: 0;
      margin: 0.25rem 0 0;
    }
    ul.features li {
      font-size: 0.75rem;
      overflow-wrap: anywhere;
      min-width: 0;
      font-family: ui-monospace, monospace;
      padding: 0 0.35rem;
      border: 1px solid var(--vl-border, #ccc);
      border-radius: 4px;
    }
    .error,
    .device-errors {
      color: var(--vl-error, #b00020);
    }
    details summary {
      cursor: pointer;
      font-size: 0.85rem;
    }
  `;

  @property() status: EngineStatus = 'connecting';
  @property({ attribute: false }) adapter: AdapterSummary | null = null;
  @property({ attribute: false }) error: EngineFailure | null = null;
  @property({ attribute: false }) deviceErrors: DeviceErrorReport[] = [];

  override render() {
    return html`<section part="card" data-testid="adapter-card" aria-busy=${this.status === 'connecting' ? 'true' : 'false'}>
      <h2>WebGPU adapter</h2>
      ${this.renderBody()} ${this.renderDeviceErrors()}
    </section>`;
  }

  private renderBody() {
    switch (this.status) {
      case 'connecting':
        return html`<p data-testid="adapter-loading">Looking for a WebGPU adapter…</p>`;
      case 'error':
        return html`<p class="error" role="alert" data-testid="adapter-error">${this.errorSentence()}</p>`;
      case 'ready':
        return this.adapter ? this.renderAdapter(this.adapter) : nothing;
    }
  }

  private errorSentence(): string {
    if (this.error?.name === ENGINE_ERRORS.NoWebGPU) return NO_WEBGPU_MESSAGE;
    return this.error?.message ?? 'The engine failed for an unknown reason; reload the page';
  }

  private renderAdapter(a: AdapterSummary) {
    const name = a.description || [a.vendor, a.architecture].filter(Boolean).join(' ') || 'Unnamed adapter';
    const limit = ({ name: key, bytes }: (typeof KEY_LIMITS)[number]) => {
      const v = a.limits[key];
      return html`<dt>${key}</dt>
        <dd data-testid=${`limit-${key}`} data-value=${v ?? ''}>
          ${v === undefined ? '—' : bytes ? `${formatBytes(v)} (${formatInteger(v)})` : formatInteger(v)}
        </dd>`;
    };
    return html`
      <p class="name">
        <span data-testid="adapter-name">${name}</span>
        ${a.isFallbackAdapter
          ? html`<span class="badge" data-testid="adapter-fallback" title="A software or limited adapter: correct results, slow timings">fallback adapter</span>`
          : nothing}
      </p>
      <dl>
        <dt>vendor</dt>
        <dd data-testid="adapter-vendor">${a.vendor || '—'}</dd>
        <dt>architecture</dt>
        <dd data-testid="adapter-architecture">${a.architecture || '—'}</dd>
      </dl>
      <dl part="limits" class="limits" data-testid="adapter-limits">
        ${KEY_LIMITS.slice(0, SHOWN_LIMITS).map(limit)}
      </dl>
      <details data-testid="adapter-more">
        <summary>More limits and ${a.features.length} features</summary>
        <dl class="limits">
          <dt>device</dt>
          <dd>${a.device || '—'}</dd>
          ${KEY_LIMITS.slice(SHOWN_LIMITS).map(limit)}
        </dl>
        <ul part="features" class="features" data-testid="adapter-features">
          ${a.features.map((f) => html`<li>${f}</li>`)}
        </ul>
      </details>
    `;
  }

  private renderDeviceErrors() {
    if (this.deviceErrors.length === 0) return nothing;
    return html`<div class="device-errors" role="alert" data-testid="device-errors">
      <h3>Device errors</h3>
      <ul>
        ${this.deviceErrors.map(
          (r) => html`<li>
            ${r.message}
            <details>
              <summary>detail</summary>
              <pre>${r.detail}</pre>
            </details>
          </li>`,
        )}
      </ul>
    </div>`;
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'vl-adapter-card': VlAdapterCard;
  }
}
