/**
 * `vramlab` for Node. Exit status: 0 done, 2 bad input (one line on stderr naming the flag),
 * 1 a bug (one line, no stack: the stack is for VRAMLAB_DEBUG=1).
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../protocol/config.ts';
import { estimate, listModels, MODEL_IDS } from '../estimate/index.ts';
import { flagForField, parseEstimateArgs, usageFromConfigError, UsageError } from './args.ts';
import { formatPlan } from './format.ts';
import { estimateUsage, topUsage } from './help.ts';

export interface Io {
  out(text: string): void;
  err(text: string): void;
  env: Record<string, string | undefined>;
}

const processIo: Io = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
  env: process.env,
};

/** Subcommands; `run` and `bench` join when the engine lands. */
export const COMMANDS = ['estimate'] as const;

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Runs one command line (without `node` and the script) and returns the exit status. */
export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  const [command, ...rest] = argv;
  let prefix = 'vramlab';
  try {
    if (command === undefined) {
      io.err(topUsage(version()));
      return 2;
    }
    if (command === '--help' || command === '-h' || command === 'help') {
      io.out(topUsage(version()));
      return 0;
    }
    if (command === '--version' || command === '-v') {
      io.out(`${version()}\n`);
      return 0;
    }
    if (command.startsWith('-')) throw new UsageError(`unknown flag ${command.split('=')[0]}; give a command first: vramlab estimate ${command}`);
    if (command === 'estimate') {
      prefix = 'vramlab estimate';
      return await runEstimate(rest, io);
    }
    throw new UsageError(`unknown command '${command}'; commands: ${COMMANDS.join(', ')}; see vramlab --help`);
  } catch (err) {
    return report(err, prefix, io);
  }
}

async function runEstimate(argv: readonly string[], io: Io): Promise<number> {
  const args = parseEstimateArgs(argv);
  if (args.help) {
    io.out(estimateUsage(MODEL_IDS));
    return 0;
  }
  const { config } = args;
  const known = new Set<string>([...MODEL_IDS, 'hf']);
  if (!known.has(config.model)) {
    throw new UsageError(`--model: no model '${config.model}'; available: ${[...known].join(', ')}`, '--model');
  }
  if (args.given.includes('image-size')) {
    const models = listModels();
    if (models.find((m) => m.id === config.model)?.family !== 'resnet') {
      const resnets = models.filter((m) => m.family === 'resnet').map((m) => m.id);
      throw new UsageError(`--image-size applies to ${resnets.join(', ')} only; model '${config.model}' takes no images`, '--image-size');
    }
  }
  let plan;
  try {
    plan = estimate(config);
  } catch (err) {
    throw args.hfConfigPath === undefined ? err : blameHfConfig(err, args.hfConfigPath);
  }
  io.out(args.json ? `${JSON.stringify(plan)}\n` : formatPlan(plan, config));
  return 0;
}

/**
 * A config.json the estimator cannot use: name the file, since the message names only the
 * key inside it ("hidden_size: …").
 */
function blameHfConfig(err: unknown, path: string): unknown {
  const isConfig = err instanceof ConfigError;
  if (isConfig && !err.field.startsWith('hfConfig') && flagForField(err.field) !== undefined) return err;
  if (!isConfig && !(err instanceof Error && err.name === 'EstimateError')) return err;
  return new UsageError(`--hf-config ${path}: ${err.message.replace(/^(?:hfConfig(?:\.|:\s*)?|config\.json:\s*)/, '')}`, '--hf-config');
}

/** Every failure becomes one line: a terminal user should never have to read a stack. */
function report(err: unknown, prefix: string, io: Io): number {
  const oneLine = (s: string) => s.replace(/\s*\n\s*/g, ' ').trim();
  if (err instanceof ConfigError) err = usageFromConfigError(err);
  const name = err instanceof Error ? err.name : '';
  if (name === 'UsageError' || name === 'EstimateError') {
    io.err(`${prefix}: ${oneLine((err as Error).message)}\n`);
    return 2;
  }
  const message = err instanceof Error ? err.message : String(err);
  io.err(`vramlab: internal error: ${oneLine(message)}\n`);
  if (io.env.VRAMLAB_DEBUG && err instanceof Error && err.stack) io.err(`${err.stack}\n`);
  return 1;
}
