/**
 * The engine's worker entry: the only module that knows it runs in a Worker. It owns one
 * device for the worker's lifetime and exposes EngineApi through Comlink.
 */
import * as Comlink from 'comlink';
import { contextGpu, openDevice, type OpenedDevice } from './device.ts';
import { runGptTraining, runTraining } from './run.ts';
import { measureThroughput } from './throughput.ts';
import {
  ENGINE_ERRORS,
  type AdapterSummary,
  type DeviceErrorReport,
  type EngineApi,
  type EngineRunConfig,
  type EngineRunReport,
} from '../protocol/engine-api.ts';
import { parseGptRunConfig, parseRunConfig, type RunProgress } from '../protocol/run.ts';

let opened: Promise<OpenedDevice> | null = null;
let listener: ((report: DeviceErrorReport) => void) | null = null;
/** The run in progress, to cancel it; one at a time on the worker's one device. */
let running: AbortController | null = null;
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
 * decoder, anything else is checked as the mlp (whose schema says which models exist), so a
 * ConfigError always names the field of the model that was asked for.
 */
function parseEngineRunConfig(input: unknown): EngineRunConfig {
  const model = typeof input === 'object' && input !== null ? (input as { model?: unknown }).model : undefined;
  return model === 'gpt' ? parseGptRunConfig(input) : parseRunConfig(input);
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
  async run(config, onProgress): Promise<EngineRunReport> {
    try {
      if (running) throw busy();
      // From another context: validate as untrusted input (a ConfigError names the field).
      const cfg = parseEngineRunConfig(config);
      const abort = new AbortController();
      running = abort;
      try {
        const opened = await device();
        const opts = {
          signal: abort.signal,
          ...(onProgress ? { onProgress: (p: RunProgress) => deliver(onProgress, p) } : {}),
        };
        return cfg.model === 'gpt' ? await runGptTraining(opened, cfg, opts) : await runTraining(opened, cfg, opts);
      } finally {
        if (running === abort) running = null;
      }
    } finally {
      releaseCallback(onProgress);
    }
  },
  async cancel() {
    running?.abort();
  },
  async measureThroughput() {
    if (running) throw busy();
    // Held like a run, so a run started meanwhile is refused rather than timed alongside.
    const probe = new AbortController();
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
