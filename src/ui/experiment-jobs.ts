/**
 * What the experiments run: the checkpointing modes of a configuration, and sweeps of one
 * setting over a few values. Pure (no DOM, no GPU), shared by the experiment views and tests.
 */
import { CnnRunConfigSchema, isCnnRun } from '../protocol/cnn.ts';
import { LIMITS } from '../protocol/config.ts';
import type { EngineRunConfig } from '../protocol/engine-api.ts';
import { GPT_CHECKPOINTS, GptRunConfigSchema, LlamaRunConfigSchema, RUN_CHECKPOINTS, RunConfigSchema } from '../protocol/run.ts';
import { formatInteger } from './format.ts';
import { orList } from './run-config.ts';

export const EXPERIMENT_VIEWS = ['tradeoff', 'sweep'] as const;
export type ExperimentView = (typeof EXPERIMENT_VIEWS)[number];

/** blocks: cnn-cifar's basic blocks per stage (its depth is 6·blocks + 2). */
export const SWEEP_KEYS = ['batch', 'seq', 'layers', 'blocks'] as const;
export type SweepKey = (typeof SWEEP_KEYS)[number];

/** A sweep runs this many points at least (a line needs two) and at most (each is a full run). */
export const SWEEP_MIN_POINTS = 2;
export const SWEEP_MAX_POINTS = 8;

/** The estimate curve is drawn through at most this many x values (each one estimate() call, well under a millisecond). */
export const CURVE_POINTS = 48;

export const SWEEP_DEFAULTS: Record<SweepKey, string> = { batch: '4,8,16', seq: '32,64,128', layers: '1,2,4', blocks: '1,2,3' };
const SWEEP_MAX: Record<SweepKey, number> = { batch: LIMITS.batch, seq: 1 << 16, layers: LIMITS.layers, blocks: 64 };

/** The trade-off's second axis: the engine's full-precision and bf16 mixed-precision runs. */
export const CROSS_PRECISIONS = ['fp32', 'amp-bf16'] as const;

/** Every run uses this seed: the same weights and data at each point, so only the swept setting differs. */
export const SEED = 1;
export const DEFAULT_STEPS = 3;

export type Checkpoint = EngineRunConfig['checkpoint'];

/** The checkpointing modes the engine runs for this config: selective only for a decoder with eager attention (it recomputes the attention probabilities). */
export function tradeoffModes(c: EngineRunConfig): Checkpoint[] {
  if (c.model === 'mlp' || isCnnRun(c)) return [...RUN_CHECKPOINTS];
  return GPT_CHECKPOINTS.filter((m) => m !== 'selective' || c.attention === 'eager');
}

/** Which sweep keys apply: seq to a decoder, layers to the mlp and the decoders, blocks to cnn-cifar; batch to all. */
export function sweepKeys(c: EngineRunConfig): SweepKey[] {
  if (isCnnRun(c)) return c.model === 'cnn-cifar' ? ['batch', 'blocks'] : ['batch'];
  return c.model === 'mlp' ? ['batch', 'layers'] : ['batch', 'seq', 'layers'];
}

/** The base of an experiment in a few words: "gpt, 2 blocks, fused attention", "cnn-cifar, ResNet-8 (width 8)". */
export function describeBase(c: EngineRunConfig): string {
  if (isCnnRun(c)) return c.model === 'cnn-mnist' ? 'cnn-mnist, LeNet-5' : `cnn-cifar, ResNet-${6 * c.blocks + 2} (width ${c.width})`;
  if (c.model === 'mlp') return `mlp, ${c.layers} blocks`;
  return `${c.model}, ${c.layers} blocks, ${c.attention} attention`;
}

/**
 * The values a sweep of `key` starts with for this run: SWEEP_DEFAULTS, but a CNN's batch from
 * 1, since a CNN's step is heavy per image (cnn-cifar scaled to a software adapter runs at batch
 * 2, and batch 8 of it is over the compute budget).
 */
export function sweepDefault(c: EngineRunConfig, key: SweepKey): string {
  return isCnnRun(c) && key === 'batch' ? '1,2,4' : SWEEP_DEFAULTS[key];
}

/** A short name of the config's model for sentences: "cnn-mnist", "a GPT". */
function modelWord(c: EngineRunConfig): string {
  return isCnnRun(c) ? c.model : c.model === 'mlp' ? 'the mlp' : c.model === 'gpt' ? 'a GPT' : 'a Llama-style decoder';
}

/**
 * "4, 8,16" → [4, 8, 16]: 2–8 distinct whole numbers from 1 to the key's limit, sorted. The
 * error is one sentence naming what to change.
 */
export function parseSweepValues(text: string, key: SweepKey): { values: number[] } | { error: string } {
  const parts = text.split(/[\s,]+/).filter((s) => s !== '');
  if (parts.length < SWEEP_MIN_POINTS || parts.length > SWEEP_MAX_POINTS) {
    return { error: `give ${SWEEP_MIN_POINTS} to ${SWEEP_MAX_POINTS} values of ${key}, separated by commas, e.g. ${SWEEP_DEFAULTS[key]}` };
  }
  const values: number[] = [];
  for (const p of parts) {
    const v = /^\d+$/.test(p) ? Number(p) : Number.NaN;
    if (!Number.isSafeInteger(v) || v < 1) return { error: `${key} values must be whole numbers of 1 or more; "${p}" is not` };
    if (v > SWEEP_MAX[key]) return { error: `${key} must be at most ${formatInteger(SWEEP_MAX[key])}; "${p}" is over` };
    if (values.includes(v)) return { error: `${key} ${v} is listed twice` };
    values.push(v);
  }
  return { values: values.sort((a, b) => a - b) };
}

/**
 * The run with one setting changed, checked by the model's schema again (a GPT's layers, seq…).
 * A setting the model does not have (seq of a CNN, blocks of a decoder) is refused by name.
 */
export function withSetting(c: EngineRunConfig, changes: Partial<Record<SweepKey, number>> & { checkpoint?: Checkpoint; precision?: EngineRunConfig['precision'] }): { config: EngineRunConfig } | { error: string } {
  for (const k of SWEEP_KEYS) {
    if (changes[k] !== undefined && !sweepKeys(c).includes(k)) {
      return { error: `${k}: ${modelWord(c)} has no ${k === 'blocks' ? 'blocks per stage' : k} to vary; sweep ${orList(sweepKeys(c))} instead` };
    }
  }
  const raw = { ...c, ...changes };
  const schema = isCnnRun(c) ? CnnRunConfigSchema : c.model === 'llama' ? LlamaRunConfigSchema : c.model === 'gpt' ? GptRunConfigSchema : RunConfigSchema;
  const r = schema.safeParse(raw);
  if (r.success) return { config: r.data };
  const issue = r.error.issues[0]!;
  return { error: `${issue.path.join('.') || 'config'}: ${issue.message}` };
}

/** At most `n` whole numbers spread evenly from lo to hi, both included. */
export function curveXs(lo: number, hi: number, n = CURVE_POINTS): number[] {
  if (hi - lo + 1 <= n) return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
  return [...new Set(Array.from({ length: n }, (_, i) => Math.round(lo + ((hi - lo) * i) / (n - 1))))];
}
