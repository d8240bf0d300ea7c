/**
 * Experiment state in the URL (house style 12, after TensorFlow Playground's state.ts): the
 * planner form as a short query string, so any estimate can be shared and reproduced.
 *
 * Layout: one short, stable key per PlanConfig field (PARAMS below), written only when the
 * value differs from DEFAULT_PLAN, always in the table's order, e.g.
 * `m=llama-3.2-1b&b=4&s=2048&lr=16&q=1&gpu=a100-80gb`. The keys are part of every shared link: never rename
 * or reuse one, only add.
 *
 * What is not in the URL: `hfConfig`. A config.json is kilobytes of JSON and would make links
 * too long for chat clients and servers (and put a user's file into logs), so a plan of
 * `model: 'hf'` is written with the default model and its other fields; decode never yields
 * 'hf'. Round-trip: decodePlanState(encodePlanState(c)).config deep-equals c for every c that
 * parsePlanConfig accepts whose model is one of MODEL_IDS and which has no hfConfig.
 *
 * The query string is untrusted input: decode never throws, ignores keys it does not know,
 * reads at most MAX_SEARCH_LENGTH characters, accepts numbers only in their canonical form
 * (as JavaScript prints them, so `08`, `1e3`, `0x10`, `+8` and ` 8` are refused), and answers
 * every bad value with the field's default and a sentence naming the parameter and what is
 * allowed.
 */
import { MODEL_IDS } from '../estimate/presets.ts';
import { GPU_IDS } from '../estimate/gpus.ts';
import {
  ACTIVATIONS,
  ATTENTIONS,
  CHECKPOINTS,
  DEFAULT_PLAN,
  FRAMEWORKS,
  GUIDANCES,
  LIMITS,
  MODES,
  OPTIMIZERS,
  PIPELINE_OFFLOADS,
  PRECISIONS,
  VAE_DECODES,
  PlanConfigSchema,
  type PlanConfig,
} from './config.ts';
import { getPath, setPath } from './paths.ts';

/** Longer query strings are not read at all: nothing this page writes comes near it (≈ 200 characters). */
export const MAX_SEARCH_LENGTH = 4096;

/** How much of a bad value a problem sentence quotes. */
const MAX_QUOTED = 40;

/** A value, or what is allowed (`must be …`), or a whole sentence of its own (`said`). */
type Reader = { ok: true; value: unknown } | { ok: false; allowed: string; said?: string };

interface Param {
  /** The query key; stable forever. */
  key: string;
  /** Dotted PlanConfig path. */
  field: string;
  /** How the field is named in sentences. */
  label: string;
  read(raw: string): Reader;
}

const ok = (value: unknown): Reader => ({ ok: true, value });

/** Plain decimal digits, no leading zero, in [min, max]: `String(n)` of a safe integer. */
function int(min: number, max: number): Param['read'] {
  return (raw) => {
    const n = Number(raw);
    if (/^\d+$/.test(raw) && String(n) === raw && n >= min && n <= max) return ok(n);
    return { ok: false, allowed: `a whole number from ${min} to ${max} in plain digits` };
  };
}

function oneOf(values: readonly string[]): Param['read'] {
  return (raw) => (values.includes(raw) ? ok(raw) : { ok: false, allowed: `one of ${values.join(', ')}` });
}

const PARAMS: readonly Param[] = [
  {
    key: 'm',
    field: 'model',
    label: 'model',
    read: (raw) => {
      // MODEL_IDS holds no 'hf': an imported config.json never travels in the URL.
      if (MODEL_IDS.includes(raw)) return ok(raw);
      const allowed = `one of ${MODEL_IDS.join(', ')}`;
      if (raw === 'hf') return { ok: false, allowed, said: 'names an imported config.json, which the URL does not keep: import the file again' };
      return { ok: false, allowed };
    },
  },
  { key: 'd', field: 'mlp.d', label: 'mlp width d', read: int(1, LIMITS.d) },
  { key: 'h', field: 'mlp.hidden', label: 'mlp hidden width', read: int(1, LIMITS.hidden) },
  { key: 'l', field: 'mlp.layers', label: 'mlp layers', read: int(1, LIMITS.layers) },
  { key: 'act', field: 'mlp.activation', label: 'mlp activation', read: oneOf(ACTIVATIONS) },
  { key: 'img', field: 'imageSize', label: 'image size', read: int(1, LIMITS.imageSize) },
  { key: 'imgs', field: 'images', label: 'images per sample', read: int(1, LIMITS.images) },
  { key: 'mp', field: 'maxPixels', label: 'max pixels per image', read: int(1, LIMITS.maxPixels) },
  { key: 'st', field: 'steps', label: 'denoising steps', read: int(1, LIMITS.steps) },
  { key: 'gd', field: 'guidance', label: 'guidance', read: oneOf(GUIDANCES) },
  { key: 'vae', field: 'vaeDecode', label: 'VAE decode', read: oneOf(VAE_DECODES) },
  { key: 'po', field: 'pipelineOffload', label: 'pipeline offload', read: oneOf(PIPELINE_OFFLOADS) },
  {
    key: 'pp',
    field: 'priorPreservation',
    label: 'prior preservation',
    read: (raw) => (raw === '1' ? ok(true) : raw === '0' ? ok(false) : { ok: false, allowed: '1 (on) or 0 (off)' }),
  },
  {
    key: 'tte',
    field: 'trainTextEncoder',
    label: 'train the text encoder',
    read: (raw) => (raw === '1' ? ok(true) : raw === '0' ? ok(false) : { ok: false, allowed: '1 (on) or 0 (off)' }),
  },
  { key: 'mode', field: 'mode', label: 'mode', read: oneOf(MODES) },
  { key: 'b', field: 'batch', label: 'batch', read: int(1, LIMITS.batch) },
  { key: 'mb', field: 'microBatch', label: 'micro-batch', read: int(1, LIMITS.batch) },
  { key: 's', field: 'seq', label: 'sequence length', read: int(1, LIMITS.seq) },
  { key: 'p', field: 'precision', label: 'precision', read: oneOf(PRECISIONS) },
  { key: 'o', field: 'optimizer', label: 'optimizer', read: oneOf(OPTIMIZERS) },
  { key: 'c', field: 'checkpoint', label: 'checkpointing', read: oneOf(CHECKPOINTS) },
  { key: 'a', field: 'attention', label: 'attention', read: oneOf(ATTENTIONS) },
  { key: 'lr', field: 'loraRank', label: 'LoRA rank', read: int(0, LIMITS.loraRank) },
  {
    key: 'q',
    field: 'qlora',
    label: 'QLoRA',
    read: (raw) => (raw === '1' ? ok(true) : raw === '0' ? ok(false) : { ok: false, allowed: '1 (on) or 0 (off)' }),
  },
  { key: 'z', field: 'zero', label: 'ZeRO stage', read: (raw) => (/^[0-3]$/.test(raw) ? ok(Number(raw)) : { ok: false, allowed: '0, 1, 2 or 3' }) },
  { key: 'g', field: 'gpus', label: 'GPU count', read: int(1, LIMITS.gpus) },
  { key: 'f', field: 'framework', label: 'framework', read: oneOf(FRAMEWORKS) },
  {
    key: 'gm',
    field: 'gpuMemoryGiB',
    label: 'GPU memory (GiB)',
    read: (raw) => {
      // Canonical: exactly what String(x) prints for the number, so encode → decode is exact
      // (24, 79.5, 1e-7) and no two spellings mean the same value.
      const n = Number(raw);
      if (/^\d+(\.\d+)?(e[-+]\d+)?$/.test(raw) && String(n) === raw && n > 0 && n <= LIMITS.gpuMemoryGiB) return ok(n);
      return { ok: false, allowed: `a size in GiB greater than 0 and at most ${LIMITS.gpuMemoryGiB}, written like 24 or 79.5` };
    },
  },
  // The verdict's card; a custom size is 'gm' above (the two are never both written).
  { key: 'gpu', field: 'gpu', label: 'GPU', read: oneOf(GPU_IDS) },
];

const BY_FIELD = new Map(PARAMS.map((p) => [p.field, p]));

/**
 * Query string (no leading '?') for a plan config: only fields that differ from DEFAULT_PLAN,
 * in PARAMS order, so equal configs give equal strings. `hfConfig` is never written (see the
 * file comment), and `model: 'hf'` is written as the default model.
 */
export function encodePlanState(config: PlanConfig): string {
  const out = new URLSearchParams();
  for (const p of PARAMS) {
    const value = getPath(config, p.field);
    if (value === undefined || value === getPath(DEFAULT_PLAN, p.field)) continue;
    if (p.field === 'model' && value === 'hf') continue;
    out.append(p.key, typeof value === 'boolean' ? (value ? '1' : '0') : String(value));
  }
  return out.toString();
}

/**
 * The plan config a query string describes (a leading '?' is allowed). Never throws: keys it
 * does not know are ignored, a bad value leaves its field at the default, and every such case
 * adds a sentence to `problems` naming the parameter and what is allowed. The config is one
 * parsePlanConfig accepts and its model is never 'hf'.
 */
export function decodePlanState(search: string): { config: PlanConfig; problems: string[] } {
  const problems: string[] = [];
  if (typeof search !== 'string') return { config: structuredClone(DEFAULT_PLAN), problems: ['The URL query is not text; the defaults are used.'] };
  if (search.length > MAX_SEARCH_LENGTH) {
    return {
      config: structuredClone(DEFAULT_PLAN),
      problems: [`The URL query is ${search.length} characters long, over the ${MAX_SEARCH_LENGTH} this page reads; the defaults are used.`],
    };
  }
  // URLSearchParams never throws: malformed %-escapes stay as typed, bad UTF-8 becomes U+FFFD.
  const params = new URLSearchParams(search.startsWith('?') ? search.slice(1) : search);
  const config = structuredClone(DEFAULT_PLAN) as Record<string, unknown>;
  for (const p of PARAMS) {
    const all = params.getAll(p.key);
    if (all.length === 0) continue;
    if (all.length > 1) problems.push(`URL parameter '${p.key}' (${p.label}) is given ${all.length} times; the first is used.`);
    const raw = all[0]!;
    const r = p.read(raw);
    if (r.ok) setPath(config, p.field, r.value);
    else if (r.said) problems.push(`URL parameter '${p.key}' (${p.label}) ${r.said}; the default${describeDefault(p)} is used.`);
    else problems.push(`URL parameter '${p.key}' (${p.label}) must be ${r.allowed}; got ${quote(raw)}, so the default${describeDefault(p)} is used.`);
  }

  // Each value is fine alone; the schema's cross-field rules (micro-batch divides batch, qlora
  // needs a rank, …) may still refuse the combination. Reset the field an issue names and
  // retry: every reset moves a field to its default, so this ends within PARAMS.length rounds.
  for (let round = 0; round <= PARAMS.length; round++) {
    const r = PlanConfigSchema.safeParse(config);
    if (r.success) return { config: r.data, problems };
    const issue = r.error.issues[0]!;
    const p = BY_FIELD.get(issue.path.join('.')) ?? BY_FIELD.get(String(issue.path[0]));
    if (!p) break;
    problems.push(`URL parameter '${p.key}' (${p.label}): ${issue.message}; the default${describeDefault(p)} is used.`);
    resetPath(config, p.field);
  }
  // Unreachable while every field in the schema has a PARAMS entry; stays safe if one is added without.
  problems.push('The URL describes a plan this page cannot read; the defaults are used.');
  return { config: structuredClone(DEFAULT_PLAN), problems };
}

function describeDefault(p: Param): string {
  const v = getPath(DEFAULT_PLAN, p.field);
  if (v === undefined) return ' (none)';
  return ` (${typeof v === 'boolean' ? (v ? 'on' : 'off') : String(v)})`;
}

/** A bad value as the sentence shows it: JSON-quoted (control characters escaped) and cut short. */
function quote(raw: string): string {
  const cut = [...raw];
  return JSON.stringify(cut.length > MAX_QUOTED ? `${cut.slice(0, MAX_QUOTED).join('')}…` : raw);
}

/** Back to DEFAULT_PLAN's value; optional fields with no default are removed. */
function resetPath(obj: Record<string, unknown>, path: string): void {
  const v = getPath(DEFAULT_PLAN, path);
  if (v !== undefined) {
    setPath(obj, path, v);
    return;
  }
  const keys = path.split('.');
  const last = keys.pop()!;
  let o = obj;
  for (const k of keys) o = o[k] as Record<string, unknown>;
  delete o[last];
}
