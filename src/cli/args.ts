/**
 * `vramlab estimate` flags → a validated PlanConfig, `vramlab run` flags → a validated
 * RunConfig. One table per command (ESTIMATE_FLAGS, RUN_FLAGS) drives parsing, the help text
 * and the mapping of schema errors back to flag names, so the three cannot drift apart. No
 * estimate/ import here: which model ids exist is checked in main.ts.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
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
import { DEFAULT_RUN, RUN_CHECKPOINTS, RUN_OPTIMIZERS, RUN_PRECISIONS, parseRunConfig, type RunConfig } from '../protocol/run.ts';
import { getPath, setPath } from '../protocol/paths.ts';

/** Bad command-line input: `message` is the one line the user sees, naming the flag. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly flag?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

export const FLAG_GROUPS = ['model', 'run', 'output'] as const;
export type FlagGroup = (typeof FLAG_GROUPS)[number];

export interface FlagSpec {
  /** Kebab-case, without the leading `--`. */
  name: string;
  short?: string;
  group: FlagGroup;
  /**
   * `int`: plain decimal digits only, so typos like 1.5, 1e12 or 0x10 never get through.
   * `number`: a decimal, exponent allowed (a learning rate of 1e-3).
   */
  kind: 'int' | 'number' | 'gib' | 'enum' | 'zero' | 'bool' | 'string' | 'path';
  /** Dotted path in the command's config (PlanConfig, RunConfig) the value lands in; none for output flags. */
  field?: string;
  /** Smallest accepted int; the upper bounds are the schema's LIMITS. */
  min?: number;
  values?: readonly string[];
  /** Placeholder in the help, e.g. `N`. */
  arg?: string;
  help: string;
  /** Help text for the default when it is not simply the command's default config value. */
  defaultText?: string;
}

export const ESTIMATE_FLAGS: readonly FlagSpec[] = [
  { name: 'model', group: 'model', kind: 'string', field: 'model', arg: 'ID', help: 'a preset id, mlp, or hf' },
  { name: 'hf-config', group: 'model', kind: 'path', field: 'hfConfig', arg: 'PATH', help: 'a Hugging Face config.json; sets --model hf' },
  { name: 'd', group: 'model', kind: 'int', field: 'mlp.d', min: 1, arg: 'N', help: 'mlp: width of the residual stream' },
  { name: 'hidden', group: 'model', kind: 'int', field: 'mlp.hidden', min: 1, arg: 'N', help: 'mlp: width of the hidden layer' },
  { name: 'layers', group: 'model', kind: 'int', field: 'mlp.layers', min: 1, arg: 'N', help: 'mlp: number of blocks' },
  { name: 'activation', group: 'model', kind: 'enum', field: 'mlp.activation', values: ACTIVATIONS, arg: 'FN', help: 'mlp: activation function' },
  { name: 'image-size', group: 'model', kind: 'int', field: 'imageSize', min: 1, arg: 'PX', help: 'resnet: input side in pixels (square, 3 channels)' },
  { name: 'mode', group: 'run', kind: 'enum', field: 'mode', values: MODES, arg: 'MODE', help: 'a training step or an inference forward' },
  { name: 'batch', group: 'run', kind: 'int', field: 'batch', min: 1, arg: 'N', help: 'samples per GPU per optimizer step' },
  { name: 'micro-batch', group: 'run', kind: 'int', field: 'microBatch', min: 1, arg: 'N', help: 'samples per forward/backward (gradient accumulation); must divide --batch', defaultText: '= --batch' },
  { name: 'seq', group: 'run', kind: 'int', field: 'seq', min: 1, arg: 'N', help: 'tokens per sample; for inference the context in the KV cache' },
  { name: 'precision', group: 'run', kind: 'enum', field: 'precision', values: PRECISIONS, arg: 'P', help: 'storage and compute precision' },
  { name: 'optimizer', group: 'run', kind: 'enum', field: 'optimizer', values: OPTIMIZERS, arg: 'OPT', help: 'optimizer (its states are per parameter)' },
  { name: 'checkpoint', group: 'run', kind: 'enum', field: 'checkpoint', values: CHECKPOINTS, arg: 'C', help: 'activation checkpointing' },
  { name: 'attention', group: 'run', kind: 'enum', field: 'attention', values: ATTENTIONS, arg: 'A', help: 'eager keeps the s×s scores, fused (flash) does not' },
  { name: 'lora-rank', group: 'run', kind: 'int', field: 'loraRank', min: 0, arg: 'R', help: 'LoRA rank on attention and MLP projections; 0 = full fine-tuning' },
  { name: 'qlora', group: 'run', kind: 'bool', field: 'qlora', help: '4-bit NF4 frozen base under the LoRA adapters (needs --lora-rank)' },
  { name: 'zero', group: 'run', kind: 'zero', field: 'zero', values: ZERO_STAGES.map(String), arg: 'STAGE', help: 'ZeRO sharding stage across --gpus' },
  { name: 'gpus', group: 'run', kind: 'int', field: 'gpus', min: 1, arg: 'N', help: 'data-parallel GPUs (ZeRO shards over them)' },
  { name: 'framework', group: 'run', kind: 'enum', field: 'framework', values: FRAMEWORKS, arg: 'F', help: 'predict a PyTorch eager run or this engine' },
  { name: 'gpu-memory', group: 'run', kind: 'gib', field: 'gpuMemoryGiB', arg: 'GiB', help: 'your GPU size, added to the fit list' },
  { name: 'json', group: 'output', kind: 'bool', help: 'print the plan as one JSON object' },
  { name: 'help', short: 'h', group: 'output', kind: 'bool', help: 'show this help' },
];

/**
 * `vramlab run`: the engine trains the mlp model for real, so only what RunConfigSchema takes.
 * The upper bounds are the schema's (LIMITS, RUN_LIMITS); what the device takes is the ledger's.
 */
export const RUN_FLAGS: readonly FlagSpec[] = [
  { name: 'model', group: 'model', kind: 'enum', field: 'model', values: ['mlp'], arg: 'ID', help: 'the model the engine trains' },
  { name: 'd', group: 'model', kind: 'int', field: 'd', min: 1, arg: 'N', help: 'width of the residual stream' },
  { name: 'hidden', group: 'model', kind: 'int', field: 'hidden', min: 1, arg: 'N', help: 'width of the hidden layer' },
  { name: 'layers', group: 'model', kind: 'int', field: 'layers', min: 1, arg: 'N', help: 'number of blocks' },
  { name: 'activation', group: 'model', kind: 'enum', field: 'activation', values: ACTIVATIONS, arg: 'FN', help: 'activation function' },
  { name: 'batch', group: 'run', kind: 'int', field: 'batch', min: 1, arg: 'N', help: 'samples per step' },
  { name: 'precision', group: 'run', kind: 'enum', field: 'precision', values: RUN_PRECISIONS, arg: 'P', help: 'storage and compute precision' },
  { name: 'optimizer', group: 'run', kind: 'enum', field: 'optimizer', values: RUN_OPTIMIZERS, arg: 'OPT', help: 'optimizer (its states are per parameter)' },
  { name: 'checkpoint', group: 'run', kind: 'enum', field: 'checkpoint', values: RUN_CHECKPOINTS, arg: 'C', help: 'activation checkpointing' },
  { name: 'steps', group: 'run', kind: 'int', field: 'steps', min: 1, arg: 'N', help: 'training steps to run' },
  { name: 'seed', group: 'run', kind: 'int', field: 'seed', min: 0, arg: 'N', help: 'seeds weights and data, so a run can be repeated' },
  { name: 'lr', group: 'run', kind: 'number', field: 'lr', arg: 'X', help: 'learning rate', defaultText: "the optimizer's: sgd 0.05, sgd-momentum 0.02, adam(w) 0.001" },
  { name: 'wall-clock', group: 'run', kind: 'bool', help: 'time phases by the wall clock even where timestamp queries exist' },
  { name: 'json', group: 'output', kind: 'bool', help: 'print the report as one JSON object' },
  { name: 'help', short: 'h', group: 'output', kind: 'bool', help: 'show this help' },
];

/** Flags that shape only the `mlp` model; elsewhere they would be silently ignored. */
const MLP_FLAGS = ['d', 'hidden', 'layers', 'activation'];

export interface EstimateArgs {
  config: PlanConfig;
  json: boolean;
  help: boolean;
  /** As typed, so errors about its content can name the file. */
  hfConfigPath?: string;
  /** Flag names the user gave, without `--`: checks that depend on the model need them. */
  given: string[];
}

export interface RunArgs {
  config: RunConfig;
  json: boolean;
  help: boolean;
  wallClock: boolean;
}

export interface ParseOptions {
  /** Reads --hf-config; injectable so tests need no files. */
  readText?: (path: string) => string;
}

type Command = 'estimate' | 'run';
type FlagValues = Record<string, string | boolean | undefined>;

/** The value a flag starts from (DEFAULT_PLAN for estimate, DEFAULT_RUN for run), for the help text. */
export function flagDefault(flag: FlagSpec, defaults: object = DEFAULT_PLAN): string | undefined {
  if (flag.defaultText !== undefined) return flag.defaultText;
  if (flag.field === undefined || flag.kind === 'bool') return undefined;
  const v = getPath(defaults, flag.field);
  return v === undefined ? undefined : String(v);
}

/** node:util parseArgs over a flag table, its errors turned into UsageErrors naming the flag. */
function readFlags(command: Command, flags: readonly FlagSpec[], argv: readonly string[]): FlagValues {
  try {
    return parseArgs({
      args: joinNegativeValues(argv, flags),
      options: Object.fromEntries(
        flags.map((f) => [f.name, { type: f.kind === 'bool' ? 'boolean' : 'string', ...(f.short ? { short: f.short } : {}) }]),
      ) as Record<string, { type: 'boolean' | 'string'; short?: string }>,
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    throw fromParseArgsError(err, command);
  }
}

/**
 * Parses `vramlab run` arguments (without the command word) into a RunConfig that
 * parseRunConfig accepted. Throws UsageError with one line naming the flag for every bad input.
 */
export function parseRunArgs(argv: readonly string[]): RunArgs {
  const values = readFlags('run', RUN_FLAGS, argv);
  const switches = { json: values.json === true, help: values.help === true, wallClock: values['wall-clock'] === true };
  if (switches.help) return { config: structuredClone(DEFAULT_RUN), ...switches };
  const config: Record<string, unknown> = structuredClone(DEFAULT_RUN);
  const given = new Map<string, string>();
  for (const flag of RUN_FLAGS) {
    const raw = values[flag.name];
    if (raw === undefined || flag.field === undefined) continue;
    if (typeof raw === 'string') given.set(flag.name, raw);
    setPath(config, flag.field, convert(flag, raw));
  }
  try {
    return { config: parseRunConfig(config), ...switches };
  } catch (err) {
    if (err instanceof ConfigError) throw usageFromConfigError(err, given, RUN_FLAGS);
    throw err;
  }
}

/**
 * Parses `vramlab estimate` arguments (without the command word). Throws UsageError with one
 * line naming the flag for every bad input, including the schema's own checks.
 */
export function parseEstimateArgs(argv: readonly string[], opts: ParseOptions = {}): EstimateArgs {
  const readText = opts.readText ?? ((p: string) => readFileSync(resolve(p), 'utf8'));
  const values = readFlags('estimate', ESTIMATE_FLAGS, argv);

  if (values.help === true) return { config: structuredClone(DEFAULT_PLAN), json: values.json === true, help: true, given: [] };

  const config: Record<string, unknown> = structuredClone(DEFAULT_PLAN);
  const given = new Map<string, string>();
  for (const flag of ESTIMATE_FLAGS) {
    const raw = values[flag.name];
    if (raw === undefined || flag.field === undefined) continue;
    if (typeof raw === 'string') given.set(flag.name, raw);
    if (flag.kind === 'path') continue;
    setPath(config, flag.field, convert(flag, raw));
  }

  const hfPath = values['hf-config'];
  if (typeof hfPath === 'string') {
    if (given.has('model') && config.model !== 'hf') {
      throw new UsageError(`--hf-config sets the model to hf; drop --model ${String(config.model)}`, '--hf-config');
    }
    config.model = 'hf';
    config.hfConfig = readHfConfig(hfPath, readText);
  } else if (config.model === 'hf') {
    throw new UsageError('--model hf needs --hf-config path/to/config.json', '--model');
  }

  if (config.model !== 'mlp') {
    const stray = MLP_FLAGS.find((n) => given.has(n));
    if (stray) throw new UsageError(`--${stray} shapes --model mlp only; model '${String(config.model)}' has its own shape`, `--${stray}`);
  }

  try {
    const parsed = parsePlanConfig(config);
    const names = ESTIMATE_FLAGS.filter((f) => values[f.name] !== undefined).map((f) => f.name);
    return { config: parsed, json: values.json === true, help: false, given: names, ...(typeof hfPath === 'string' ? { hfConfigPath: hfPath } : {}) };
  } catch (err) {
    if (err instanceof ConfigError) throw usageFromConfigError(err, given);
    throw err;
  }
}

/** The flag that sets a config field (`microBatch` → `--micro-batch`, `hfConfig.x` → `--hf-config`). */
export function flagForField(field: string, flags: readonly FlagSpec[] = ESTIMATE_FLAGS): string | undefined {
  const flag = flags.find((f) => f.field !== undefined && (field === f.field || field.startsWith(`${f.field}.`)));
  return flag ? `--${flag.name}` : undefined;
}

/**
 * Rewrites a ConfigError ("microBatch: micro-batch must divide …") into a line that names the
 * flag and, when the user typed it, the value.
 */
export function usageFromConfigError(
  err: ConfigError,
  given: ReadonlyMap<string, string> = new Map(),
  flags: readonly FlagSpec[] = ESTIMATE_FLAGS,
): UsageError {
  const flag = flagForField(err.field, flags);
  const prefix = `${err.field}: `;
  const sentence = err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
  if (!flag) return new UsageError(sentence);
  const value = given.get(flag.slice(2));
  const shown = value === undefined || flag === '--hf-config' ? flag : `${flag} ${value}`;
  return new UsageError(`${shown}: ${sentence}`, flag);
}

function convert(flag: FlagSpec, raw: string | boolean): unknown {
  const name = `--${flag.name}`;
  if (typeof raw === 'boolean') return raw;
  switch (flag.kind) {
    case 'int': {
      const min = flag.min ?? 0;
      // Number() alone would take '1e3', '0x10', ' 8' and '' (as 0).
      if (!/^\d+$/.test(raw) || Number(raw) < min) {
        throw new UsageError(`${name} must be a whole number ≥ ${min}, got '${raw}'`, name);
      }
      return Number(raw);
    }
    case 'number':
      // The schema bounds it; this only refuses what is not a plain number ('0x10', '', 'NaN').
      if (!/^\d+(\.\d+)?([eE][-+]?\d+)?$|^\.\d+([eE][-+]?\d+)?$/.test(raw)) {
        throw new UsageError(`${name} must be a number, e.g. 0.001 or 1e-3, got '${raw}'`, name);
      }
      return Number(raw);
    case 'gib':
      if (!/^\d+(\.\d+)?$/.test(raw) || Number(raw) <= 0) {
        throw new UsageError(`${name} must be a size in GiB greater than 0, e.g. 24, got '${raw}'`, name);
      }
      return Number(raw);
    case 'enum':
    case 'zero':
      if (!flag.values!.includes(raw)) {
        throw new UsageError(`${name} must be one of ${flag.values!.join(', ')}; got '${raw}'`, name);
      }
      return flag.kind === 'zero' ? Number(raw) : raw;
    case 'string':
      if (raw === '') throw new UsageError(`${name} needs a value`, name);
      return raw;
    default:
      return raw;
  }
}

function readHfConfig(path: string, readText: (p: string) => string): unknown {
  if (path === '') throw new UsageError('--hf-config needs a path to a config.json', '--hf-config');
  let text: string;
  try {
    text = readText(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new UsageError(`--hf-config: cannot read '${path}': ${why}`, '--hf-config');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--hf-config: '${path}' is not valid JSON (${(err as Error).message})`, '--hf-config');
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new UsageError(`--hf-config: '${path}' must hold one JSON object, a Hugging Face config.json`, '--hf-config');
  }
  return json;
}

/**
 * parseArgs refuses `--batch -3` as ambiguous; joining it to `--batch=-3` lets the number
 * check say what is wrong with the value instead.
 */
function joinNegativeValues(argv: readonly string[], flags: readonly FlagSpec[]): string[] {
  const byName = new Map(flags.map((f) => [f.name, f]));
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = argv[i + 1];
    const flag = a.startsWith('--') ? byName.get(a.slice(2)) : undefined;
    if (flag && flag.kind !== 'bool' && next !== undefined && /^-[\d.]/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else {
      out.push(a);
    }
  }
  return out;
}

function fromParseArgsError(err: unknown, command: Command): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code !== 'string' || !code.startsWith('ERR_PARSE_ARGS_')) return err;
  const message = (err as Error).message;
  const quoted = /'([^']*)'/.exec(message)?.[1] ?? '';
  const flag = quoted.split(' ')[0]!;
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return new UsageError(`unknown flag ${flag}; see vramlab ${command} --help`, flag);
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return new UsageError(`unexpected argument '${quoted}': vramlab ${command} takes only flags; see vramlab ${command} --help`);
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (/does not take an argument/.test(message)) return new UsageError(`${flag} is a switch and takes no value`, flag);
      if (/ambiguous/.test(message)) return new UsageError(`${flag} needs a value; for one that starts with '-' write ${flag}=VALUE`, flag);
      return new UsageError(`${flag} needs a value; see vramlab ${command} --help`, flag);
    default:
      return new UsageError(`${message.split('\n')[0]}; see vramlab ${command} --help`);
  }
}

