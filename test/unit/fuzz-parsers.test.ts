/**
 * Property-based fuzzing of every parser of untrusted input: CLI flags, Hugging Face
 * config.json, RunConfig and PlanConfig objects, URL state and worker messages. Each must
 * either return a valid value or throw its own named error (UsageError, EstimateError,
 * ConfigError, BadWorkerMessage), never anything else; decodePlanState must never throw.
 * fast-check prints the seed and the shrunk counterexample of a failure: rerun it with
 * `{ seed, path }` in the assert options.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ESTIMATE_FLAGS, RUN_FLAGS, UsageError, parseEstimateArgs, parseRunArgs, type FlagSpec } from '../../src/cli/args.ts';
import { EstimateError, MODEL_IDS, estimate } from '../../src/estimate/index.ts';
import { GPU_IDS, chosenGpu, fitList } from '../../src/estimate/gpus.ts';
import { parseHfConfig } from '../../src/estimate/hf.ts';
import {
  ACTIVATIONS,
  ATTENTIONS,
  CHECKPOINTS,
  ConfigError,
  DEFAULT_PLAN,
  FRAMEWORKS,
  LIMITS,
  MODES,
  OPTIMIZERS,
  PRECISIONS,
  PlanConfigSchema,
  parsePlanConfig,
  type PlanConfig,
} from '../../src/protocol/config.ts';
import { DEVICE_ERROR_KINDS } from '../../src/protocol/engine-api.ts';
import {
  AdapterSummarySchema,
  BAD_WORKER_MESSAGE,
  DeviceErrorReportSchema,
  MESSAGE_LIMITS,
  RunProgressSchema,
  RunReportSchema,
  ThroughputReportSchema,
  parseWorkerMessage,
} from '../../src/protocol/messages.ts';
import { PLAN_CATEGORIES, zeroCategories } from '../../src/protocol/plan.ts';
import {
  DEFAULT_RUN,
  PHASE_NAMES,
  RUN_LIMITS,
  parseGptRunConfig,
  parseRunConfig,
  planConfigOf,
  type RunConfig,
  type RunReport,
} from '../../src/protocol/run.ts';
import { parseCnnRunConfig } from '../../src/protocol/cnn.ts';
import { MAX_SEARCH_LENGTH, decodePlanState, encodePlanState } from '../../src/protocol/url.ts';
import { stepWork } from '../../src/estimate/vramlab-work.ts';

/** Runs (or throws) `f`; the error it threw, or undefined. */
function thrown(f: () => unknown): unknown {
  try {
    f();
    return undefined;
  } catch (err) {
    return err;
  }
}

const isPosInt = (n: unknown) => Number.isSafeInteger(n) && (n as number) >= 1;
const isNonNegInt = (n: unknown) => Number.isSafeInteger(n) && (n as number) >= 0;
/** Finite, ≥ 0 and whole (possibly past 2^53). */

// ---------------------------------------------------------------------------------------
// Values a user might type, or a fuzzer should: numbers in every spelling, empty, huge, unicode.

const nastyNumber = fc.constantFrom(
  '0', '1', '8', '-0', '-1', '-3', '+8', '08', '1e3', '1E3', '1e-3', '0x10', '0b1', '0o7', '1.5', '.5', '5.', '1_000',
  ' 8', '8 ', '', ' ', 'NaN', 'Infinity', '-Infinity', '99999999999999999999', '9007199254740993', '1e308', '1e309',
  '4294967295', '4294967296', '1048576', '1048577', '4194304', '4194305', '٣', '８', '1\u200b', '1\n2', 'null', 'true',
);
const word = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'grapheme', maxLength: 8 }),
  fc.string({ unit: 'binary', maxLength: 8 }),
);

function flagToken(flags: readonly FlagSpec[]): fc.Arbitrary<string[]> {
  const names = flags.map((f) => f.name);
  const value = (f: FlagSpec): fc.Arbitrary<string> =>
    fc.oneof(
      { weight: 3, arbitrary: f.values ? fc.constantFrom(...f.values) : fc.integer({ min: 0, max: 1 << 22 }).map(String) },
      { weight: 2, arbitrary: nastyNumber },
      { weight: 1, arbitrary: word },
    );
  const flag = fc.constantFrom(...flags);
  return fc.oneof(
    { weight: 6, arbitrary: flag.chain((f) => (f.kind === 'bool' ? fc.constant<string[]>([`--${f.name}`]) : value(f).map((v): string[] => [`--${f.name}`, v]))) },
    { weight: 2, arbitrary: flag.chain((f) => value(f).map((v) => [`--${f.name}=${v}`])) },
    { weight: 1, arbitrary: fc.constantFrom(...names).map((n) => [`--${n}`]) },
    {
      weight: 1,
      arbitrary: fc.oneof(word, nastyNumber, fc.constantFrom('--', '-', '-h', '-x', '---batch', '--no-json', '--json=1', '--BATCH', '--__proto__', '--constructor')).map((t) => [t]),
    },
  );
}

const argvOf = (flags: readonly FlagSpec[]) => fc.array(flagToken(flags), { maxLength: 10 }).map((ts) => ts.flat());

const FIXTURES = ['gpt2', 'bert-base-cased', 'llama-3.2-1b', 'qwen2.5-0.5b', 'gemma-2b'].map((n) =>
  JSON.parse(readFileSync(new URL(`../fixtures/${n}.config.json`, import.meta.url), 'utf8')) as Record<string, unknown>,
);

describe('CLI arguments', () => {
  // What --hf-config reads: a real config, random JSON, garbage text, or no file at all.
  const fileText = fc.option(
    fc.oneof(fc.constantFrom(...FIXTURES.map((f) => JSON.stringify(f))), fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)), word),
    { nil: null },
  );

  it('vramlab estimate: a valid PlanConfig or a UsageError, nothing else', () => {
    fc.assert(
      fc.property(argvOf(ESTIMATE_FLAGS), fileText, (argv, text) => {
        const readText = () => {
          if (text === null) throw Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' });
          return text;
        };
        let args;
        try {
          args = parseEstimateArgs(argv, { readText });
        } catch (err) {
          expect(err).toBeInstanceOf(UsageError);
          expect((err as UsageError).message.length).toBeGreaterThan(0);
          return;
        }
        const c = args.config;
        expect(parsePlanConfig(c)).toEqual(c);
        for (const n of [c.batch, c.seq, c.imageSize, c.gpus, c.mlp.d, c.mlp.hidden, c.mlp.layers]) expect(isPosInt(n), String(n)).toBe(true);
        expect(isNonNegInt(c.loraRank)).toBe(true);
        if (c.microBatch !== undefined) expect(isPosInt(c.microBatch) && c.batch % c.microBatch === 0).toBe(true);
        if (c.gpuMemoryGiB !== undefined) expect(Number.isFinite(c.gpuMemoryGiB) && c.gpuMemoryGiB > 0).toBe(true);
        if (c.model === 'hf') expect(typeof c.hfConfig).toBe('object');
      }),
      { numRuns: 3000 },
    );
  });

  it('vramlab run: a valid RunConfig or a UsageError, nothing else', () => {
    fc.assert(
      fc.property(argvOf(RUN_FLAGS), (argv) => {
        let args;
        try {
          args = parseRunArgs(argv);
        } catch (err) {
          expect(err).toBeInstanceOf(UsageError);
          return;
        }
        const c = args.config;
        if (c.model === 'gpt') {
          expect(parseGptRunConfig(c)).toEqual(c);
          for (const n of [c.vocab, c.dModel, c.heads, c.layers, c.seq, c.batch, c.steps]) expect(isPosInt(n), String(n)).toBe(true);
        } else if (c.model === 'mlp') {
          expect(parseRunConfig(c)).toEqual(c);
          for (const n of [c.d, c.hidden, c.layers, c.batch, c.steps]) expect(isPosInt(n), String(n)).toBe(true);
        } else if ('blocks' in c) {
          expect(parseCnnRunConfig(c)).toEqual(c);
          for (const n of [c.blocks, c.width, c.batch, c.steps]) expect(isPosInt(n), String(n)).toBe(true);
        }
        for (const p of args.sweep?.points ?? []) expect(p.config.model).toBe(c.model);
        expect(isNonNegInt(c.seed)).toBe(true);
        if (c.lr !== undefined) expect(Number.isFinite(c.lr) && c.lr > 0).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });
});

// ---------------------------------------------------------------------------------------
// Hugging Face config.json

const HF_FIELDS = [
  'model_type', 'architectures', 'vocab_size', 'n_embd', 'n_layer', 'n_head', 'n_positions', 'n_inner', 'activation_function',
  'attn_pdrop', 'resid_pdrop', 'tie_word_embeddings', 'hidden_size', 'num_hidden_layers', 'num_attention_heads',
  'intermediate_size', 'max_position_embeddings', 'type_vocab_size', 'hidden_act', 'hidden_dropout_prob',
  'num_key_value_heads', 'head_dim', 'attention_bias', 'mlp_bias', 'hidden_activation',
] as const;
const HF_TYPES = ['gpt2', 'bert', 'llama', 'mistral', 'qwen2', 'gemma', 'gemma2'] as const;

/** A value for a config.json field: mostly plausible sizes, often edge cases, sometimes anything. */
const hfValue = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 4096 }) },
  { weight: 2, arbitrary: fc.constantFrom(0, -1, 1, 2, 3, 7, 64, 1 << 20, (1 << 20) + 1, 1 << 24, (1 << 24) + 1, 4096, 4097, 2 ** 53, 1.5, 1e-9, -0) },
  { weight: 1, arbitrary: fc.double() },
  { weight: 1, arbitrary: fc.constantFrom(true, false, null, 'gelu', 'silu', 'gelu_new', 'gelu_pytorch_tanh', '12', '') },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
);
const architectures = fc.oneof(
  fc.constantFrom(['LlamaForCausalLM'], ['GPT2LMHeadModel'], ['BertForMaskedLM'], ['BertModel'], ['Foo'], [], ['X', 'Y']),
  fc.array(fc.string({ maxLength: 20 }), { maxLength: 3 }),
  fc.jsonValue({ maxDepth: 1 }),
);
/** Sizes that fit together (kv heads divide heads, heads × headDim = hidden), small or at the bounds. */
const hfShape = fc.record({
  kvHeads: fc.oneof(fc.integer({ min: 1, max: 16 }), fc.constantFrom(1 << 10)),
  group: fc.integer({ min: 1, max: 8 }),
  headDim: fc.oneof(fc.integer({ min: 1, max: 256 }), fc.constantFrom(1, 64, 128, 1 << 10)),
  // A 4096-layer plan takes ~50 ms: rare, so the file stays fast.
  layers: fc.oneof({ weight: 39, arbitrary: fc.integer({ min: 1, max: 64 }) }, { weight: 1, arbitrary: fc.constant(4096) }),
  vocab: fc.oneof(fc.integer({ min: 1, max: 1 << 17 }), fc.constantFrom(1, 1 << 24)),
  intermediate: fc.oneof(fc.integer({ min: 1, max: 1 << 16 }), fc.constantFrom(1, 1 << 22)),
  positions: fc.integer({ min: 1, max: 1 << 16 }),
  tied: fc.boolean(),
});
/**
 * config.json objects with the real field names for their model_type, mostly consistent,
 * then up to three fields (any of them, of any family) set to random values.
 */
const hfObject = fc
  .tuple(
    fc.constantFrom(...HF_TYPES),
    hfShape,
    fc.option(architectures, { nil: undefined }),
    fc.array(fc.tuple(fc.constantFrom(...HF_FIELDS), hfValue), { maxLength: 3 }),
  )
  .map(([type, d, archs, overrides]) => {
    const heads = d.kvHeads * d.group;
    const hidden = heads * d.headDim;
    const base: Record<string, unknown> =
      type === 'gpt2'
        ? { n_embd: hidden, n_layer: d.layers, n_head: heads, n_positions: d.positions, n_inner: d.intermediate, tie_word_embeddings: d.tied }
        : type === 'bert'
          ? { hidden_size: hidden, num_hidden_layers: d.layers, num_attention_heads: heads, intermediate_size: d.intermediate, max_position_embeddings: d.positions }
          : {
              hidden_size: hidden,
              num_hidden_layers: d.layers,
              num_attention_heads: heads,
              num_key_value_heads: d.kvHeads,
              head_dim: d.headDim,
              intermediate_size: d.intermediate,
              tie_word_embeddings: d.tied,
            };
    const c: Record<string, unknown> = { model_type: type, vocab_size: d.vocab, ...base, ...(archs === undefined ? {} : { architectures: archs }) };
    for (const [k, v] of overrides) c[k] = v;
    return c;
  });
/** A real config with one field set to a random value, or removed. */
const mutatedFixture = fc
  .tuple(fc.constantFrom(...FIXTURES), fc.oneof(fc.constantFrom(...HF_FIELDS), fc.string({ maxLength: 8 })), fc.option(hfValue, { nil: undefined }))
  .map(([f, key, value]) => {
    const c: Record<string, unknown> = { ...f };
    if (value === undefined) delete c[key];
    else c[key] = value;
    return c;
  });

describe('parseHfConfig', () => {
  const small = { ...DEFAULT_PLAN, model: 'hf', batch: 2, seq: 64 } satisfies PlanConfig;

  function check(json: unknown) {
    let spec;
    try {
      spec = parseHfConfig(json);
    } catch (err) {
      expect(err).toBeInstanceOf(EstimateError);
      expect((err as Error).message).toMatch(/config\.json/);
      return;
    }
    for (const k of ['vocab', 'hidden', 'layers', 'heads', 'kvHeads', 'headDim', 'intermediate'] as const) expect(isPosInt(spec[k]), `${k} ${spec[k]}`).toBe(true);
    expect(isNonNegInt(spec.maxPositions) && isNonNegInt(spec.typeVocab)).toBe(true);
    expect(spec.heads % spec.kvHeads).toBe(0);
    // The planner must cope with every spec the importer accepts: integers, or a sentence.
    for (const mode of ['train', 'inference'] as const) {
      let plan;
      try {
        plan = estimate({ ...small, mode, hfConfig: json });
      } catch (err) {
        expect(err).toBeInstanceOf(EstimateError);
        continue;
      }
      for (const c of PLAN_CATEGORIES) expect(Number.isSafeInteger(plan.bytes[c]) && plan.bytes[c] >= 0, `${c} ${plan.bytes[c]}`).toBe(true);
      expect(Number.isSafeInteger(plan.peak.bytes) && Number.isSafeInteger(plan.totalBytes) && Number.isSafeInteger(plan.params)).toBe(true);
    }
  }

  it('random JSON: a spec or an EstimateError', () => {
    fc.assert(fc.property(fc.jsonValue(), check), { numRuns: 2000 });
  });

  it('objects with the real field names and random values', () => {
    fc.assert(fc.property(hfObject, check), { numRuns: 2000 });
  });

  it('real configs with one field changed or removed', () => {
    fc.assert(fc.property(mutatedFixture, check), { numRuns: 2000 });
  });

  // Found by the property above: each size is bounded on its own, not their product, so the
  // planner refuses a model whose bytes would pass 2^53 (where byte counts stop being exact).
  it('a config whose bytes pass 2^53 is refused', () => {
    const huge = { model_type: 'gpt2', vocab_size: 1, n_embd: 161792, n_layer: 4096, n_head: 2048, n_positions: 1, n_inner: 1, tie_word_embeddings: false };
    const err = thrown(() => {
      const plan = estimate({ ...small, hfConfig: huge });
      expect(Number.isSafeInteger(plan.peak.bytes), `peak ${plan.peak.bytes} B`).toBe(true);
    });
    expect(err).toBeInstanceOf(EstimateError);
  });

  it('the real configs themselves are accepted', () => {
    for (const f of FIXTURES) expect(() => parseHfConfig(f)).not.toThrow();
  });
});

// ---------------------------------------------------------------------------------------
// PlanConfig and RunConfig objects

const anyValue = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: -2, max: 1 << 23 }) },
  { weight: 1, arbitrary: fc.constantFrom(0, -0, 1, 1.5, NaN, Infinity, -Infinity, 2 ** 53, 2 ** 32, Number.MAX_VALUE, Number.MIN_VALUE) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      ...PRECISIONS, ...OPTIMIZERS, ...CHECKPOINTS, ...ATTENTIONS, ...FRAMEWORKS, ...MODES, ...ACTIVATIONS, 'mlp', 'hf', 'gpt2-small', '',
    ),
  },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.anything({ maxDepth: 1 }) },
);

describe('parsePlanConfig and parseRunConfig', () => {
  const planObject = fc.record(
    {
      ...Object.fromEntries(Object.keys(DEFAULT_PLAN).filter((k) => k !== 'mlp').map((k) => [k, anyValue])),
      microBatch: anyValue,
      gpuMemoryGiB: anyValue,
      hfConfig: fc.anything({ maxDepth: 1 }),
      mlp: fc.oneof(fc.record({ d: anyValue, hidden: anyValue, layers: anyValue, activation: anyValue }, { requiredKeys: [] }), anyValue),
    },
    { requiredKeys: [] },
  );
  // Mostly valid objects with a few fields changed: they reach the cross-field rules.
  const nearPlan = fc.tuple(planObject, fc.boolean()).map(([o, keepMlp]) => ({ ...DEFAULT_PLAN, ...o, ...(keepMlp ? { mlp: DEFAULT_PLAN.mlp } : {}) }));

  it('PlanConfig: valid or a ConfigError naming a field', () => {
    fc.assert(
      fc.property(fc.oneof(planObject, nearPlan, fc.anything()), (input) => {
        let c: PlanConfig;
        try {
          c = parsePlanConfig(input);
        } catch (err) {
          expect(err).toBeInstanceOf(ConfigError);
          expect((err as ConfigError).field.length).toBeGreaterThan(0);
          return;
        }
        expect(parsePlanConfig(c)).toEqual(c);
        for (const n of [c.batch, c.seq, c.imageSize, c.gpus, c.mlp.d, c.mlp.hidden, c.mlp.layers]) expect(isPosInt(n)).toBe(true);
        expect(c.batch <= LIMITS.batch && c.seq <= LIMITS.seq).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  const runObject = fc.record(
    {
      ...Object.fromEntries(Object.keys(DEFAULT_RUN).map((k) => [k, anyValue])),
      lr: fc.oneof(anyValue, fc.double()),
    },
    { requiredKeys: [] },
  );
  const nearRun = runObject.map((o) => ({ ...DEFAULT_RUN, ...o }));

  it('RunConfig: valid or a ConfigError naming a field', () => {
    fc.assert(
      fc.property(fc.oneof(runObject, nearRun, fc.anything()), (input) => {
        let c: RunConfig;
        try {
          c = parseRunConfig(input);
        } catch (err) {
          expect(err).toBeInstanceOf(ConfigError);
          return;
        }
        expect(parseRunConfig(c)).toEqual(c);
        for (const n of [c.d, c.hidden, c.layers, c.batch, c.steps]) expect(isPosInt(n)).toBe(true);
        expect(isNonNegInt(c.seed) && c.seed < 2 ** 32).toBe(true);
        if (c.lr !== undefined) expect(c.lr > 0 && c.lr <= 10).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });
});

// ---------------------------------------------------------------------------------------
// URL state

const URL_KEYS = ['m', 'd', 'h', 'l', 'act', 'img', 'mode', 'b', 'mb', 's', 'p', 'o', 'c', 'a', 'lr', 'q', 'z', 'g', 'f', 'gm', 'gpu'] as const;

/** Every PlanConfig the URL can hold: a known model (not hf) and every field anywhere in its range. */
const validPlan: fc.Arbitrary<PlanConfig> = fc
  .record({
    model: fc.constantFrom(...MODEL_IDS),
    mlp: fc.record({
      d: fc.oneof(fc.integer({ min: 1, max: LIMITS.d }), fc.constantFrom(1, LIMITS.d)),
      hidden: fc.integer({ min: 1, max: LIMITS.hidden }),
      layers: fc.integer({ min: 1, max: LIMITS.layers }),
      activation: fc.constantFrom(...ACTIVATIONS),
    }),
    imageSize: fc.integer({ min: 1, max: LIMITS.imageSize }),
    mode: fc.constantFrom(...MODES),
    micro: fc.integer({ min: 1, max: 64 }),
    accum: fc.integer({ min: 1, max: 64 }),
    hasMicro: fc.boolean(),
    bigBatch: fc.option(fc.integer({ min: 1, max: LIMITS.batch }), { nil: undefined }),
    seq: fc.oneof(fc.integer({ min: 1, max: LIMITS.seq }), fc.constant(DEFAULT_PLAN.seq)),
    precision: fc.constantFrom(...PRECISIONS),
    optimizer: fc.constantFrom(...OPTIMIZERS),
    checkpoint: fc.constantFrom(...CHECKPOINTS),
    attention: fc.constantFrom(...ATTENTIONS),
    loraRank: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: LIMITS.loraRank })),
    qlora: fc.boolean(),
    zero: fc.constantFrom(0, 1, 2, 3),
    gpus: fc.integer({ min: 1, max: LIMITS.gpus }),
    framework: fc.constantFrom(...FRAMEWORKS),
    gpuMemoryGiB: fc.option(
      fc.oneof(fc.double({ min: Number.MIN_VALUE, max: LIMITS.gpuMemoryGiB, noNaN: true }), fc.constantFrom(24, 79.5, 1e-7, LIMITS.gpuMemoryGiB)),
      { nil: undefined },
    ),
    gpu: fc.option(fc.constantFrom(...GPU_IDS), { nil: undefined }),
  })
  .map(({ micro, accum, hasMicro, bigBatch, ...c }) => {
    const out: PlanConfig = { ...c, batch: bigBatch ?? micro * accum };
    if (hasMicro && bigBatch === undefined) out.microBatch = micro;
    if (c.gpuMemoryGiB === undefined) delete out.gpuMemoryGiB;
    // A typed size and a catalog card are alternatives: the schema refuses both.
    if (c.gpu === undefined || c.gpuMemoryGiB !== undefined) delete out.gpu;
    return out;
  })
  .filter((c) => PlanConfigSchema.safeParse(c).success);

/** Query strings built from the real keys with values good, bad and odd, keys repeated. */
const queryPairs = fc.array(
  fc.tuple(
    fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...URL_KEYS) }, { weight: 1, arbitrary: fc.string({ maxLength: 4 }) }),
    fc.oneof(
      nastyNumber,
      fc.constantFrom(...MODEL_IDS, 'hf', ...GPU_IDS, ...PRECISIONS, ...OPTIMIZERS, ...CHECKPOINTS, ...MODES, '0', '1', '2', '3', '4'),
      fc.integer({ min: 0, max: 1 << 22 }).map(String),
      word,
    ),
  ),
  { maxLength: 24 },
);
const percentGarbage = fc
  .array(fc.constantFrom('%', '%2', '%zz', '%E0%A4%A', '%C0%80', '%FF', '%00', '%25', '%26', '%3D', '&', '=', '+', '?', '#', 'b', 'm', '8', 'é', '\u0000', '\ud800'), {
    maxLength: 40,
  })
  .map((parts) => parts.join(''));
const search = fc.oneof(
  { weight: 4, arbitrary: queryPairs.map((ps) => new URLSearchParams(ps).toString()) },
  { weight: 2, arbitrary: queryPairs.map((ps) => ps.map(([k, v]) => `${k}=${v}`).join('&')) },
  { weight: 2, arbitrary: percentGarbage },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 64 }) },
  { weight: 1, arbitrary: validPlan.map((c) => `?${encodePlanState(c)}`) },
);

describe('URL state', () => {
  function checkDecoded(s: string) {
    const { config, problems } = decodePlanState(s);
    expect(parsePlanConfig(config)).toEqual(config);
    expect(MODEL_IDS).toContain(config.model);
    expect(config.hfConfig).toBeUndefined();
    expect(problems.every((p) => typeof p === 'string' && p.length > 0 && p.length < 1000)).toBe(true);
    // At most a value problem and a repeat per key, plus one cross-field reset per field.
    expect(problems.length).toBeLessThanOrEqual(3 * URL_KEYS.length);
    return { config, problems };
  }

  it('decode never throws and always gives a config parsePlanConfig accepts', () => {
    fc.assert(fc.property(search, (s) => void checkDecoded(s)), { numRuns: 5000 });
  });

  it('decode then encode is stable: what a URL means is what it rewrites to', () => {
    fc.assert(
      fc.property(search, (s) => {
        const { config } = checkDecoded(s);
        const again = decodePlanState(encodePlanState(config));
        expect(again).toEqual({ config, problems: [] });
      }),
      { numRuns: 2000 },
    );
  });

  it('very long query strings are refused whole, with one sentence', () => {
    fc.assert(
      fc.property(fc.string({ minLength: MAX_SEARCH_LENGTH + 1, maxLength: MAX_SEARCH_LENGTH + 200 }), (s) => {
        const { config, problems } = checkDecoded(s);
        expect(config).toEqual(DEFAULT_PLAN);
        expect(problems).toHaveLength(1);
        expect(problems[0]).toContain(String(MAX_SEARCH_LENGTH));
      }),
      { numRuns: 50 },
    );
    // Just under the bound is read as usual.
    const longOk = `b=4&${'x=1&'.repeat((MAX_SEARCH_LENGTH - 8) / 4)}`.slice(0, MAX_SEARCH_LENGTH);
    expect(decodePlanState(longOk).config.batch).toBe(4);
  });

  it('round-trips every config the URL can hold, with no problems', () => {
    fc.assert(
      fc.property(validPlan, (c) => {
        const s = encodePlanState(c);
        expect(s.length).toBeLessThan(300);
        expect(decodePlanState(s)).toEqual({ config: c, problems: [] });
        expect(decodePlanState(`?${s}`)).toEqual({ config: c, problems: [] });
        // Only what differs from the defaults is written.
        const keys = [...new URLSearchParams(s).keys()];
        expect(new Set(keys).size).toBe(keys.length);
      }),
      { numRuns: 3000 },
    );
  });

  it('an hf plan keeps everything but the config.json, which is never put in the URL', () => {
    fc.assert(
      fc.property(validPlan, (c) => {
        const hf: PlanConfig = { ...c, model: 'hf', hfConfig: FIXTURES[0] };
        const s = encodePlanState(hf);
        expect(s).not.toContain('vocab');
        expect(decodePlanState(s)).toEqual({ config: { ...c, model: DEFAULT_PLAN.model }, problems: [] });
      }),
      { numRuns: 500 },
    );
  });

  it('writes nothing for the defaults and short keys otherwise', () => {
    expect(encodePlanState(DEFAULT_PLAN)).toBe('');
    expect(decodePlanState('')).toEqual({ config: DEFAULT_PLAN, problems: [] });
    expect(encodePlanState({ ...DEFAULT_PLAN, model: 'llama-3.2-1b', batch: 4, microBatch: 2, loraRank: 16, qlora: true, gpuMemoryGiB: 24 })).toBe(
      'm=llama-3.2-1b&b=4&mb=2&lr=16&q=1&gm=24',
    );
  });

  it.each([
    ['b=1e3', 'b'],
    ['b=08', 'b'],
    ['b=0x10', 'b'],
    ['b=-0', 'b'],
    ['b=%208', 'b'],
    ['b=', 'b'],
    ['b=2097152', 'b'],
    ['gm=024', 'gm'],
    ['gm=24.0', 'gm'],
    ['gm=0', 'gm'],
    ['q=true', 'q'],
    ['z=4', 'z'],
    ['m=hf', 'm'],
    ['m=__proto__', 'm'],
    ['p=FP32', 'p'],
    ['gpu=RTX-4090', 'gpu'],
    ['gpu=h100', 'gpu'],
    ['gpu=', 'gpu'],
  ])('refuses %s, naming the parameter, and keeps the default', (s, key) => {
    const { config, problems } = decodePlanState(s);
    expect(config).toEqual(DEFAULT_PLAN);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(`'${key}'`);
  });

  it('resets a field the cross-field rules refuse, naming it', () => {
    expect(decodePlanState('b=8&mb=3')).toMatchObject({ config: { batch: 8 }, problems: [expect.stringContaining("'mb'")] });
    expect(decodePlanState('b=8&mb=3').config.microBatch).toBeUndefined();
    expect(decodePlanState('q=1')).toMatchObject({ config: { qlora: false }, problems: [expect.stringContaining("'q'")] });
    expect(decodePlanState('mode=inference&z=2')).toMatchObject({ config: { mode: 'inference', zero: 0 }, problems: [expect.stringContaining("'z'")] });
    expect(decodePlanState('x=1&utm_source=chat').problems).toEqual([]);
    // A catalog card and a typed size: the typed size is kept, the card named and dropped.
    const both = decodePlanState('gpu=a100-80gb&gm=24');
    expect(both.config.gpuMemoryGiB).toBe(24);
    expect(both.config.gpu).toBeUndefined();
    expect(both.problems).toEqual([expect.stringContaining("'gpu'")]);
  });

  it('every decoded plan has a chosen card, and the fit list has the same card at the same size', () => {
    fc.assert(
      fc.property(search, (s) => {
        const { config } = decodePlanState(s);
        const card = chosenGpu(config);
        const listed = fitList(1, config.gpuMemoryGiB).find((f) => f.gpu === card.name);
        expect(listed?.memoryBytes).toBe(card.memoryBytes);
        expect(card.id).toBe(config.gpuMemoryGiB !== undefined ? 'custom' : (config.gpu ?? 'rtx-4090'));
      }),
      { numRuns: 1000 },
    );
  });

  it('keeps the chosen catalog GPU under its own key, after the others', () => {
    expect(encodePlanState({ ...DEFAULT_PLAN, batch: 4, gpu: 'a100-80gb' })).toBe('b=4&gpu=a100-80gb');
    expect(decodePlanState('gpu=h200')).toEqual({ config: { ...DEFAULT_PLAN, gpu: 'h200' }, problems: [] });
  });
});

// ---------------------------------------------------------------------------------------
// Worker messages

const MiB = 2 ** 20;

/** A RunReport as runTraining builds it, with the planner's real estimate inside. */
function realReport(): RunReport {
  const config: RunConfig = { ...DEFAULT_RUN, steps: 4 };
  const plan = estimate(planConfigOf(config));
  const bytes = { ...zeroCategories(), weights: 3 * MiB, gradients: MiB, activations: 2 * MiB };
  return {
    adapter: {
      vendor: 'google',
      architecture: 'swiftshader',
      device: '',
      description: 'SwiftShader Device (Subzero)',
      features: ['depth-clip-control', 'timestamp-query'],
      limits: { maxBufferSize: 2 ** 32, maxStorageBufferBindingSize: 2 ** 31, maxComputeInvocationsPerWorkgroup: 256 },
      isFallbackAdapter: true,
    },
    config,
    estimate: plan,
    actual: {
      peakBytes: 6 * MiB,
      bytes,
      aliveAtPeak: bytes,
      allocatedPeakBytes: 6 * MiB,
      physicalPeakBytes: 6 * MiB + 64,
      stagingBytes: 64,
      liveAfterDisposeBytes: 0,
    },
    timing: { warmupMs: 40, warmupPipelines: 3, stepMs: 12.5, stepsMs: [12.5], recordMs: 1, phasesMs: { forward: 3, backward: 6, recompute: 0, optimizer: 1.25 }, source: 'wall-clock' },
    loss: [1.2, 0.9, NaN, Infinity],
    skippedSteps: 1,
    timeline: [
      { op: -1, label: '', event: 'create' as const, name: 't', category: 'weights' as const, tensorBytes: 0, bytes: { ...zeroCategories(), weights: 3 * MiB } },
      { op: 0, label: 'forward h0', event: 'create' as const, name: 't', category: 'weights' as const, tensorBytes: 0, bytes },
    ],
    aliveAtEnd: [{ name: 'w', category: 'weights', bytes: 3 * MiB }],
    work: stepWork(config),
  };
}

/** Every [path, value] pair inside a plain value, arrays included. */
function leaves(v: unknown, path: (string | number)[] = []): (string | number)[][] {
  if (v === null || typeof v !== 'object') return [path];
  const entries = Array.isArray(v) ? v.map((x, i) => [i, x] as const) : Object.entries(v);
  return [path, ...entries.flatMap(([k, x]) => leaves(x, [...path, k]))];
}

function setAt(root: unknown, path: (string | number)[], value: unknown): unknown {
  if (path.length === 0) return value;
  const copy = structuredClone(root) as Record<string | number, unknown>;
  let o = copy;
  for (const k of path.slice(0, -1)) o = o[k] as Record<string | number, unknown>;
  o[path[path.length - 1]!] = value;
  return copy;
}

describe('worker message schemas', () => {
  const report = realReport();
  const paths = leaves(report);

  function expectBad(f: () => unknown) {
    const err = thrown(f);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).name).toBe(BAD_WORKER_MESSAGE);
    expect((err as Error).message.length).toBeLessThanOrEqual(MESSAGE_LIMITS.sentence);
    expect((err as Error).message).toContain('the run report');
  }

  it('a real report passes, as sent and after a structured clone', () => {
    expect(parseWorkerMessage(RunReportSchema, report, 'the run report')).toEqual(report);
    expect(parseWorkerMessage(RunReportSchema, structuredClone(report), 'the run report')).toEqual(report);
    // Fields the schema does not know are dropped, not trusted.
    const extra = { ...report, injected: '<img onerror=alert(1)>' };
    expect(parseWorkerMessage(RunReportSchema, extra, 'the run report')).not.toHaveProperty('injected');
  });

  it('random values are refused with BadWorkerMessage', () => {
    fc.assert(
      fc.property(fc.anything(), (v) => expectBad(() => parseWorkerMessage(RunReportSchema, v, 'the run report'))),
      { numRuns: 2000 },
    );
  });

  it('a report with any one value replaced is refused or still a valid report', () => {
    const replacement = fc.oneof(
      fc.constantFrom(-1, NaN, Infinity, -Infinity, 1.5, 2 ** 60, '', '1', null, undefined, true, [], {}, 'x'.repeat(MESSAGE_LIMITS.detail + 1)),
      fc.anything({ maxDepth: 1 }),
    );
    fc.assert(
      fc.property(fc.constantFrom(...paths), replacement, (path, value) => {
        const mutated = setAt(report, path, value);
        const err = thrown(() => parseWorkerMessage(RunReportSchema, mutated, 'the run report'));
        if (err === undefined) return;
        expect((err as Error).name).toBe(BAD_WORKER_MESSAGE);
      }),
      { numRuns: 3000 },
    );
  });

  it.each<[string, (string | number)[], unknown]>([
    ['a negative byte count', ['actual', 'peakBytes'], -1],
    ['a NaN byte count', ['actual', 'bytes', 'weights'], NaN],
    ['an infinite byte count', ['estimate', 'bytes', 'activations'], Infinity],
    ['a byte count as text', ['actual', 'stagingBytes'], '64'],
    ['a missing category', ['actual', 'bytes'], { weights: 1 }],
    ['an unknown timing source', ['timing', 'source'], 'guess'],
    ['a description over the bound', ['adapter', 'description'], 'x'.repeat(MESSAGE_LIMITS.text + 1)],
    ['too many losses', ['loss'], new Array(RUN_LIMITS.steps + 1).fill(1)],
    ['too many features', ['adapter', 'features'], new Array(MESSAGE_LIMITS.features + 1).fill('f')],
    ['a limit that is no camelCase word', ['adapter', 'limits'], { 'max buffer': 1 }],
    ['an invalid config', ['config', 'd'], 0],
    ['negative work', ['work', 'totalFlops'], -1],
    ['fractional dispatches', ['work', 'dispatches'], 1.5],
    ['work in an unknown phase', ['work', 'flops'], { forward: 1, backward: 1, recompute: 0, optimizer: 1, warmup: 1 }],
    ['an unknown op moment', ['estimate', 'timeline', 0, 'at'], 'start'],
  ])('refuses %s', (_what, path, value) => {
    expectBad(() => parseWorkerMessage(RunReportSchema, setAt(report, path, value), 'the run report'));
  });

  it('a throughput passes; a zero, negative or non-finite rate, time or count is refused', () => {
    const t = { gflops: 0.4, ms: 312.5, flops: 125_000_000 };
    expect(parseWorkerMessage(ThroughputReportSchema, t, 'the throughput')).toEqual(t);
    for (const [k, v] of [['gflops', 0], ['gflops', NaN], ['ms', -1], ['flops', Infinity], ['ms', '300']] as const) {
      const err = thrown(() => parseWorkerMessage(ThroughputReportSchema, { ...t, [k]: v }, 'the throughput'));
      expect((err as Error).name, `${k} ${String(v)}`).toBe(BAD_WORKER_MESSAGE);
    }
  });

  it('drops a limit named __proto__ instead of setting a prototype', () => {
    const mutated = setAt(report, ['adapter', 'limits'], JSON.parse('{"__proto__": {"polluted": 1}, "maxBufferSize": 4}'));
    const r = parseWorkerMessage(RunReportSchema, mutated, 'the run report');
    expect(Object.keys(r.adapter.limits)).toEqual(['maxBufferSize']);
    expect(Object.getPrototypeOf(r.adapter.limits)).toBe(Object.prototype);
  });

  it('progress, device errors and adapter summaries: valid or BadWorkerMessage', () => {
    const progress = fc.record(
      {
        stage: fc.oneof(fc.constantFrom('allocating', 'compiling', 'step', 'done'), fc.string()),
        step: fc.oneof(fc.integer({ min: -1, max: RUN_LIMITS.steps + 1 }), fc.double()),
        steps: fc.oneof(fc.integer({ min: 0, max: RUN_LIMITS.steps + 1 }), fc.double()),
        loss: fc.oneof(fc.double(), fc.string()),
      },
      { requiredKeys: [] },
    );
    const deviceError = fc.record(
      {
        kind: fc.oneof(fc.constantFrom(...DEVICE_ERROR_KINDS), fc.string()),
        message: fc.string(),
        detail: fc.string(),
        reason: fc.oneof(fc.constantFrom('unknown', 'destroyed'), fc.integer()),
        at: fc.double(),
      },
      { requiredKeys: [] },
    );
    const cases = [
      [RunProgressSchema, fc.oneof(progress, fc.anything())],
      [DeviceErrorReportSchema, fc.oneof(deviceError, fc.anything())],
      [AdapterSummarySchema, fc.oneof(fc.constant(report.adapter), fc.anything())],
    ] as const;
    for (const [schema, arb] of cases) {
      fc.assert(
        fc.property(arb as fc.Arbitrary<unknown>, (v) => {
          const err = thrown(() => parseWorkerMessage(schema as typeof RunProgressSchema, v, 'a message'));
          if (err !== undefined) expect((err as Error).name).toBe(BAD_WORKER_MESSAGE);
        }),
        { numRuns: 1000 },
      );
    }
    expect(parseWorkerMessage(RunProgressSchema, { stage: 'step', step: 3, steps: 10, loss: NaN }, 'progress')).toEqual({ stage: 'step', step: 3, steps: 10, loss: NaN });
    expect(parseWorkerMessage(DeviceErrorReportSchema, { kind: 'lost', message: 'The GPU was lost', detail: '', reason: 'unknown', at: 12.5 }, 'a device error')).toMatchObject({
      kind: 'lost',
    });
    expectBadName(() => parseWorkerMessage(RunProgressSchema, { stage: 'step', step: -1, steps: 10 }, 'progress'));
    expectBadName(() => parseWorkerMessage(DeviceErrorReportSchema, { kind: 'oops', message: '', detail: '', at: 0 }, 'a device error'));
  });
});

function expectBadName(f: () => unknown) {
  expect(thrown(f)).toMatchObject({ name: BAD_WORKER_MESSAGE });
}

// The report's phase names and the schema's stay one list.
it('the run report names every phase', () => {
  expect(Object.keys(realReport().timing.phasesMs).sort()).toEqual([...PHASE_NAMES].sort());
});
