/**
 * The CLI's `--json` outputs as a stable contract: every object names its kind and version in a
 * `schema` field ("vramlab.estimate/1"), and the zod schemas here are the source of the JSON
 * Schemas shipped in the package (scripts/build-cli.mjs writes lib/schemas/<kind>.schema.json).
 * A version goes up when a field is removed, renamed or changes meaning; added fields keep it.
 */
import { z } from 'zod';
import { CategoryBytesSchema, PlanSchema, RunReportSchema } from './messages.ts';

export const OUTPUT_SCHEMAS = {
  estimate: 'vramlab.estimate/1',
  fit: 'vramlab.fit/1',
  run: 'vramlab.run/1',
  'run-sweep': 'vramlab.run-sweep/1',
  bench: 'vramlab.bench/1',
  'bench-ab': 'vramlab.bench-ab/1',
  compare: 'vramlab.compare/1',
} as const;
export type OutputKind = keyof typeof OUTPUT_SCHEMAS;

/** The object as printed: `schema` first, so a reader sees what it holds before anything else. */
export function withSchema<K extends OutputKind, T extends object>(kind: K, value: T): { schema: (typeof OUTPUT_SCHEMAS)[K] } & T {
  return { schema: OUTPUT_SCHEMAS[kind], ...value };
}

const tag = <K extends OutputKind>(kind: K) => ({ schema: z.literal(OUTPUT_SCHEMAS[kind]) });

/**
 * JSON has no NaN or Infinity: JSON.stringify writes them as null, which a diverged run's loss
 * can be. The output schemas say so; the worker-message schemas keep the numbers.
 */
const jsonNumber = z.number().nullable();
const ms = z.number();
const byteCount = z.number().min(0);

export const EstimateOutputSchema = PlanSchema.extend(tag('estimate'));

export const RunOutputSchema = RunReportSchema.extend({ ...tag('run'), loss: z.array(jsonNumber) });

const sweepTiming = RunReportSchema.shape.timing;
export const RunSweepOutputSchema = z.union([
  z.object({
    ...tag('run-sweep'),
    point: z.record(z.string(), z.number()),
    estimate: z.object({ peakBytes: byteCount, bytes: CategoryBytesSchema }),
    actual: z.object({ peakBytes: byteCount, bytes: CategoryBytesSchema, allocatedPeakBytes: byteCount, liveAfterDisposeBytes: byteCount }),
    timing: sweepTiming,
    loss: z.tuple([jsonNumber, jsonNumber]),
  }),
  z.object({ ...tag('run-sweep'), point: z.record(z.string(), z.number()), error: z.object({ name: z.string(), message: z.string() }) }),
]);

/** A training step's launches (RunReport.work's counts). */
const launchCounts = z.object({
  dispatches: z.number().int().min(0),
  computePasses: z.number().int().min(0),
  clears: z.number().int().min(0),
  readbacks: z.number().int().min(0),
  submits: z.number().int().min(0),
});

const EngineResultSchema = z.object({
  ms,
  gflops: z.number(),
  iters: z.number().int().min(0),
  peakBytes: byteCount,
  allocatedBytes: byteCount,
  allocatedOverPeak: z.number(),
  loss: z.number().optional(),
  recordMs: ms.optional(),
  /** vramlab training steps: what one step launches. */
  counts: launchCounts.optional(),
});
const EngineOutcomeSchema = z.union([EngineResultSchema, z.object({ error: z.string() })]);

/** b against a, alternated (bench.ts VariantComparison). */
const variantComparison = z.object({ rounds: z.number(), aMs: z.number(), bMs: z.number(), speedup: z.object({ median: z.number(), min: z.number(), max: z.number() }) });

/** One line of `vramlab bench --json`, less its `schema` tag (cli/bench.ts's BenchLine is checked against it). */
export const BenchLineSchema = z.object({
  work: z.string(),
  kind: z.enum(['matmul', 'mlp', 'gpt']),
  shape: z.record(z.string(), z.number()),
  precision: z.enum(['fp32', 'amp-bf16', 'amp-fp16']),
  flops: z.number(),
  vramlab: EngineOutcomeSchema,
  tfjs: EngineOutcomeSchema.nullable(),
  vramlabOverTfjs: z.number().nullable(),
  pairRatio: z
    .object({ of: z.literal('tfjs ms / vramlab ms, per alternated pair'), pairs: z.number().int().min(1), median: z.number(), q1: z.number(), q3: z.number(), min: z.number(), max: z.number() })
    .nullable(),
  driver: z.union([z.object({ driverBytes: z.number(), ledgerBytes: z.number(), ratio: z.number() }), z.object({ error: z.string() })]).optional(),
  againstPlain: z
    .union([
      z.object({
        rounds: z.number(),
        tiledMs: z.number(),
        plainMs: z.number(),
        speedup: z.object({ median: z.number(), min: z.number(), max: z.number() }),
      }),
      z.object({ error: z.string() }),
    ])
    .optional(),
  splitK: z.union([variantComparison.extend({ M: z.number(), N: z.number(), K: z.number(), slices: z.number(), autoSlices: z.number() }), z.object({ error: z.string() })]).optional(),
  prefetch: z.union([z.object({ f32: variantComparison, bf16: variantComparison }), z.object({ error: z.string() })]).optional(),
  adapter: z.object({ name: z.string(), features: z.array(z.string()), fallback: z.boolean(), tiles: z.string() }),
  timing: z.literal('wall-clock'),
});
export const BenchOutputSchema = BenchLineSchema.extend(tag('bench'));

const pair = <T extends z.ZodType>(t: T) => z.object({ a: t, b: t });

/** One line of `vramlab bench --ab --json`, less its `schema` tag (cli/bench.ts's AbLine is checked against it). */
export const BenchAbLineSchema = z.object({
  work: z.string(),
  kind: z.enum(['mlp', 'gpt']),
  shape: z.record(z.string(), z.number()),
  launches: pair(z.enum(['fused', 'per-tensor'])),
  iters: z.number().int().min(1),
  cpuMsPerStep: pair(ms),
  wallMsPerStep: pair(ms),
  ratio: z.object({ of: z.literal('cpu b / cpu a, per pair of steps'), median: z.number(), q1: z.number(), q3: z.number(), min: z.number(), max: z.number() }),
  counts: pair(launchCounts),
  loss: pair(jsonNumber),
  adapter: z.string(),
  loadAverage: z.tuple([z.number(), z.number(), z.number()]),
  cpus: z.number().int().min(1),
});
export const BenchAbOutputSchema = BenchAbLineSchema.extend(tag('bench-ab'));

/** The outputs that have a JSON Schema in the package, by file name (lib/schemas/<name>.schema.json). */
export const OUTPUT_ZOD_SCHEMAS = {
  estimate: EstimateOutputSchema,
  run: RunOutputSchema,
  'run-sweep': RunSweepOutputSchema,
  bench: BenchOutputSchema,
  'bench-ab': BenchAbOutputSchema,
} as const;

/**
 * The JSON Schema (draft 2020-12) of each output, from the zod schemas above. Refinements with
 * no JSON Schema form (the length checks that run before parsing) are left out; the shapes,
 * enums and bounds remain.
 */
export function outputJsonSchemas(): Record<keyof typeof OUTPUT_ZOD_SCHEMAS, Record<string, unknown>> {
  const out = {} as Record<keyof typeof OUTPUT_ZOD_SCHEMAS, Record<string, unknown>>;
  for (const [name, schema] of Object.entries(OUTPUT_ZOD_SCHEMAS) as [keyof typeof OUTPUT_ZOD_SCHEMAS, z.ZodType][]) {
    const json = z.toJSONSchema(schema, { unrepresentable: 'any', io: 'output' }) as Record<string, unknown>;
    out[name] = { title: `vramlab ${name} --json output (${OUTPUT_SCHEMAS[name]})`, ...json };
  }
  return out;
}
