/**
 * Which plans the engine can run, and the run configuration a plan maps to: pure functions
 * (no DOM, no GPU) shared by the run panel, the experiments and the tests.
 */
import { resolveModel } from '../estimate/presets.ts';
import type { CnnSpec, TransformerSpec } from '../estimate/specs.ts';
import { CNN_MODELS, CnnRunConfigSchema, isCnnRun, type CnnModel } from '../protocol/cnn.ts';
import type { PlanConfig } from '../protocol/config.ts';
import type { EngineRunConfig } from '../protocol/engine-api.ts';
import { GPT_CHECKPOINTS, GptRunConfigSchema, LlamaRunConfigSchema, RUN_CHECKPOINTS, RUN_OPTIMIZERS, RUN_PRECISIONS, RunConfigSchema } from '../protocol/run.ts';
import { checkEngineLlama } from '../estimate/vramlab-llama.ts';
import { formatInteger } from './format.ts';

/** The page offers at most this many steps (the engine takes up to RUN_LIMITS.steps from the CLI). */
export const PANEL_MAX_STEPS = 1000;

/** The models the engine runs, named for a user who picked another one. */
export const RUNNABLE_MODELS_MESSAGE =
  'The engine runs the mlp model, GPT-2-style decoders (gpt-nano, gpt2-small … gpt2-xl or an imported GPT-2 config.json), Llama-style ones (the Llama, Mistral and Qwen2.5 presets or an imported llama, mistral or qwen2 config.json) and the small CNNs (cnn-mnist, cnn-cifar); choose one of those to run it.';

/** "a, b or c" */
export function orList(xs: readonly string[]): string {
  return xs.length <= 1 ? xs.join('') : `${xs.slice(0, -1).join(', ')} or ${xs[xs.length - 1]}`;
}

const includes = <T extends string>(xs: readonly T[], v: string): v is T => (xs as readonly string[]).includes(v);

/** Which engine model the plan maps to: the mlp, a gpt2- or llama-family decoder (preset or imported config.json), a CNN preset, or none. */
export type RunnableModel = { kind: 'mlp' } | { kind: 'gpt' | 'llama'; spec: TransformerSpec } | { kind: 'cnn'; model: CnnModel; spec: CnnSpec } | null;

export function runnableModel(c: PlanConfig): RunnableModel {
  if (c.model === 'mlp') return { kind: 'mlp' };
  if (includes(CNN_MODELS, c.model)) {
    const spec = resolveModel(c);
    return spec.kind === 'cnn' ? { kind: 'cnn', model: c.model, spec } : null;
  }
  let spec;
  try {
    spec = resolveModel(c);
  } catch {
    return null; // An unknown model or a bad config.json: the form says why.
  }
  if (spec.kind !== 'transformer') return null;
  if (spec.family === 'gpt2') return { kind: 'gpt', spec };
  try {
    checkEngineLlama(spec);
  } catch {
    return null; // gemma and other llama-family variants the engine does not build
  }
  return { kind: 'llama', spec };
}

/**
 * Why the engine cannot run this plan, one sentence each; empty when it can. Only what would
 * make the run a different experiment from the plan blocks it; settings the engine ignores
 * are listed by ignoredSettings().
 */
export function runBlockers(c: PlanConfig): string[] {
  const model = runnableModel(c);
  if (!model) return [RUNNABLE_MODELS_MESSAGE];
  const out: string[] = [];
  if (c.mode !== 'train') out.push('mode inference: the engine runs training steps; choose mode train.');
  if (!includes(RUN_PRECISIONS, c.precision)) out.push(`precision ${c.precision}: the engine runs ${orList(RUN_PRECISIONS)}.`);
  if (!includes(RUN_OPTIMIZERS, c.optimizer)) out.push(`optimizer ${c.optimizer}: the engine runs ${orList(RUN_OPTIMIZERS)}.`);
  // A CNN has no attention to recompute selectively.
  const checkpoints = model.kind === 'mlp' || model.kind === 'cnn' ? RUN_CHECKPOINTS : GPT_CHECKPOINTS;
  if (!includes(checkpoints, c.checkpoint)) out.push(`checkpointing ${c.checkpoint}: the engine runs ${orList(checkpoints)}.`);
  if (model.kind === 'gpt' && model.spec.intermediate !== 4 * model.spec.hidden) {
    out.push(`MLP width ${model.spec.intermediate}: the engine's GPT uses 4 × d-model (${4 * model.spec.hidden}).`);
  }
  return out;
}

/** Plan settings the run does not model (one GPU, full training, the whole batch at once, no dropout). */
export function ignoredSettings(c: PlanConfig): string[] {
  const out: string[] = [];
  if (c.microBatch !== undefined && c.microBatch !== c.batch) out.push(`micro-batch ${c.microBatch}`);
  const model = runnableModel(c);
  // The engine's GPT and Llama run LoRA and QLoRA; the mlp has no projections to adapt.
  const adapts = model?.kind === 'gpt' || model?.kind === 'llama';
  if (c.loraRank > 0 && !adapts) out.push(`LoRA rank ${c.loraRank}`);
  if (c.qlora && !adapts) out.push('QLoRA');
  if (c.zero > 0) out.push(`ZeRO stage ${c.zero}`);
  if (c.gpus > 1) out.push(`${c.gpus} GPUs`);
  if (model?.kind === 'gpt' && model.spec.dropout) out.push('dropout');
  return out;
}

const num = (s: string): number => (s.trim() === '' ? Number.NaN : Number(s));

/** The untrusted object the model's schema checks: the plan's shape and step settings, and the panel's own inputs. */
function rawRunConfig(c: PlanConfig, model: NonNullable<RunnableModel>, steps: string, seed: string): unknown {
  const common = {
    batch: c.batch,
    precision: c.precision,
    optimizer: c.optimizer,
    checkpoint: c.checkpoint,
    steps: num(steps),
    seed: num(seed),
  };
  if (model.kind === 'cnn') {
    // cnn-mnist's LeNet-5 has a fixed shape (the schema's blocks 3, width 16 stand for it); cnn-cifar's may be scaled.
    const scaled = model.model === 'cnn-cifar';
    return { model: model.model, blocks: scaled ? model.spec.blocks : 3, width: scaled ? model.spec.width : 16, ...common };
  }
  if (model.kind === 'llama') {
    const s = model.spec;
    return {
      model: 'llama',
      vocab: s.vocab,
      dModel: s.hidden,
      heads: s.heads,
      kvHeads: s.kvHeads,
      headDim: s.headDim,
      layers: s.layers,
      inner: s.intermediate,
      tied: s.tiedEmbeddings,
      qkvBias: s.qkvBias,
      ropeTheta: 10000,
      seq: c.seq,
      attention: c.attention,
      ...(c.loraRank > 0 ? { loraRank: c.loraRank, qlora: c.qlora } : {}),
      ...common,
    };
  }
  if (model.kind === 'gpt') {
    return {
      model: 'gpt',
      vocab: model.spec.vocab,
      dModel: model.spec.hidden,
      heads: model.spec.heads,
      layers: model.spec.layers,
      seq: c.seq,
      attention: c.attention,
      ...(c.loraRank > 0 ? { loraRank: c.loraRank, qlora: c.qlora } : {}),
      ...common,
    };
  }
  return { model: 'mlp', d: c.mlp.d, hidden: c.mlp.hidden, layers: c.mlp.layers, activation: c.mlp.activation, ...common };
}

export type FieldErrors = Partial<Record<'steps' | 'seed' | 'config', string>>;
export type Validated = { config: EngineRunConfig; errors: null } | { config: null; errors: FieldErrors };

export function validate(c: PlanConfig, steps: string, seed: string): Validated {
  const model = runnableModel(c);
  if (!model) return { config: null, errors: { config: RUNNABLE_MODELS_MESSAGE } };
  const raw = rawRunConfig(c, model, steps, seed);
  const schema = model.kind === 'cnn' ? CnnRunConfigSchema : model.kind === 'llama' ? LlamaRunConfigSchema : model.kind === 'gpt' ? GptRunConfigSchema : RunConfigSchema;
  const r = schema.safeParse(raw);
  const errors: FieldErrors = {};
  if (!r.success) {
    for (const issue of r.error.issues) {
      const field = String(issue.path[0] ?? 'config');
      const key = field === 'steps' || field === 'seed' ? field : 'config';
      errors[key] ??= key === 'config' ? `${field}: ${issue.message}` : issue.message;
    }
  } else if (r.data.steps > PANEL_MAX_STEPS) {
    errors.steps = `steps must be at most ${PANEL_MAX_STEPS} here (the CLI runs more)`;
  }
  return r.success && !errors.steps ? { config: r.data, errors: null } : { config: null, errors };
}

/**
 * The engine run config the panel would run for the planner form's config, with these steps
 * and seed: the same blockers, mapping and schema check as the Run button, or the first reason
 * it cannot run (one sentence). The device check and scaling-down are not applied here: a GPT
 * too big for this adapter comes back at full size.
 */
export function runConfigFor(c: PlanConfig, steps: number, seed: number): { config: EngineRunConfig } | { error: string } {
  const blockers = runBlockers(c);
  if (blockers.length > 0) return { error: blockers[0]! };
  const checked = validate(c, String(steps), String(seed));
  if (checked.config) return { config: checked.config };
  const { steps: stepsError, seed: seedError, config: configError } = checked.errors;
  return { error: configError ?? (stepsError ? `steps: ${stepsError}` : seedError ? `seed: ${seedError}` : 'invalid run settings') };
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export function describeRun(c: EngineRunConfig): string {
  const lora = (c.model === 'gpt' || c.model === 'llama') && c.loraRank ? `; ${c.qlora ? 'QLoRA' : 'LoRA'} rank ${c.loraRank}` : '';
  const tail = `batch ${c.batch}; ${c.precision}; ${c.optimizer}; checkpointing ${c.checkpoint}${lora}; ${plural(c.steps, 'step')}, seed ${c.seed}`;
  if (isCnnRun(c)) {
    return c.model === 'cnn-mnist'
      ? `cnn-mnist LeNet-5, 1×28×28 images; ${tail}`
      : `cnn-cifar ResNet-${6 * c.blocks + 2} (${plural(c.blocks, 'block')} per stage, width ${c.width}), 3×32×32 images; ${tail}`;
  }
  if (c.model === 'llama') {
    return `llama vocab ${c.vocab}, d ${c.dModel}, ${plural(c.heads, 'head')} (${c.kvHeads} kv), head size ${c.headDim}, inner ${c.inner}, ${plural(c.layers, 'layer')}, ${c.tied ? 'tied' : 'untied'} head, seq ${c.seq}, ${c.attention} attention; ${tail}`;
  }
  if (c.model === 'gpt') {
    return `gpt vocab ${c.vocab}, d ${c.dModel}, ${plural(c.heads, 'head')}, ${plural(c.layers, 'layer')}, seq ${c.seq}, ${c.attention} attention; ${tail}`;
  }
  return `mlp d ${c.d}, hidden ${c.hidden}, ${plural(c.layers, 'layer')}, ${c.activation}; ${tail}`;
}

/** "128 MFLOP" */
export function formatFlops(f: number): string {
  return f >= 1e9 ? `${formatInteger(Math.round(f / 1e9))} GFLOP` : `${formatInteger(Math.round(f / 1e6))} MFLOP`;
}
