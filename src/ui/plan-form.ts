import { LitElement, css, html, nothing, type PropertyValues } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import {
  ACTIVATIONS,
  ATTENTIONS,
  CHECKPOINTS,
  ConfigError,
  DEFAULT_PLAN,
  FRAMEWORKS,
  MODES,
  OPTIMIZERS,
  PRECISIONS,
  ZERO_STAGES,
  parsePlanConfig,
  type PlanConfig,
} from '../protocol/config.ts';
import { listModels, type ModelInfo } from '../estimate/index.ts';
import { hfModelName, type HfConfigChangeDetail } from './hf-config-input.ts';
import './hf-config-input.ts';

/** Text fields keyed by the config path they fill; `name` of each control is its key. */
const TEXT_KEYS = [
  'model',
  'mlp.d',
  'mlp.hidden',
  'mlp.layers',
  'mlp.activation',
  'imageSize',
  'mode',
  'batch',
  'microBatch',
  'seq',
  'precision',
  'optimizer',
  'checkpoint',
  'attention',
  'loraRank',
  'zero',
  'gpus',
  'framework',
  'gpuMemoryGiB',
] as const;
type TextKey = (typeof TEXT_KEYS)[number];

/** One sentence per control, shown on hover (title) and under the control while it has focus. */
const HINTS: Record<TextKey | 'qlora', string> = {
  model: 'A preset with the real architecture, the mlp, or an imported config.json.',
  'mlp.d': 'Input and output width of each block.',
  'mlp.hidden': 'Width of the hidden layer inside each block.',
  'mlp.layers': 'Number of blocks; activations grow linearly with it.',
  'mlp.activation': 'GELU keeps its input for backward; ReLU keeps only its output.',
  imageSize: 'Side of the square input image; activations grow with its square.',
  mode: 'Training holds gradients, optimizer states and activations; inference holds weights and the KV cache.',
  batch: 'Samples per GPU per optimizer step.',
  microBatch: 'Samples per forward/backward; smaller than batch means gradient accumulation.',
  seq: 'Tokens per sample (the context held in the KV cache for inference). Eager attention grows with its square.',
  precision: 'amp keeps fp32 weights with 16-bit copies and activations; fp16/bf16 store everything in 16 bits; int8/int4 quantize weights.',
  optimizer: 'Adam keeps two fp32 states per parameter, momentum one, SGD none.',
  checkpoint: 'Recompute activations in backward instead of keeping them: full keeps each layer input, sqrt every √n-th, selective only drops attention scores.',
  attention: 'eager materialises the s² attention scores; fused (FlashAttention-style) keeps only row statistics.',
  loraRank: 'Train low-rank adapters instead of all weights; 0 trains everything.',
  zero: 'ZeRO shards optimizer states (1), then gradients (2), then weights (3) across the GPUs.',
  gpus: 'Data-parallel GPUs; bytes are per GPU.',
  framework: 'pytorch predicts a PyTorch eager run; vramlab predicts this page’s own engine buffer by buffer.',
  gpuMemoryGiB: 'Your card’s memory, added to the fit list.',
  qlora: 'A 4-bit NF4 base model under the LoRA adapters.',
};
const hintId = (key: string) => `hint-${key.replace('.', '-')}`;
const describedBy = (key: string) => `${hintId(key)} config-error`;

/**
 * The form as typed: strings as the controls hold them, so an invalid entry stays on screen
 * (with its message) instead of being replaced by the last valid value.
 */
type Draft = Record<TextKey, string> & { qlora: boolean };

export interface ConfigChangeDetail {
  config: PlanConfig;
}
export interface ConfigInvalidDetail {
  /** Config path of the first bad field, e.g. 'batch' or 'mlp.d'. */
  field: string;
  message: string;
}

const FAMILY_LABELS: Record<ModelInfo['family'], string> = {
  mlp: 'Toy',
  gpt2: 'GPT-2',
  bert: 'BERT',
  llama: 'Llama family',
  resnet: 'ResNet',
};

function draftFrom(c: PlanConfig): Draft {
  return {
    model: c.model,
    'mlp.d': String(c.mlp.d),
    'mlp.hidden': String(c.mlp.hidden),
    'mlp.layers': String(c.mlp.layers),
    'mlp.activation': c.mlp.activation,
    imageSize: String(c.imageSize),
    mode: c.mode,
    batch: String(c.batch),
    microBatch: c.microBatch === undefined ? '' : String(c.microBatch),
    seq: String(c.seq),
    precision: c.precision,
    optimizer: c.optimizer,
    checkpoint: c.checkpoint,
    attention: c.attention,
    loraRank: String(c.loraRank),
    qlora: c.qlora,
    zero: String(c.zero),
    gpus: String(c.gpus),
    framework: c.framework,
    gpuMemoryGiB: c.gpuMemoryGiB === undefined ? '' : String(c.gpuMemoryGiB),
  };
}

/** Labels point at controls by id (not by wrapping) so each control's name is its label alone. */
const fieldId = (key: string): string => `f-${key.replace('.', '-')}`;

/** An empty box is NaN, which the schema reports as "must be a number". */
const num = (s: string): number => (s.trim() === '' ? Number.NaN : Number(s));
const optionalNum = (s: string): number | undefined => (s.trim() === '' ? undefined : Number(s));

/** The untrusted object handed to parsePlanConfig; the schema does all the checking. */
function rawConfig(d: Draft, hfConfig: unknown): unknown {
  return {
    model: d.model,
    mlp: { d: num(d['mlp.d']), hidden: num(d['mlp.hidden']), layers: num(d['mlp.layers']), activation: d['mlp.activation'] },
    hfConfig,
    imageSize: num(d.imageSize),
    mode: d.mode,
    batch: num(d.batch),
    microBatch: optionalNum(d.microBatch),
    seq: num(d.seq),
    precision: d.precision,
    optimizer: d.optimizer,
    checkpoint: d.checkpoint,
    attention: d.attention,
    loraRank: num(d.loraRank),
    qlora: d.qlora,
    zero: num(d.zero),
    gpus: num(d.gpus),
    framework: d.framework,
    gpuMemoryGiB: optionalNum(d.gpuMemoryGiB),
  };
}

/** The model id of an imported config.json (estimate/presets.ts resolves it from hfConfig). */
const HF_MODEL = 'hf';

/**
 * The planner form. Every edit is validated against PlanConfigSchema; a valid config is
 * announced with `vl-config-change`, an invalid one shows its message in an alert. A
 * Hugging Face config.json can be imported (file, drop or paste); it becomes model `hf`.
 *
 * @fires vl-config-change - detail `{ config }`: a validated PlanConfig after any edit
 * @fires vl-config-invalid - detail `{ field, message }`: the edit left the form invalid
 * @csspart form - the form element
 * @csspart error - the validation message
 */
@customElement('vl-plan-form')
export class VlPlanForm extends LitElement {
  static override styles = css`
    :host {
      display: block;
    }
    form {
      display: grid;
      gap: 0.75rem;
    }
    fieldset {
      border: 1px solid var(--vl-border, #ccc);
      border-radius: 8px;
      padding: 0.5rem 0.75rem 0.75rem;
      margin: 0;
      display: grid;
      grid-template-columns: repeat(auto-fill, minmax(9rem, 1fr));
      gap: 0.5rem 0.75rem;
    }
    legend {
      font-weight: 600;
      padding: 0 0.25rem;
    }
    .field {
      display: grid;
      gap: 0.15rem;
      font-size: 0.85rem;
      align-content: start;
    }
    .hint {
      display: none;
      color: var(--vl-muted, #555);
      font-size: 0.78rem;
    }
    .field:focus-within .hint {
      display: block;
    }
    .field.check {
      grid-template-columns: auto 1fr;
      align-items: center;
      align-self: end;
    }
    .field.wide {
      grid-column: 1 / -1;
    }
    input,
    select {
      font: inherit;
      padding: 0.25rem 0.35rem;
      min-width: 0;
      color: inherit;
      background: var(--vl-input-bg, transparent);
      border: 1px solid var(--vl-border, #aaa);
      border-radius: 4px;
    }
    input:focus-visible,
    select:focus-visible {
      outline: 2px solid var(--vl-accent, #0b57d0);
      outline-offset: 1px;
    }
    [aria-invalid='true'] {
      border-color: var(--vl-error, #b00020);
      outline-color: var(--vl-error, #b00020);
    }
    .error {
      color: var(--vl-error, #b00020);
      font-weight: 600;
      margin: 0;
      min-height: 1.2em;
    }
  `;

  /** The config the form starts from; setting it replaces whatever was typed. */
  @property({ attribute: false }) config: PlanConfig = DEFAULT_PLAN;

  @state() private draft: Draft = draftFrom(DEFAULT_PLAN);
  @state() private invalid: ConfigInvalidDetail | null = null;
  /** The imported config.json (already checked by its reader), and its model's name. */
  @state() private hfConfig: unknown = undefined;
  @state() private hfName = '';

  private readonly models: ModelInfo[] = listModels();

  protected override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has('config')) {
      this.draft = draftFrom(this.config);
      this.invalid = null;
      this.hfConfig = this.config.hfConfig;
      this.hfName = this.hfConfig === undefined ? '' : hfModelName(this.hfConfig) || 'config.json';
    }
  }

  override render() {
    const d = this.draft;
    const family = this.models.find((m) => m.id === d.model)?.family;
    return html`
      <p part="error" class="error" id="config-error" role="alert" data-testid="config-error">${this.invalid?.message ?? ''}</p>
      <form part="form" data-testid="plan-form" @input=${this.handleInput} @submit=${this.handleSubmit} novalidate>
        <fieldset>
          <legend>Model</legend>
          <div class="field wide">
            <label for="f-model">model</label>
            <select id="f-model" name="model" data-testid="field-model" .value=${d.model} title=${HINTS.model} aria-describedby=${describedBy('model')}>
              ${this.renderModelOptions(d.model)}
            </select>
            <small class="hint" id=${hintId('model')}>${HINTS.model}</small>
          </div>
          ${d.model === 'mlp'
            ? html`${this.renderNumber('mlp.d', 'width d', 1)} ${this.renderNumber('mlp.hidden', 'hidden', 1)}
              ${this.renderNumber('mlp.layers', 'layers', 1)} ${this.renderSelect('mlp.activation', 'activation', ACTIVATIONS)}`
            : nothing}
          ${family === 'resnet' ? this.renderNumber('imageSize', 'image size (px)', 1) : nothing}
        </fieldset>
        <fieldset>
          <legend>Hugging Face config.json</legend>
          <vl-hf-config
            class="field wide"
            .loaded=${this.hfName}
            @vl-hf-config-change=${this.handleHfConfigChange}
            @vl-hf-config-clear=${this.handleHfConfigClear}
          ></vl-hf-config>
        </fieldset>
        <fieldset>
          <legend>Step</legend>
          ${this.renderSelect('mode', 'mode', MODES)} ${this.renderNumber('batch', 'batch', 1)}
          ${this.renderNumber('microBatch', 'micro-batch', 1, 'same as batch')}
          ${family === 'resnet' ? nothing : this.renderNumber('seq', 'sequence length', 1)}
        </fieldset>
        <fieldset>
          <legend>Precision and memory savers</legend>
          ${this.renderSelect('precision', 'precision', PRECISIONS)} ${this.renderSelect('optimizer', 'optimizer', OPTIMIZERS)}
          ${this.renderSelect('checkpoint', 'checkpointing', CHECKPOINTS)} ${this.renderSelect('attention', 'attention', ATTENTIONS)}
          ${this.renderNumber('loraRank', 'LoRA rank (0 = off)', 0)}
          <div class="field check">
            <input
              type="checkbox"
              id="f-qlora"
              name="qlora"
              data-testid="field-qlora"
              .checked=${d.qlora}
              aria-invalid=${this.isInvalid('qlora')}
              title=${HINTS.qlora}
              aria-describedby=${describedBy('qlora')}
            />
            <label for="f-qlora">QLoRA (4-bit base)</label>
            <small class="hint" id=${hintId('qlora')}>${HINTS.qlora}</small>
          </div>
        </fieldset>
        <fieldset>
          <legend>GPUs</legend>
          ${this.renderSelect('zero', 'ZeRO stage', ZERO_STAGES)} ${this.renderNumber('gpus', 'GPUs', 1)}
          ${this.renderSelect('framework', 'predict for', FRAMEWORKS)}
          ${this.renderNumber('gpuMemoryGiB', 'your GPU (GiB)', 0, 'optional', 'any')}
        </fieldset>
      </form>
    `;
  }

  private renderModelOptions(selected: string) {
    const families = [...new Set(this.models.map((m) => m.family))];
    const imported =
      this.hfConfig === undefined
        ? nothing
        : html`<optgroup label="Imported">
            <option value=${HF_MODEL} ?selected=${selected === HF_MODEL}>config.json: ${this.hfName}</option>
          </optgroup>`;
    return [imported, ...families.map(
      (f) => html`<optgroup label=${FAMILY_LABELS[f]}>
        ${this.models
          .filter((m) => m.family === f)
          .map((m) => html`<option value=${m.id} ?selected=${m.id === selected}>${m.name}</option>`)}
      </optgroup>`,
    )];
  }

  private renderNumber(key: TextKey, label: string, min: number, placeholder = '', step = '1') {
    return html`<div class="field">
      <label for=${fieldId(key)}>${label}</label>
      <input
        id=${fieldId(key)}
        type="number"
        inputmode=${step === '1' ? 'numeric' : 'decimal'}
        name=${key}
        data-testid=${`field-${key}`}
        min=${min}
        step=${step}
        placeholder=${placeholder}
        .value=${this.draft[key]}
        aria-invalid=${this.isInvalid(key)}
        title=${HINTS[key]}
        aria-describedby=${describedBy(key)}
      />
      <small class="hint" id=${hintId(key)}>${HINTS[key]}</small>
    </div>`;
  }

  // Options carry `?selected` for the first render (a select's `.value` is set before its
  // options exist) and the select carries `.value` so a new `config` moves it afterwards.
  private renderSelect(key: TextKey, label: string, options: readonly (string | number)[]) {
    const value = this.draft[key];
    return html`<div class="field">
      <label for=${fieldId(key)}>${label}</label>
      <select id=${fieldId(key)} name=${key} data-testid=${`field-${key}`} .value=${value} aria-invalid=${this.isInvalid(key)} title=${HINTS[key]} aria-describedby=${describedBy(key)}>
        ${options.map((o) => html`<option value=${o} ?selected=${String(o) === value}>${o}</option>`)}
      </select>
      <small class="hint" id=${hintId(key)}>${HINTS[key]}</small>
    </div>`;
  }

  private isInvalid(key: string): 'true' | 'false' {
    return this.invalid?.field === key ? 'true' : 'false';
  }

  private handleInput(e: Event): void {
    const target = e.target as HTMLInputElement | HTMLSelectElement;
    const key = target.name;
    if (key === 'qlora') {
      this.draft = { ...this.draft, qlora: (target as HTMLInputElement).checked };
    } else if ((TEXT_KEYS as readonly string[]).includes(key)) {
      this.draft = { ...this.draft, [key]: target.value };
    } else {
      return;
    }
    this.validate();
  }

  private handleHfConfigChange(e: CustomEvent<HfConfigChangeDetail>): void {
    this.hfConfig = e.detail.hfConfig;
    this.hfName = e.detail.name;
    this.draft = { ...this.draft, model: HF_MODEL };
    this.validate();
  }

  private handleHfConfigClear(): void {
    this.hfConfig = undefined;
    this.hfName = '';
    if (this.draft.model === HF_MODEL) this.draft = { ...this.draft, model: DEFAULT_PLAN.model };
    this.validate();
  }

  /** Enter in a field submits the form: validate, never navigate. */
  private handleSubmit(e: SubmitEvent): void {
    e.preventDefault();
    this.validate();
  }

  private validate(): void {
    let config: PlanConfig;
    try {
      config = parsePlanConfig(rawConfig(this.draft, this.hfConfig));
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      this.invalid = { field: err.field, message: err.message };
      this.dispatchEvent(
        new CustomEvent<ConfigInvalidDetail>('vl-config-invalid', { detail: this.invalid, bubbles: true, composed: true }),
      );
      return;
    }
    this.invalid = null;
    this.dispatchEvent(new CustomEvent<ConfigChangeDetail>('vl-config-change', { detail: { config }, bubbles: true, composed: true }));
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'vl-plan-form': VlPlanForm;
  }
  interface HTMLElementEventMap {
    'vl-config-change': CustomEvent<ConfigChangeDetail>;
    'vl-config-invalid': CustomEvent<ConfigInvalidDetail>;
  }
}
