/**
 * The engine's worker entry: the only module that knows it runs in a Worker. It owns one
 * device for the worker's lifetime and exposes EngineApi through Comlink.
 */
import '../protocol/jitless.ts';
import * as Comlink from 'comlink';
import { contextGpu, openDevice, type OpenedDevice } from './device.ts';
import { cancelled, runCnnTraining, runGptTraining, runLlamaTraining, runTraining } from './run.ts';
import { measureThroughput } from './throughput.ts';
import {
  ENGINE_ERRORS,
  RUN_ID_MAX_CHARS,
  type AdapterSummary,
  type DeviceErrorReport,
  type EngineApi,
  type EngineRunConfig,
  type EngineRunReport,
} from '../protocol/engine-api.ts';
import { CNN_MODELS, isCnnRun, parseCnnRunConfig } from '../protocol/cnn.ts';
import { parseGptRunConfig, parseLlamaRunConfig, parseRunConfig, type RunProgress } from '../protocol/run.ts';

let opened: Promise<OpenedDevice> | null = null;
let listener: ((report: DeviceErrorReport) => void) | null = null;
/** The run in progress and its id, to cancel it; one at a time on the worker's one device. */
let running: { id: string | undefined; abort: AbortController } | null = null;
/**
 * Ids cancelled before their run arrived (a cancel can overtake its run), oldest first; the
 * run that arrives with one fails with Cancelled at once. Bounded: an id cancelled after its
 * run ended is never claimed, and must not pile up.
 */
const cancelledEarly: string[] = [];
const CANCELLED_EARLY_CAP = 64;
/** Reports raised before anyone listened, replayed to the first listener; a flood is cut at the cap. */
const pending: DeviceErrorReport[] = [];
const PENDING_CAP = 64;

/** Over Comlink a callback is a proxy whose call returns a promise; a closed page rejects it. */
function deliver<T>(to: (value: T) => void, value: T): void {
  void Promise.resolve(to(value)).catch(() => undefined);
}

/** Frees the MessagePort behind a Comlink callback proxy; a plain function has nothing to free. */
function releaseCallback(fn: unknown): void {
  const release = fn ? (fn as { [Comlink.releaseProxy]?: unknown })[Comlink.releaseProxy] : undefined;
  if (typeof release === 'function') (release as () => void).call(fn);
}

function busy(): Error {
  const e = new Error('a run is already in progress: wait for it or cancel it first');
  e.name = ENGINE_ERRORS.Busy;
  return e;
}

/**
 * Validates an untrusted config with the schema its `model` names: 'gpt' is a GPT-style
 * decoder, 'llama' a Llama-style one, 'cnn-mnist' and 'cnn-cifar' the CNNs, anything else is
 * checked as the mlp (whose schema says which models exist), so a ConfigError always names the
 * field of the model that was asked for.
 */
function parseEngineRunConfig(input: unknown): EngineRunConfig {
  const model = typeof input === 'object' && input !== null ? (input as { model?: unknown }).model : undefined;
  if ((CNN_MODELS as readonly unknown[]).includes(model)) return parseCnnRunConfig(input);
  return model === 'llama' ? parseLlamaRunConfig(input) : model === 'gpt' ? parseGptRunConfig(input) : parseRunConfig(input);
}

/** A run id from another context: a short string, or absent. */
function checkRunId(id: unknown): string | undefined {
  if (id === undefined || id === null) return undefined;
  if (typeof id !== 'string' || id.length === 0 || id.length > RUN_ID_MAX_CHARS) {
    throw new TypeError(`a run id must be a string of 1 to ${RUN_ID_MAX_CHARS} characters`);
  }
  return id;
}

function report(r: DeviceErrorReport): void {
  if (listener) deliver(listener, r);
  else if (pending.length < PENDING_CAP) pending.push(r);
}

function device(): Promise<OpenedDevice> {
  if (!opened) {
    const attempt: Promise<OpenedDevice> = openDevice(contextGpu(), {
      label: 'vramlab.worker',
      onError: (r) => {
        // A lost device is gone for good: the next probe() opens a fresh one.
        if (r.kind === 'lost' && opened === attempt) opened = null;
        report(r);
      },
    });
    // A failed open is not cached, so a retry after e.g. a flag change can succeed.
    attempt.catch(() => {
      if (opened === attempt) opened = null;
    });
    opened = attempt;
  }
  return opened;
}

const engine: EngineApi = {
  async probe(): Promise<AdapterSummary> {
    return (await device()).summary;
  },
  async onDeviceError(next) {
    listener = next;
    if (next) for (const r of pending.splice(0)) deliver(next, r);
  },
  async run(config, onProgress, runId): Promise<EngineRunReport> {
    try {
      const id = checkRunId(runId);
      const early = id === undefined ? -1 : cancelledEarly.indexOf(id);
      if (early >= 0) {
        cancelledEarly.splice(early, 1);
        throw cancelled();
      }
      if (running) throw busy();
      // From another context: validate as untrusted input (a ConfigError names the field).
      const cfg = parseEngineRunConfig(config);
      const abort = new AbortController();
      const run = { id, abort };
      running = run;
      try {
        const opened = await device();
        const opts = {
          signal: abort.signal,
          ...(onProgress ? { onProgress: (p: RunProgress) => deliver(onProgress, p) } : {}),
        };
        if (cfg.model === 'llama') return await runLlamaTraining(opened, cfg, opts);
        if (isCnnRun(cfg)) return await runCnnTraining(opened, cfg, opts);
        return cfg.model === 'gpt' ? await runGptTraining(opened, cfg, opts) : await runTraining(opened, cfg, opts);
      } finally {
        if (running === run) running = null;
      }
    } finally {
      releaseCallback(onProgress);
    }
  },
  async cancel(runId) {
    const id = checkRunId(runId);
    if (id === undefined || running?.id === id) {
      running?.abort.abort();
      return;
    }
    if (cancelledEarly.includes(id)) return;
    cancelledEarly.push(id);
    if (cancelledEarly.length > CANCELLED_EARLY_CAP) cancelledEarly.shift();
  },
  async measureThroughput() {
    if (running) throw busy();
    // Held like a run, so a run started meanwhile is refused rather than timed alongside.
    const probe = { id: undefined, abort: new AbortController() };
    running = probe;
    try {
      return await measureThroughput((await device()).device);
    } finally {
      if (running === probe) running = null;
    }
  },
  async loseDevice() {
    const current = opened;
    if (!current) return;
    // Dropped first, so a probe() racing with the loss opens a new device instead of this one.
    opened = null;
    let gone: OpenedDevice;
    try {
      gone = await current;
    } catch {
      return; // It never opened: nothing to lose.
    }
    gone.device.destroy();
    const info = await gone.device.lost;
    // device.ts stays quiet about reason 'destroyed' (our own dispose); this one is a loss
    // on purpose, so the page hears about it as it would about a driver reset.
    report({
      kind: 'lost',
      message: 'The GPU device was lost (destroyed on request); the next probe opens a new device',
      detail: info.message || 'destroyed by loseDevice()',
      reason: info.reason,
      at: performance.now(),
    });
  },
};

Comlink.expose(engine);
