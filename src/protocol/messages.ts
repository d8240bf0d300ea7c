/**
 * Schemas for what arrives FROM the engine worker, checked before the UI draws it. The worker
 * is our own code, but a message crosses a boundary (structured clone, possibly a stale
 * worker from an older deploy, a driver string of any length), so the page trusts only what
 * these accept: byte counts finite and non-negative, arrays and strings bounded, enums
 * checked. A failure is an Error named BadWorkerMessage (a name, not a class: house style 7)
 * whose message says which message and field.
 *
 * The schemas mirror the TypeScript types in engine-api.ts, run.ts and plan.ts; the
 * compile-time check at the end fails `tsc` when one side gains or loses a field.
 */
import { z } from 'zod';
import { DEVICE_ERROR_KINDS, type AdapterSummary, type DeviceErrorReport, type EngineRunConfig, type EngineRunReport, type ThroughputReport } from './engine-api.ts';
import { OP_MOMENTS, PHASES, PLAN_CATEGORIES, type CategoryBytes, type GpuFit, type ModelSummary, type Plan, type PlanTerm } from './plan.ts';
import { GptRunConfigSchema, LlamaRunConfigSchema, PHASE_NAMES, RUN_LIMITS, RunConfigSchema, type RunProgress } from './run.ts';
import { CnnRunConfigSchema } from './cnn.ts';

/** `Error.name` of a message the page refuses. */
export const BAD_WORKER_MESSAGE = 'BadWorkerMessage';

/** Bounds, generous for any real message and small enough that drawing one cannot hang the page. */
export const MESSAGE_LIMITS = {
  /** Names, labels, adapter strings, formulas. */
  text: 1024,
  /** Sentences for the user. */
  sentence: 4096,
  /** The driver's own error text (Dawn messages list every object label involved). */
  detail: 16384,
  features: 256,
  limits: 256,
  /** Plan terms, notes and fit lines. */
  lines: 4096,
  /**
   * Timeline points. The engine keeps 64 × (layers + 1) ledger events (layers ≤ 4096) and the
   * planner a few points per layer; 2^20 is far above both.
   */
  points: 1 << 20,
} as const;

/**
 * An array whose length is checked before any element is: z.array().max() alone would parse
 * a million elements first and count them afterwards.
 */
function bounded<T extends z.ZodType>(element: T, max: number, what: string) {
  return z
    .array(z.unknown())
    .max(max, `${what} may hold at most ${max} entries`)
    .pipe(z.array(element));
}

const text = (max: number = MESSAGE_LIMITS.text) => z.string().max(max, `must be at most ${max} characters`);
/** zod 4 numbers are finite already (NaN and ±Infinity are refused). */
const byteCount = z.number().min(0, 'a byte count must not be negative');
const count = z.number().int().min(0);
/** Durations in ms: finite; not forced ≥ 0 so one odd timestamp does not refuse a whole report. */
const ms = z.number();
/** A training loss: any number, NaN and ±Infinity included (a diverged run is a result too). */
const lossValue = z.union([z.number(), z.nan(), z.literal([Infinity, -Infinity])]);

export const CategoryBytesSchema = z.record(z.enum(PLAN_CATEGORIES), byteCount);

export const AdapterSummarySchema = z.object({
  vendor: text(),
  architecture: text(),
  device: text(),
  description: text(),
  features: bounded(text(128), MESSAGE_LIMITS.features, 'features'),
  limits: z
    .record(z.string().regex(/^[A-Za-z][A-Za-z0-9]{0,63}$/, 'a limit name is a camelCase word'), z.number().min(0))
    .refine((o) => Object.keys(o).length <= MESSAGE_LIMITS.limits, `at most ${MESSAGE_LIMITS.limits} limits`),
  isFallbackAdapter: z.boolean(),
});

export const DeviceErrorReportSchema = z.object({
  kind: z.enum(DEVICE_ERROR_KINDS),
  message: text(MESSAGE_LIMITS.sentence),
  detail: text(MESSAGE_LIMITS.detail),
  reason: text(64).optional(),
  at: z.number().min(0),
});

export const RunProgressSchema = z.object({
  stage: z.enum(['allocating', 'compiling', 'step', 'done']),
  step: z.number().int().min(0).max(RUN_LIMITS.steps),
  steps: z.number().int().min(1).max(RUN_LIMITS.steps),
  loss: lossValue.optional(),
});

export const ModelSummarySchema = z.object({
  id: text(),
  name: text(),
  family: z.enum(['mlp', 'gpt2', 'bert', 'llama', 'resnet', 'vit', 'vlm', 'efficientnet', 'diffusion', 'gan', 'cnn']),
  params: count,
  trainableParams: count,
  activeParams: count.optional(),
  layers: count,
});

export const PlanTermSchema = z.object({
  category: z.enum(PLAN_CATEGORIES),
  label: text(),
  bytes: byteCount,
  formula: text(),
  source: text(),
});

export const GpuFitSchema = z.object({
  gpu: text(),
  memoryBytes: byteCount,
  fits: z.boolean(),
  // Negative when it does not fit.
  headroomBytes: z.number(),
  hostFits: z.boolean().optional(),
});

const BandBoundSchema = z.object({ bytes: byteCount, assumes: text() });
const HostPartSchema = z.object({ what: text(), bytes: byteCount, assumes: text() });
const LayoutSchema = z.object({
  tp: count,
  sp: z.boolean(),
  pp: count,
  microbatches: count,
  ppSchedule: z.enum(['1f1b', 'interleaved', 'gpipe']),
  virtualStages: count,
  cp: count,
  dp: count,
  ep: count,
  gpus: count,
  zero: z.union([z.literal(0), z.literal(1), z.literal(2), z.literal(3)]),
  shard: count,
});

export const PlanSchema = z.object({
  model: ModelSummarySchema,
  params: count,
  trainableParams: count,
  bytes: CategoryBytesSchema,
  peak: z.object({ bytes: byteCount, phase: z.enum(PHASES), alive: CategoryBytesSchema, at: text() }),
  textbook: z.object({ bytes: byteCount, formula: text() }),
  timeline: bounded(
    z.object({ label: text(), phase: z.enum(PHASES), bytes: CategoryBytesSchema, op: text().optional(), at: z.enum(OP_MOMENTS).optional() }),
    MESSAGE_LIMITS.points,
    'the plan timeline',
  ),
  overhead: z.object({ cudaContextBytes: byteCount, allocatorBytes: byteCount }),
  totalBytes: byteCount,
  fits: bounded(GpuFitSchema, MESSAGE_LIMITS.lines, 'the fit list'),
  terms: bounded(PlanTermSchema, MESSAGE_LIMITS.lines, 'the plan terms'),
  notes: bounded(text(MESSAGE_LIMITS.sentence), MESSAGE_LIMITS.lines, 'the plan notes'),
  band: z.object({ low: BandBoundSchema, expected: BandBoundSchema, high: BandBoundSchema }).optional(),
  layout: LayoutSchema.optional(),
  devices: bounded(
    z.object({ rank: text(), stage: z.number().int().min(0), gpus: count, peakBytes: byteCount, totalBytes: byteCount, bytes: CategoryBytesSchema, hostBytes: byteCount }),
    MESSAGE_LIMITS.lines,
    'the per-device figures',
  ).optional(),
  host: z
    .object({
      bytesPerNode: byteCount,
      bytesPerGpu: byteCount,
      nvmeBytesPerNode: byteCount,
      gpusPerNode: count,
      budgetBytes: byteCount.optional(),
      fits: z.boolean().optional(),
      parts: bounded(HostPartSchema, MESSAGE_LIMITS.lines, 'the host parts'),
    })
    .optional(),
});

/** The config a report names: an mlp, GPT, Llama or CNN run config, chosen by `model` (no guessing between them). */
export const EngineRunConfigSchema = z.discriminatedUnion('model', [RunConfigSchema, GptRunConfigSchema, LlamaRunConfigSchema, CnnRunConfigSchema]);

/** A report of either model: the same measurement, with the config that ran (see EngineRunReport). */
export const RunReportSchema = z.object({
  adapter: AdapterSummarySchema,
  config: EngineRunConfigSchema,
  estimate: PlanSchema,
  actual: z.object({
    peakBytes: byteCount,
    bytes: CategoryBytesSchema,
    aliveAtPeak: CategoryBytesSchema,
    allocatedPeakBytes: byteCount,
    physicalPeakBytes: byteCount,
    stagingBytes: byteCount,
    liveAfterDisposeBytes: byteCount,
  }),
  timing: z.object({
    warmupMs: ms,
    warmupPipelines: count,
    stepMs: ms,
    stepsMs: bounded(ms, RUN_LIMITS.steps, 'step times'),
    recordMs: ms,
    phasesMs: z.record(z.enum(PHASE_NAMES), ms),
    source: z.enum(['timestamp-query', 'wall-clock']),
  }),
  loss: bounded(lossValue, RUN_LIMITS.steps, 'loss'),
  skippedSteps: count,
  // op -1 is the setup before the first op (engine/ledger.ts SETUP_OP).
  timeline: bounded(
    z.object({
      op: z.number().int().min(-1),
      label: text(),
      event: z.enum(['create', 'destroy']),
      name: text(),
      category: z.enum(PLAN_CATEGORIES).nullable(),
      tensorBytes: byteCount,
      bytes: CategoryBytesSchema,
    }),
    MESSAGE_LIMITS.points,
    'the run timeline',
  ),
  aliveAtEnd: bounded(z.object({ name: text(), category: z.enum(PLAN_CATEGORIES), bytes: byteCount }), MESSAGE_LIMITS.points, 'the tensors alive'),
  work: z.object({
    flops: z.record(z.enum(PHASE_NAMES), count),
    totalFlops: count,
    matmulFlops: count,
    dispatches: count,
    computePasses: count,
    clears: count,
    readbacks: count,
    submits: count,
  }),
});

/** measureThroughput()'s answer: a rate the page divides FLOPs by, so it must be above 0. */
export const ThroughputReportSchema = z.object({
  gflops: z.number().positive('a throughput must be more than 0'),
  ms: z.number().positive('a measured time must be more than 0'),
  flops: z.number().positive('a FLOP count must be more than 0'),
});

/**
 * The value if `schema` accepts it, else throws an Error named BadWorkerMessage saying which
 * message (`what`, e.g. 'the run report') and which field. Returns zod's copy: fields the
 * schema does not know are dropped.
 */
export function parseWorkerMessage<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const field = issue.path.map(String).join('.') || 'the message';
  const e = new Error(
    clip(`The engine worker sent ${what} this page cannot read (${field}: ${issue.message}); reload the page, and report a bug if it happens again`),
  );
  e.name = BAD_WORKER_MESSAGE;
  throw e;
}

function clip(s: string): string {
  return s.length > MESSAGE_LIMITS.sentence ? `${s.slice(0, MESSAGE_LIMITS.sentence - 1)}…` : s;
}

// Compile-time: each schema's output is exactly its protocol type. `Same` is strict about
// optional fields too (mutual `extends` is not: `{}` and `{ a?: 1 }` extend each other).
export type Same<A, B> = (<X>() => X extends A ? 1 : 2) extends <X>() => X extends B ? 1 : 2 ? true : false;
const SCHEMAS_MATCH_TYPES: [
  Same<z.infer<typeof AdapterSummarySchema>, AdapterSummary>,
  Same<z.infer<typeof DeviceErrorReportSchema>, DeviceErrorReport>,
  Same<z.infer<typeof RunProgressSchema>, RunProgress>,
  Same<z.infer<typeof CategoryBytesSchema>, CategoryBytes>,
  Same<z.infer<typeof ModelSummarySchema>, ModelSummary>,
  Same<z.infer<typeof PlanTermSchema>, PlanTerm>,
  Same<z.infer<typeof GpuFitSchema>, GpuFit>,
  Same<z.infer<typeof PlanSchema>, Plan>,
  Same<z.infer<typeof EngineRunConfigSchema>, EngineRunConfig>,
  Same<z.infer<typeof RunReportSchema>, EngineRunReport>,
  Same<z.infer<typeof ThroughputReportSchema>, ThroughputReport>,
] = [true, true, true, true, true, true, true, true, true, true, true];
void SCHEMAS_MATCH_TYPES;
