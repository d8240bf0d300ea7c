import { LitElement, css, html, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { EstimateError } from '../estimate/index.ts';
import { parseModelConfig } from '../estimate/hf.ts';
import { formatBytes } from './format.ts';

import { MAX_HF_CONFIG_BYTES } from '../protocol/hf-config.ts';

export { MAX_HF_CONFIG_BYTES };
/** How much of `architectures[0]` the name shows: names are short, a hostile one may not be. */
const MAX_NAME_CHARS = 120;

export interface HfConfigChangeDetail {
  /** The parsed config.json, checked by estimate/hf.ts; PlanConfig.hfConfig takes it as is. */
  hfConfig: unknown;
  /** The model class it describes (`architectures[0]`, else `model_type`), as plain text. */
  name: string;
}

/** The name a parsed config.json gives its model, cut to a readable length; '' when none. */
export function hfModelName(json: unknown): string {
  if (typeof json !== 'object' || json === null) return '';
  const { architectures, model_type: modelType } = json as { architectures?: unknown; model_type?: unknown };
  const first: unknown = Array.isArray(architectures) ? architectures[0] : undefined;
  const name = typeof first === 'string' ? first : typeof modelType === 'string' ? modelType : '';
  const chars = [...name];
  return chars.length > MAX_NAME_CHARS ? `${chars.slice(0, MAX_NAME_CHARS).join('')}…` : name;
}

/**
 * Imports a Hugging Face config.json three ways: a file input, a drop zone (files or dropped
 * text) and a textarea for pasting. The text is size-checked, parsed with JSON.parse and
 * checked with the planner's config.json reader; what is wrong is shown as a sentence. Only a
 * config the planner can read is announced. Everything from the file is rendered as text.
 *
 * @fires vl-hf-config-change - detail `{ hfConfig, name }`: a config.json the planner accepts
 * @fires vl-hf-config-clear - the user removed the imported config
 * @csspart zone - the drop zone
 * @csspart error - the message naming what is wrong with the input
 */
@customElement('vl-hf-config')
export class VlHfConfig extends LitElement {
  static override styles = css`
    :host {
      display: block;
      font-size: 0.85rem;
    }
    .zone {
      display: grid;
      gap: 0.4rem;
      border: 1px dashed var(--vl-border, #aaa);
      border-radius: 6px;
      padding: 0.5rem;
    }
    .zone.dragging {
      border-color: var(--vl-accent, #0b57d0);
      border-style: solid;
    }
    textarea {
      font: 0.8rem ui-monospace, monospace;
      min-height: 4.5rem;
      resize: vertical;
      color: inherit;
      background: var(--vl-input-bg, transparent);
      border: 1px solid var(--vl-border, #aaa);
      border-radius: 4px;
    }
    .row {
      display: flex;
      flex-wrap: wrap;
      gap: 0.5rem;
      align-items: center;
    }
    button {
      font: inherit;
    }
    .name {
      margin: 0;
      overflow-wrap: anywhere;
    }
    .name span {
      font-family: ui-monospace, monospace;
      font-weight: 600;
    }
    .error {
      color: var(--vl-error, #b00020);
      font-weight: 600;
      margin: 0;
      overflow-wrap: anywhere;
    }
    .error:empty {
      display: none;
    }
    .hint {
      color: var(--vl-muted, #666);
      margin: 0;
    }
  `;

  /** The name of the config.json in use, or '' when none is imported. */
  @property() loaded = '';

  @state() private text = '';
  @state() private message = '';
  @state() private dragging = false;

  override render() {
    return html`<div
      part="zone"
      class="zone ${this.dragging ? 'dragging' : ''}"
      data-testid="hf-drop-zone"
      @dragenter=${this.handleDragOver}
      @dragover=${this.handleDragOver}
      @dragleave=${this.handleDragLeave}
      @drop=${this.handleDrop}
    >
      <p class="hint">Drop a Hugging Face config.json here, choose the file, or paste its text.</p>
      <div class="row">
        <label for="hf-file">config.json file</label>
        <input id="hf-file" type="file" accept=".json,application/json" data-testid="hf-file" @change=${this.handleFile} />
      </div>
      <label for="hf-text">config.json text</label>
      <textarea
        id="hf-text"
        data-testid="hf-text"
        spellcheck="false"
        placeholder='{"model_type": "llama", "hidden_size": 2048, …}'
        .value=${this.text}
        aria-invalid=${this.message ? 'true' : 'false'}
        aria-describedby="hf-error"
        @input=${this.handleText}
      ></textarea>
      <div class="row">
        <button type="button" data-testid="hf-apply" ?disabled=${this.text.trim() === ''} @click=${this.handleApply}>Use pasted config</button>
        ${this.loaded ? html`<button type="button" data-testid="hf-clear" @click=${this.handleClear}>Remove config.json</button>` : nothing}
      </div>
      ${this.loaded
        ? html`<p class="name" data-testid="hf-name">Imported model: <span>${this.loaded}</span></p>`
        : nothing}
      <p part="error" class="error" id="hf-error" role="alert" data-testid="hf-error">${this.message}</p>
    </div>`;
  }

  private handleText(e: Event): void {
    this.text = (e.target as HTMLTextAreaElement).value;
  }

  private handleApply(): void {
    this.accept(this.text, 'The pasted text');
  }

  private async handleFile(e: Event): Promise<void> {
    const input = e.target as HTMLInputElement;
    const file = input.files?.[0];
    // Cleared, so choosing the same file again (after editing it) fires change again.
    input.value = '';
    if (file) await this.readFile(file);
  }

  private handleDragOver(e: DragEvent): void {
    // Without preventDefault the browser would open the dropped file instead of handing it over.
    e.preventDefault();
    if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy';
    this.dragging = true;
  }

  private handleDragLeave(): void {
    this.dragging = false;
  }

  private async handleDrop(e: DragEvent): Promise<void> {
    e.preventDefault();
    this.dragging = false;
    const file = e.dataTransfer?.files[0];
    if (file) {
      await this.readFile(file);
      return;
    }
    const text = e.dataTransfer?.getData('text/plain') ?? '';
    if (text) {
      this.text = text.length > MAX_HF_CONFIG_BYTES ? '' : text;
      this.accept(text, 'The dropped text');
    }
  }

  private handleClear(): void {
    this.message = '';
    this.dispatchEvent(new CustomEvent('vl-hf-config-clear', { bubbles: true, composed: true }));
  }

  private async readFile(file: File): Promise<void> {
    const what = `The file ${JSON.stringify(file.name)}`;
    if (file.size > MAX_HF_CONFIG_BYTES) {
      this.message = `${what} is ${formatBytes(file.size)}, over the ${formatBytes(MAX_HF_CONFIG_BYTES)} limit: a config.json is a few KB; choose the model's config.json, not its weights.`;
      return;
    }
    let text: string;
    try {
      text = await file.text();
    } catch (err) {
      this.message = `${what} could not be read (${err instanceof Error ? err.message : String(err)}); choose it again.`;
      return;
    }
    this.text = text;
    this.accept(text, what);
  }

  /** Size check, JSON.parse and the planner's reader; announces the config or says what is wrong. */
  private accept(text: string, what: string): void {
    // UTF-16 units never exceed UTF-8 bytes for the same text, so this never refuses a file under the limit.
    if (text.length > MAX_HF_CONFIG_BYTES) {
      this.message = `${what} is over the ${formatBytes(MAX_HF_CONFIG_BYTES)} limit: a config.json is a few KB.`;
      return;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      // SyntaxError names the position (and V8 quotes the text near it), shown as text.
      this.message = `${what} is not valid JSON: ${err instanceof Error ? err.message : String(err)}`;
      return;
    }
    try {
      parseModelConfig(json);
    } catch (err) {
      // EstimateError says which field is wrong and what is allowed. Anything else (e.g. a
      // RangeError from absurd nesting) is still this input's fault, not the page's.
      this.message = err instanceof EstimateError ? err.message : `${what} could not be read as a config.json: ${String(err)}`;
      return;
    }
    this.message = '';
    const detail: HfConfigChangeDetail = { hfConfig: json, name: hfModelName(json) || 'config.json' };
    this.dispatchEvent(new CustomEvent<HfConfigChangeDetail>('vl-hf-config-change', { detail, bubbles: true, composed: true }));
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'vl-hf-config': VlHfConfig;
  }
  interface HTMLElementEventMap {
    'vl-hf-config-change': CustomEvent<HfConfigChangeDetail>;
    'vl-hf-config-clear': CustomEvent<void>;
  }
}
