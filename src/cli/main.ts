/**
 * `vramlab` for Node. Exit status: 0 done, 2 bad input (one line on stderr naming the flag) or
 * a run this device cannot hold (one line naming the tensor and the limit), 1 no usable GPU or
 * a bug (one line, no stack: the stack is for VRAMLAB_DEBUG=1), 130 a run cancelled by Ctrl-C.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../protocol/config.ts';
import { estimate, listModels, makeItFit, MODEL_IDS, nativeImageSize } from '../estimate/index.ts';
import type { PlanConfig } from '../protocol/config.ts';
import type { RunOptions } from '../engine/run.ts';
import type { OpenedDevice } from '../engine/device.ts';
import type { DeviceErrorReport } from '../protocol/engine-api.ts';
import type { LlamaRunConfig } from '../protocol/run.ts';
import { deviceBudget, planForDevice } from '../ui/scale.ts';
import { flagForField, optimizerLaunchFromEnv, parseBenchArgs, parseEstimateArgs, parseFitArgs, parseRunArgs, usageFromConfigError, UsageError, type AnyRunConfig, type EstimateArgs } from './args.ts';
import { formatAb, formatBench, formatFit, formatPlan, formatProgress, formatRunReport, formatSweep, formatSweepProgress, sweepLine, type SweepLine } from './format.ts';
import { benchUsage, compareUsage, estimateUsage, fitUsage, runUsage, topUsage } from './help.ts';
import { oneLine, printable } from './text.ts';
import { explainMissingPackage, MISSING_PACKAGE } from './packages.ts';
import { withSchema } from '../protocol/outputs.ts';
import { fitToCsv, planToCsv, resultsToCsv, type ResultRun } from '../protocol/csv.ts';
import type { AnyEngineRunReport } from '../protocol/engine-api.ts';
import { comparisonToCsv, formatComparison, parseCompareArgs, runCompare } from './compare.ts';
import { checkRunOutputs, writeRunOutputs } from './run-outputs.ts';

export interface Io {
  out(text: string): void;
  err(text: string): void;
  env: Record<string, string | undefined>;
  /** Someone watches stderr: `run --json` shows its progress there only then. */
  errIsTTY?: boolean;
  /**
   * Calls `listener` on Ctrl-C (SIGINT, or the message the bin's wrapper sends in its place)
   * until the returned function is called; while one listens, Ctrl-C does not end the process.
   */
  onInterrupt?: (listener: () => void) => () => void;
}

/** SIGINT of this process; with a listener, its default (ending the process) is off. */
function processInterrupts(listener: () => void): () => void {
  process.on('SIGINT', listener);
  return () => void process.off('SIGINT', listener);
}

export const processIo: Io = {
  out: (t) => void process.stdout.write(printable(t)),
  err: (t) => void process.stderr.write(printable(t)),
  env: process.env,
  errIsTTY: process.stderr.isTTY === true,
  onInterrupt: processInterrupts,
};

/**
 * Output that cannot be written ends the command with one line: a closed pipe
 * (`vramlab estimate | head`) quietly with status 0, anything else (`> /dev/full`: no space)
 * with the reason and status 1.
 */
export function guardStdout(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    const why = err.code === 'ENOSPC' ? 'no space left on the device' : err.code === 'EIO' ? 'an input/output error' : (err.code ?? err.message);
    process.stderr.write(`vramlab: cannot write the output (${oneLine(why)}); nothing more is written\n`);
    process.exit(1);
  });
}

export const COMMANDS = ['estimate', 'fit', 'compare', 'run', 'bench'] as const;

export function version(): string {
  // The bundle (scripts/build-cli.mjs) has no package.json beside it: it sets this instead.
  const bundled = (globalThis as { VRAMLAB_VERSION?: string }).VRAMLAB_VERSION;
  if (bundled) return bundled;
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
    if (command === 'fit') {
      prefix = 'vramlab fit';
      return runFit(rest, io);
    }
    if (command === 'compare') {
      prefix = 'vramlab compare';
      return runCompareCommand(rest, io);
    }
    if (command === 'run') {
      prefix = 'vramlab run';
      return await runRun(rest, io);
    }
    if (command === 'bench') {
      prefix = 'vramlab bench';
      return await runBenchCommand(rest, io);
    }
    throw new UsageError(`unknown command '${command}'; commands: ${COMMANDS.join(', ')}; see vramlab --help`);
  } catch (err) {
    return report(err, prefix, io);
  }
}

async function runEstimate(argv: readonly string[], io: Io): Promise<number> {
  const args = withNativeImageSize(parseEstimateArgs(argv, { env: io.env }));
  if (args.help) {
    io.out(estimateUsage(MODEL_IDS));
    return 0;
  }
  const plan = estimateFor(args, estimate);
  io.out(args.format === 'csv' ? planToCsv(plan) : args.json ? `${JSON.stringify(withSchema('estimate', plan))}\n` : formatPlan(plan, args.config));
  return 0;
}

/** `vramlab fit`: the estimate flags and --gpu-memory; the changes that make the step fit there. */
function runFit(argv: readonly string[], io: Io): number {
  const args = withNativeImageSize(parseFitArgs(argv, { env: io.env }));
  if (args.help) {
    io.out(fitUsage(MODEL_IDS));
    return 0;
  }
  const capacityBytes = Math.round(args.capacityGiB * 2 ** 30);
  const result = estimateFor(args, (config) => makeItFit(config, capacityBytes));
  io.out(args.format === 'csv' ? fitToCsv(result) : args.json ? `${JSON.stringify(withSchema('fit', result))}\n` : formatFit(result, estimate(args.config), args.config));
  return 0;
}

/** `vramlab compare`: a PyTorch memory snapshot replayed beside the estimate of the same plan. */
function runCompareCommand(argv: readonly string[], io: Io): number {
  const args = parseCompareArgs(argv);
  if (args.help) {
    io.out(compareUsage());
    return 0;
  }
  const c = estimateFor(args, () => runCompare(args));
  io.out(args.format === 'csv' ? comparisonToCsv(c) : args.json ? `${JSON.stringify(withSchema('compare', c))}\n` : formatComparison(c));
  return 0;
}

/** Checks what the flag parser cannot (known model, images only for ResNets), then runs `work`, blaming a bad config.json on its file. */
function estimateFor<T>(args: EstimateArgs, work: (config: PlanConfig) => T): T {
  const { config } = args;
  const known = new Set<string>([...MODEL_IDS, 'hf']);
  if (!known.has(config.model)) {
    throw new UsageError(`--model: no model '${config.model}'; available: ${[...known].join(', ')}`, '--model');
  }
  refuseFlagsOfOtherModels(config.model, args.given, config.hfConfig);
  try {
    return work(config);
  } catch (err) {
    throw args.hfConfigPath === undefined ? err : blameHfConfig(err, args.hfConfigPath);
  }
}

/** An image model's --image-size defaults to the resolution it was trained at (224 for the ResNets). */
function withNativeImageSize<T extends EstimateArgs>(args: T): T {
  if (args.help || args.given.includes('image-size')) return args;
  let native: number | undefined;
  try {
    native = nativeImageSize(args.config);
  } catch {
    return args; // an unknown model or a bad config.json: estimateFor says which
  }
  return native === undefined ? args : { ...args, config: { ...args.config, imageSize: native } };
}

/** Model kinds as `vramlab estimate` flags see them (an imported config.json: a transformer, or whichever image family it is). */
type FlagKind = 'mlp' | 'transformer' | 'resnet' | 'vit' | 'vlm' | 'efficientnet' | 'diffusion' | 'gan' | 'cnn';

/**
 * `vramlab estimate` flags that shape some kinds of model only, and what the others lack: given
 * for another kind, the estimate would silently ignore them. (The mlp's own flags are
 * checked in args.ts.)
 */
const KIND_FLAGS: Record<string, { kinds: readonly FlagKind[]; lacks: string; which: string }> = {
  'image-size': { kinds: ['resnet', 'vit', 'vlm', 'efficientnet', 'diffusion', 'gan'], lacks: 'takes no images', which: 'image models (ResNet, ViT, VLM, EfficientNet, diffusion, GAN)' },
  seq: { kinds: ['transformer', 'vlm'], lacks: 'has no sequence of text tokens', which: 'transformer models (the GPT-2, BERT and Llama-style presets, --hf-config) and VLMs (their text tokens)' },
  attention: { kinds: ['transformer', 'vit', 'vlm', 'diffusion'], lacks: 'has no attention', which: 'transformer models (language models, vision towers, VLMs, diffusion pipelines)' },
  images: { kinds: ['vlm'], lacks: 'is not a vision-language model', which: 'vision-language models (llava-1.5-7b, qwen2-vl-7b)' },
  'max-pixels': { kinds: ['vlm'], lacks: 'is not a vision-language model', which: 'Qwen2-VL-style models (qwen2-vl-7b)' },
  steps: { kinds: ['diffusion'], lacks: 'is not a diffusion pipeline', which: 'diffusion pipelines (sd-1.5, sdxl, flux-dev)' },
  guidance: { kinds: ['diffusion'], lacks: 'is not a diffusion pipeline', which: 'diffusion pipelines (sd-1.5, sdxl, flux-dev)' },
  'vae-decode': { kinds: ['diffusion'], lacks: 'is not a diffusion pipeline', which: 'diffusion pipelines (sd-1.5, sdxl, flux-dev)' },
  'pipeline-offload': { kinds: ['diffusion'], lacks: 'is not a diffusion pipeline', which: 'diffusion pipelines (sd-1.5, sdxl, flux-dev)' },
  'prior-preservation': { kinds: ['diffusion'], lacks: 'is not a diffusion pipeline', which: 'diffusion pipelines (sd-1.5, sdxl, flux-dev)' },
  'train-text-encoder': { kinds: ['diffusion'], lacks: 'is not a diffusion pipeline', which: 'diffusion pipelines (sd-1.5, sdxl, flux-dev)' },
};

function flagKind(model: string, hfConfig: unknown): FlagKind {
  const family = listModels().find((m) => m.id === model)?.family;
  if (family === 'mlp' || family === 'cnn' || family === 'resnet' || family === 'vit' || family === 'vlm' || family === 'efficientnet' || family === 'diffusion' || family === 'gan') return family;
  if (model === 'hf') {
    const type = typeof hfConfig === 'object' && hfConfig !== null ? (hfConfig as { model_type?: unknown; _class_name?: unknown }) : {};
    if (typeof type._class_name === 'string') return 'diffusion';
    const t = String(type.model_type);
    if (t === 'vit' || t === 'clip_vision_model' || t === 'siglip_vision_model') return 'vit';
    if (t === 'llava' || t === 'qwen2_vl') return 'vlm';
    if (t === 'efficientnet') return 'efficientnet';
  }
  return 'transformer';
}

function refuseFlagsOfOtherModels(model: string, given: readonly string[], hfConfig: unknown): void {
  const kind = flagKind(model, hfConfig);
  for (const flag of given) {
    const only = Object.hasOwn(KIND_FLAGS, flag) ? KIND_FLAGS[flag]! : undefined;
    if (!only || only.kinds.includes(kind)) continue;
    if (kind === 'cnn' && flag === 'image-size') throw new UsageError(`--image-size applies to the ResNet presets only; model '${model}' has the fixed input of its dataset`, '--image-size');
    throw new UsageError(`--${flag} applies to ${only.which} only; model '${model}' ${only.lacks}`, `--${flag}`);
  }
}

/**
 * Trains on this machine's GPU and prints the report, or with --sweep one per point. The engine
 * (Dawn, the kernels and their WGSL) loads only here, so `estimate` never pays for it. The device
 * is destroyed on every path; the engine has released every buffer by then, also when it throws.
 */
async function runRun(argv: readonly string[], io: Io): Promise<number> {
  const args = parseRunArgs(argv);
  if (args.help) {
    io.out(runUsage());
    return 0;
  }
  checkRunOutputs(args.outputs);
  const optimizerLaunch = optimizerLaunchFromEnv(io.env);
  const [{ opened, deviceErrors }, engine] = await Promise.all([openCliDevice('run', io), import('../engine/run.ts')]);
  await applyCachedTiles(opened, io);
  // The first Ctrl-C stops the run after the step in progress and frees everything; it is
  // answered at once, since a step can take seconds. A second one ends the process there and then.
  const abort = new AbortController();
  const stopListening = io.onInterrupt?.(() => {
    if (abort.signal.aborted) {
      io.err('vramlab run: stopped\n');
      process.exit(130);
    }
    io.err('vramlab run: stopping after this step… (Ctrl-C again to stop at once)\n');
    abort.abort();
  });
  try {
    // Steps for anyone watching or when stdout is not JSON; the 'allocating' and 'compiling'
    // lines only for a terminal, so a run refused at allocation leaves exactly its one error
    // line in a log.
    const tty = io.errIsTTY === true;
    const showProgress = !args.json || tty;
    const opts: RunOptions = {
      signal: abort.signal,
      wallClock: args.wallClock,
      optimizerLaunch,
      ...(showProgress ? { onProgress: (p) => ((p.stage !== 'allocating' && p.stage !== 'compiling') || tty) && io.err(formatProgress(p)) } : {}),
    };
    const train = (c: AnyRunConfig) => {
      if (c.model === 'llama') return engine.runLlamaTraining(opened, scaledToDevice(c, opened.summary, io, args.depthGiven === true), opts);
      if ('blocks' in c) return engine.runCnnTraining(opened, c, opts);
      return c.model === 'gpt' ? engine.runGptTraining(opened, c, opts) : engine.runTraining(opened, c, opts);
    };

    if (args.sweep === undefined) {
      const report = await train(args.config);
      writeRunOutputs(args.outputs, report, version());
      io.out(args.format === 'csv' ? resultsToCsv([resultRun('run', report.config, report)]) : args.json ? `${JSON.stringify(withSchema('run', report))}\n` : formatRunReport(report));
      // The numbers are printed, but a device error during the run makes them suspect.
      return deviceErrors.length > 0 ? 1 : 0;
    }

    const { key, points } = args.sweep;
    const lines: SweepLine[] = [];
    const results: ResultRun[] = [];
    for (const [i, { value, config }] of points.entries()) {
      if (showProgress) io.err(formatSweepProgress(key, value, i, points.length));
      let line: SweepLine;
      try {
        const report = await train(config);
        line = sweepLine(key, value, report);
        results.push(resultRun(`${key}=${value}`, config, report));
      } catch (err) {
        // The device refused this size (and the engine freed what it had): the other points still run.
        const name = err instanceof Error ? err.name : '';
        if (name !== 'BufferTooLarge' && name !== 'OutOfMemory') throw err;
        line = { point: { [key]: value }, error: { name, message: oneLine((err as Error).message) } };
        results.push({ ...resultRun(`${key}=${value}`, config, null), status: 'refused', failure: `${name}: ${line.error.message}` });
      }
      lines.push(line);
      if (args.json) io.out(`${JSON.stringify(withSchema('run-sweep', line))}\n`);
    }
    if (args.format === 'csv') io.out(resultsToCsv(results));
    else if (!args.json) io.out(formatSweep(opened.summary, args.config, key, lines));
    if (deviceErrors.length > 0) return 1;
    return lines.some((l) => 'error' in l) ? 2 : 0;
  } finally {
    stopListening?.();
    opened.device.destroy();
  }
}

/** A run as a row of the results CSV the page exports for its experiments. */
function resultRun(id: string, config: AnyRunConfig, report: AnyEngineRunReport | null): ResultRun {
  return { id, label: id, status: report ? 'done' : 'failed', config, estimatedPeakBytes: report?.estimate.peak.bytes ?? null, report };
}

/**
 * The Dawn device of a GPU command (the engine loads only here, so `estimate` never pays for
 * it), with every device error it reports collected and said on stderr as one line.
 */
async function openCliDevice(command: 'run' | 'bench', io: Io): Promise<{ opened: OpenedDevice; deviceErrors: DeviceErrorReport[] }> {
  const { openNodeDevice } = await import('../engine/node.ts').catch((e: unknown) => Promise.reject(explainMissingPackage(e)));
  const deviceErrors: DeviceErrorReport[] = [];
  const opened = await openNodeDevice({
    label: `vramlab.${command}`,
    onError: (r) => {
      deviceErrors.push(r);
      io.err(`vramlab ${command}: ${r.message} (${oneLine(r.detail)})\n`);
    },
  });
  return { opened, deviceErrors };
}

/** The tiles `bench --tune` found for this adapter, if any (a bad cache file is ignored with a warning). */
async function applyCachedTiles(opened: OpenedDevice, io: Io): Promise<string> {
  const [{ setMatmulTiles, tilesProblem, matmulTiles }, { adapterKey }, cache] = await Promise.all([
    import('../engine/kernels/matmul.ts'),
    import('../engine/tune.ts'),
    import('./tiles-cache.ts'),
  ]);
  const path = cache.tilesCachePath(io.env);
  const { tiles, problem } = cache.cachedTiles(path, adapterKey(opened.summary));
  if (problem) io.err(`vramlab: ${oneLine(problem)}\n`);
  if (tiles) {
    const bad = tilesProblem(opened.device, tiles);
    if (bad === null) {
      setMatmulTiles(opened.device, tiles);
      return `${tileText(tiles)} (cached in ${path})`;
    }
    io.err(`vramlab: cached matmul tiles ${JSON.stringify(tiles)} do not fit this device (${bad}); using the default\n`);
  }
  return `${tileText(matmulTiles(opened.device))} (default)`;
}

/**
 * A Llama run scaled to this device exactly as the lab's Run panel scales a model
 * (ui/scale.ts: the adapter's buffer limits, a memory budget and a compute budget per step);
 * the sentence saying so goes to stderr, a refusal is a UsageError naming --model. A depth the
 * user gave (--layers, or a sweep over it) is kept; width, vocabulary, seq and batch are divided.
 */
function scaledToDevice(c: LlamaRunConfig, adapter: OpenedDevice['summary'], io: Io, keepDepth: boolean): LlamaRunConfig {
  const plan = planForDevice(c, deviceBudget(adapter), keepDepth ? c.layers : undefined);
  if (plan.kind === 'refused') throw new UsageError(`--model: ${plan.message}`, '--model');
  if (plan.kind === 'scaled') io.err(`vramlab run: ${plan.message}\n`);
  return plan.config;
}

function tileText(t: { tm: number; tn: number; wgx: number; wgy: number; tk: number }): string {
  return `${t.wgy * t.tm}×${t.wgx * t.tn}, ${t.tm}×${t.tn} per invocation, tk ${t.tk}`;
}

/**
 * `vramlab bench`: tunes (or loads) the matmul tiles, then runs the work on both engines. With
 * --json each line is printed as it finishes; progress goes to stderr when not JSON or when
 * someone watches it.
 */
async function runBenchCommand(argv: readonly string[], io: Io): Promise<number> {
  const args = parseBenchArgs(argv);
  if (args.help) {
    io.out(benchUsage());
    return 0;
  }
  const cache = await import('./tiles-cache.ts');
  const cachePath = cache.tilesCachePath(io.env);
  if (args.tune) {
    // Tuning takes a while; its result must have somewhere to go before it starts.
    const problem = cache.tilesCacheWriteProblem(cachePath);
    if (problem) throw new UsageError(`--tune ${oneLine(problem)}: set VRAMLAB_CACHE_DIR to a folder you can write, or drop --tune`, '--tune');
  }
  // TF.js is optional (not a dependency of the package): without it the vramlab column still
  // runs, and one line, said before the device opens, tells how to add the comparison.
  let tfjs = args.tfjs;
  if (tfjs) {
    const missing = await import('./bench-tfjs.ts').then(
      () => null,
      (e: unknown) => {
        const explained = explainMissingPackage(e);
        if (!(explained instanceof Error) || explained.name !== MISSING_PACKAGE || !/TensorFlow/.test(explained.message)) throw explained;
        return explained.message;
      },
    );
    if (missing !== null) {
      io.err(`vramlab bench: ${missing}; benching vramlab alone\n`);
      tfjs = false;
    }
  }
  const optimizerLaunch = optimizerLaunchFromEnv(io.env);
  const [{ opened, deviceErrors }, bench] = await Promise.all([openCliDevice('bench', io), import('./bench.ts')]);
  const progress = !args.json || io.errIsTTY === true ? (t: string) => io.err(`${t}\n`) : undefined;
  if (args.ab) {
    try {
      const lines = await bench.runAb(opened, { iters: args.iters ?? 10, ...(progress ? { onProgress: progress } : {}) }, (line) => args.json && io.out(`${JSON.stringify(withSchema('bench-ab', line))}\n`));
      if (!args.json) io.out(formatAb(lines));
      return deviceErrors.length > 0 ? 1 : 0;
    } finally {
      opened.device.destroy();
    }
  }
  // The full shapes take hours on a CPU adapter (SwiftShader): there the quick ones run.
  const quick = args.quick || opened.summary.isFallbackAdapter;
  if (!args.quick && quick) io.err('vramlab bench: this is a CPU (fallback) adapter: running the --quick shapes\n');
  try {
    let tiles: string;
    if (args.tune) {
      const { tuneMatmul, adapterKey } = await import('../engine/tune.ts');
      // 1024³ is long enough to time on a GPU; a CPU adapter needs minutes for it.
      const n = opened.summary.isFallbackAdapter ? 128 : 1024;
      const r = await tuneMatmul(opened.device, { n, onProgress: (done, total, t) => done < total && progress?.(`bench: tuning matmul tiles ${done + 1}/${total}: ${tileText(t)}`) });
      const best = r.timings.find((t) => t.tiles === r.best)!;
      for (const t of r.timings) progress?.(`bench: tiles ${tileText(t.tiles)}: ${t.ms.toPrecision(3)} ms at ${n}³ (${t.gflops.toPrecision(3)} GFLOP/s)`);
      const unsaved = cache.saveTiles(cachePath, adapterKey(opened.summary), { tiles: r.best, n, gflops: best.gflops, tuned: new Date().toISOString() });
      // The folder was writable before tuning; should it not be now, this run still uses the tiles.
      if (unsaved) io.err(`vramlab bench: ${oneLine(unsaved)}; the tuned tiles are used for this run only\n`);
      tiles = `${tileText(r.best)} (tuned at ${n}³, ${unsaved ? 'not saved' : `saved to ${cachePath}`})`;
    } else {
      tiles = await applyCachedTiles(opened, io);
    }
    const lines = await bench.runBench(
      opened,
      { quick, tfjs, optimizerLaunch, variants: args.variants ?? !quick, ...(args.only ? { only: args.only } : {}), ...(args.iters ? { iters: args.iters } : {}), tiles, ...(progress ? { onProgress: progress } : {}) },
      (line) => args.json && io.out(`${JSON.stringify(withSchema('bench', line))}\n`),
    );
    if (!args.json) io.out(formatBench(lines, opened.summary, tiles));
    const failed = lines.some((l) => 'error' in l.vramlab || (l.tfjs !== null && 'error' in l.tfjs));
    return deviceErrors.length > 0 || failed ? 1 : 0;
  } finally {
    opened.device.destroy();
  }
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

/** Error names (they travel in `Error.name`) and the exit status of each; the rest are bugs. */
const EXPECTED_ERRORS: Record<string, number> = {
  UsageError: 2,
  EstimateError: 2,
  // The ledger's sentence names the tensor, its size and the limit or what was already live.
  BufferTooLarge: 2,
  OutOfMemory: 2,
  NoWebGPU: 1,
  NoAdapter: 1,
  NoDevice: 1,
  // A device lost mid-run (a driver reset): nothing wrong with the input, no usable GPU now.
  DeviceLost: 1,
  // The installed packages lack one a command needs: the line says how to install it.
  MissingPackage: 2,
  Cancelled: 130,
};

/** Every failure becomes one line: a terminal user should never have to read a stack. */
export function report(err: unknown, prefix: string, io: Io): number {
  if (err instanceof ConfigError) err = usageFromConfigError(err);
  const name = err instanceof Error ? err.name : '';
  const status = Object.hasOwn(EXPECTED_ERRORS, name) ? EXPECTED_ERRORS[name] : undefined;
  if (status !== undefined) {
    io.err(`${prefix}: ${oneLine((err as Error).message)}\n`);
    return status;
  }
  const message = err instanceof Error ? err.message : String(err);
  io.err(`vramlab: internal error: ${oneLine(message)}\n`);
  if (io.env.VRAMLAB_DEBUG && err instanceof Error && err.stack) io.err(`${err.stack}\n`);
  return 1;
}
