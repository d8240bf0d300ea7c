import { LitElement, css, html, nothing, type PropertyValues } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import {
  ACTIVATIONS,
  ATTENTIONS,
  CHECKPOINTS,
  ConfigError,
  DEFAULT_PLAN,
  FRAMEWORKS,
  GUIDANCES,
  MODES,
  OPTIMIZERS,
  PIPELINE_OFFLOADS,
  PRECISIONS,
  VAE_DECODES,
  ZERO_STAGES,
  parsePlanConfig,
  type PlanConfig,
} from '../protocol/config.ts';
import { listModels, type ModelInfo } from '../estimate/index.ts';
import { parseModelConfig } from '../estimate/hf.ts';
import { GPU_CATALOG, chosenGpu } from '../estimate/gpus.ts';
import { hfModelName, type HfConfigChangeDetail } from './hf-config-input.ts';
import { CUSTOM_GPU, HF_MODEL, TEXT_KEYS, applies, draftFrom, hints, rawConfig, type Draft, type Family, type TextKey } from './plan-form-model.ts';
import './hf-config-input.ts';

const GiB = 2 ** 30;
const hintId = (key: string) => `hint-${key.replace('.', '-')}`;
const offId = (key: string) => `off-${key.replace('.', '-')}`;
/** Labels point at controls by id (not by wrapping) so each control's name is its label alone. */
const fieldId = (key: string): string => `f-${key.replace('.', '-')}`;

/** Why a field is disabled, shown under it; null when it applies. */
type Off = string | null;

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
  llama: 'Decoder LLMs',
  resnet: 'ResNet',
  vit: 'Vision transformers',
  vlm: 'Vision-language',
  efficientnet: 'EfficientNet',
  diffusion: 'Diffusion pipelines',
  gan: 'GAN',
};

const TRAINING_ONLY = 'training only';
const SAMPLING_ONLY = 'inference only';

/**
 * The planner form. Every edit is validated against PlanConfigSchema; a valid config is
 * announced with `vl-config-change`, an invalid one shows its message in an alert. A
 * Hugging Face config.json can be imported (file, drop or paste); it becomes model `hf`.
 * Fields that do not apply are left out (sequence length, attention and LoRA for the mlp and
 * ResNets, image size but for ResNets, ZeRO with one GPU) or disabled with the reason
 * (optimizer, checkpointing and micro-batch in inference), and the hints speak of the model.
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
      min-width: 0;
    }
    form {
      display: grid;
      gap: 0.6rem;
    }
    fieldset {
      border: 1px solid var(--vl-border, #ccc);
      border-radius: 8px;
      padding: 0.4rem 0.7rem 0.6rem;
      margin: 0;
      min-width: 0;
      display: grid;
      grid-template-columns: repeat(auto-fill, minmax(8.5rem, 1fr));
      gap: 0.4rem 0.7rem;
    }
    legend {
      font-weight: 600;
      padding: 0 0.25rem;
    }
    .field {
      display: grid;
      gap: 0.1rem;
      font-size: 0.85rem;
      align-content: start;
      min-width: 0;
      position: relative;
    }
    /* Over the page, not in its flow: a hint that appeared in the layout would move everything
       below it as focus comes and goes (a click on Run right after typing could miss). */
    .hint {
      display: none;
      position: absolute;
      top: 100%;
      left: 0;
      right: 0;
      z-index: 2;
      margin-top: 0.15rem;
      padding: 0.3rem 0.45rem;
      border: 1px solid var(--vl-border, #ccc);
      border-radius: 4px;
      background: var(--vl-surface, #fff);
      color: var(--vl-muted, #555);
      font-size: 0.78rem;
      box-shadow: 0 2px 6px rgb(0 0 0 / 0.15);
    }
    .field:focus-within .hint {
      display: block;
    }
    .off,
    .note {
      color: var(--vl-muted, #555);
      font-size: 0.78rem;
    }
    .note {
      grid-column: 1 / -1;
      margin: 0;
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
    :disabled {
      opacity: 0.6;
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
    }
    .error:empty {
      display: none;
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
  private hints = hints('gpt2', true);

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
    const family: Family = this.models.find((m) => m.id === d.model)?.family ?? this.importedFamily();
    const on = applies(family, d);
    this.hints = hints(family, on.train);
    const modelName = this.models.find((m) => m.id === d.model)?.name ?? this.hfName;
    return html`
      <p part="error" class="error" id="config-error" role="alert" data-testid="config-error">${this.invalid?.message ?? ''}</p>
      <form part="form" data-testid="plan-form" @input=${this.handleInput} @submit=${this.handleSubmit} novalidate>
        <fieldset>
          <legend>Model</legend>
          <div class="field wide">
            <label for="f-model">model</label>
            <select id="f-model" name="model" data-testid="field-model" .value=${d.model} title=${this.hints.model} aria-describedby=${this.describedBy('model', null)}>
              ${this.renderModelOptions(d.model)}
            </select>
            <small class="hint" id=${hintId('model')}>${this.hints.model}</small>
          </div>
          ${on.mlp
            ? html`${this.renderNumber('mlp.d', 'width d', 1)} ${this.renderNumber('mlp.hidden', 'hidden', 1)}
              ${this.renderNumber('mlp.layers', 'layers', 1)} ${this.renderSelect('mlp.activation', 'activation', ACTIVATIONS)}`
            : nothing}
          ${on.image ? this.renderNumber('imageSize', on.diffusion ? 'resolution (px)' : 'image size (px)', 1) : nothing}
          ${on.vlm ? html`${this.renderNumber('images', 'images per sample', 1, '1')} ${this.renderNumber('maxPixels', 'max pixels per image', 1, 'processor default')}` : nothing}
          ${on.hidden.length > 0
            ? html`<p class="note" data-testid="form-not-applicable">Not used by ${modelName}: ${on.hidden.join(', ')}.</p>`
            : nothing}
        </fieldset>
        <fieldset>
          <legend>Your GPU</legend>
          ${this.renderGpu()}
        </fieldset>
        <fieldset>
          <legend>Step</legend>
          ${this.renderSelect('mode', 'mode', MODES)} ${this.renderNumber('batch', 'batch', 1)}
          ${this.renderNumber('microBatch', 'micro-batch', 1, 'same as batch', '1', on.train ? null : TRAINING_ONLY)}
          ${on.seq ? this.renderNumber('seq', on.vlm ? 'text tokens' : 'sequence length', 1) : nothing}
          ${on.diffusion
            ? html`${this.renderNumber('steps', 'steps', 1, 'pipeline default', '1', on.train ? SAMPLING_ONLY : null)}
              ${this.renderSelect('guidance', 'guidance', ['', ...GUIDANCES], on.train ? SAMPLING_ONLY : null)}
              ${this.renderSelect('vaeDecode', 'VAE decode', ['', ...VAE_DECODES], on.train ? SAMPLING_ONLY : null)}
              ${this.renderSelect('pipelineOffload', 'pipeline offload', ['', ...PIPELINE_OFFLOADS], on.train ? SAMPLING_ONLY : null)}`
            : nothing}
        </fieldset>
        <fieldset>
          <legend>Precision and memory savers</legend>
          ${this.renderSelect('precision', 'precision', PRECISIONS)}
          ${this.renderSelect('optimizer', 'optimizer', OPTIMIZERS, on.train ? null : TRAINING_ONLY)}
          ${this.renderSelect('checkpoint', 'checkpointing', CHECKPOINTS, on.train ? null : TRAINING_ONLY)}
          ${on.attention ? this.renderSelect('attention', 'attention', ATTENTIONS) : nothing}
          ${on.lora ? this.renderNumber('loraRank', 'LoRA rank (0 = off)', 0) : nothing} ${on.qlora ? this.renderQlora() : nothing}
        </fieldset>
        <fieldset>
          <legend>GPUs and framework</legend>
          ${this.renderNumber('gpus', 'GPUs', 1)}
          ${on.zero ? this.renderSelect('zero', 'ZeRO stage', ZERO_STAGES, on.train ? null : TRAINING_ONLY) : nothing}
          ${this.renderSelect('framework', 'predict for', FRAMEWORKS)}
          ${on.zero ? nothing : html`<p class="note" data-testid="zero-note">ZeRO sharding is offered with more than one GPU.</p>`}
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
      </form>
    `;
  }

  private renderGpu() {
    const d = this.draft;
    return html`<div class="field">
        <label for="f-gpu">your GPU</label>
        <select id="f-gpu" name="gpu" data-testid="field-gpu" .value=${d.gpu} title=${this.hints.gpu} aria-describedby=${this.describedBy('gpu', null)}>
          ${GPU_CATALOG.map((g) => html`<option value=${g.id} ?selected=${g.id === d.gpu}>${g.name}</option>`)}
          <option value=${CUSTOM_GPU} ?selected=${d.gpu === CUSTOM_GPU}>custom size (GiB)</option>
        </select>
        <small class="hint" id=${hintId('gpu')}>${this.hints.gpu}</small>
      </div>
      ${d.gpu === CUSTOM_GPU ? this.renderNumber('gpuMemoryGiB', 'GPU memory (GiB)', 0, 'e.g. 24', 'any') : nothing}`;
  }

  private renderQlora() {
    return html`<div class="field check">
      <input
        type="checkbox"
        id="f-qlora"
        name="qlora"
        data-testid="field-qlora"
        .checked=${this.draft.qlora}
        aria-invalid=${this.isInvalid('qlora')}
        title=${this.hints.qlora}
        aria-describedby=${this.describedBy('qlora', null)}
      />
      <label for="f-qlora">QLoRA (4-bit base)</label>
      <small class="hint" id=${hintId('qlora')}>${this.hints.qlora}</small>
    </div>`;
  }

  private renderModelOptions(selected: string) {
    const families = [...new Set(this.models.map((m) => m.family))];
    const imported =
      this.hfConfig === undefined
        ? nothing
        : html`<optgroup label="Imported">
            <option value=${HF_MODEL} ?selected=${selected === HF_MODEL}>config.json: ${this.hfName}</option>
          </optgroup>`;
    return [
      imported,
      ...families.map(
        (f) => html`<optgroup label=${FAMILY_LABELS[f]}>
          ${this.models.filter((m) => m.family === f).map((m) => html`<option value=${m.id} ?selected=${m.id === selected}>${m.name}</option>`)}
        </optgroup>`,
      ),
    ];
  }

  private describedBy(key: string, off: Off): string {
    return `${hintId(key)}${off ? ` ${offId(key)}` : ''} config-error`;
  }

  private renderOff(key: string, off: Off) {
    return off ? html`<small class="off" id=${offId(key)} data-testid=${`off-${key}`}>${off}</small>` : nothing;
  }

  private renderNumber(key: TextKey, label: string, min: number, placeholder = '', step = '1', off: Off = null) {
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
        ?disabled=${off !== null}
        aria-invalid=${this.isInvalid(key)}
        title=${this.hints[key]}
        aria-describedby=${this.describedBy(key, off)}
      />
      ${this.renderOff(key, off)}
      <small class="hint" id=${hintId(key)}>${this.hints[key]}</small>
    </div>`;
  }

  // Options carry `?selected` for the first render (a select's `.value` is set before its
  // options exist) and the select carries `.value` so a new `config` moves it afterwards.
  private renderSelect(key: TextKey, label: string, options: readonly (string | number)[], off: Off = null) {
    const value = this.draft[key];
    return html`<div class="field">
      <label for=${fieldId(key)}>${label}</label>
      <select
        id=${fieldId(key)}
        name=${key}
        data-testid=${`field-${key}`}
        .value=${value}
        ?disabled=${off !== null}
        aria-invalid=${this.isInvalid(key)}
        title=${this.hints[key]}
        aria-describedby=${this.describedBy(key, off)}
      >
        ${options.map((o) => html`<option value=${o} ?selected=${String(o) === value}>${o === '' ? 'default' : o}</option>`)}
      </select>
      ${this.renderOff(key, off)}
      <small class="hint" id=${hintId(key)}>${this.hints[key]}</small>
    </div>`;
  }

  private isInvalid(key: string): 'true' | 'false' {
    return this.invalid?.field === key ? 'true' : 'false';
  }

  /** An imported config.json of an image family shows that family's fields; a language model's, the transformer's. */
  private importedFamily(): Family {
    if (this.hfConfig === undefined) return 'hf';
    try {
      const kind = parseModelConfig(this.hfConfig).kind;
      return kind === 'vit' || kind === 'vlm' || kind === 'efficientnet' || kind === 'diffusion' ? kind : 'hf';
    } catch {
      return 'hf';
    }
  }

  private handleInput(e: Event): void {
    const target = e.target as HTMLInputElement | HTMLSelectElement;
    const key = target.name;
    const native = key === 'model' ? this.models.find((m) => m.id === target.value)?.imageSize : undefined;
    if (native !== undefined) {
      // An image model starts at the resolution it was trained at.
      this.draft = { ...this.draft, model: target.value, imageSize: String(native) };
    } else if (key === 'qlora') {
      this.draft = { ...this.draft, qlora: (target as HTMLInputElement).checked };
    } else if (key === 'gpu' && target.value === CUSTOM_GPU && this.draft.gpuMemoryGiB.trim() === '') {
      // Start the typed size at the card chosen so far (rounded to the GiB), not at an error.
      const gib = Math.round(chosenGpu({ gpu: this.draft.gpu }).memoryBytes / GiB);
      this.draft = { ...this.draft, gpu: CUSTOM_GPU, gpuMemoryGiB: String(gib) };
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
      this.dispatchEvent(new CustomEvent<ConfigInvalidDetail>('vl-config-invalid', { detail: this.invalid, bubbles: true, composed: true }));
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
