/**
 * The page's connection to the engine worker, tied to a host element's lifecycle: the
 * worker starts when the host connects and is terminated when it disconnects.
 *
 * Everything the worker sends is untrusted (it may be a different build, or broken): probe
 * results, device error reports, run progress and run reports are validated with the schemas
 * in protocol/messages.ts before use. The controller keeps the engine up: a lost device is
 * replaced by re-probing, and a watchdog replaces a worker that stopped answering.
 */
import type { ReactiveController, ReactiveControllerHost } from 'lit';
import * as Comlink from 'comlink';
import type { AdapterSummary, DeviceErrorReport, EngineApi, EngineRunConfig, EngineRunReport, ThroughputReport } from '../protocol/engine-api.ts';
import type { RunProgress } from '../protocol/run.ts';
import {
  AdapterSummarySchema,
  DeviceErrorReportSchema,
  RunProgressSchema,
  RunReportSchema,
  ThroughputReportSchema,
  parseWorkerMessage,
} from '../protocol/messages.ts';
import { LabRunner, type RunEngine } from './lab-runner.ts';

/**
 * A composed, bubbling event a descendant element dispatches to learn the adapter the host's
 * EngineController has (the context-request pattern: the provider answers through the
 * callback now and on every change). Its limits decide what a run may allocate.
 */
export const ADAPTER_REQUEST = 'vl-adapter-request';

export interface AdapterRequest {
  callback: (adapter: AdapterSummary | null) => void;
  /** Set by the provider: stops the callbacks. */
  unsubscribe?: () => void;
}

/**
 * The consumer side of ADAPTER_REQUEST: asks the nearest EngineController host for its adapter
 * when the host element connects, re-renders the host on each change, stops when it leaves.
 * `adapter` stays null when no provider answers.
 */
export class AdapterConsumer implements ReactiveController {
  adapter: AdapterSummary | null = null;
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly host: ReactiveControllerHost & HTMLElement) {
    host.addController(this);
  }

  hostConnected(): void {
    const detail: AdapterRequest = {
      callback: (adapter) => {
        this.adapter = adapter;
        this.host.requestUpdate();
      },
    };
    this.host.dispatchEvent(new CustomEvent<AdapterRequest>(ADAPTER_REQUEST, { detail, bubbles: true, composed: true }));
    this.unsubscribe = detail.unsubscribe;
  }

  hostDisconnected(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }
}

export const ENGINE_STATUSES = ['connecting', 'ready', 'error'] as const;
export type EngineStatus = (typeof ENGINE_STATUSES)[number];

/** An error as it arrives from the worker: the kind in `name`, the sentence in `message`. */
export interface EngineFailure {
  name: string;
  message: string;
}

export const NOTICE_TONES = ['progress', 'recovered', 'problem'] as const;
export type NoticeTone = (typeof NOTICE_TONES)[number];

/** What the controller last did to keep the engine up, for a status region. */
export interface EngineNotice {
  tone: NoticeTone;
  message: string;
}

/**
 * The dev server's test hook: e2e specs drive the worker through the same Comlink connection
 * the page uses. Absent from production builds (`import.meta.env.DEV` is false there).
 * Replaced by a new object whenever the worker is restarted.
 */
export interface VramlabDevHook {
  api: Comlink.Remote<EngineApi>;
  /** Comlink.proxy, for callbacks handed to `api` from page.evaluate. */
  proxy: typeof Comlink.proxy;
  /** The Worker behind `api`, so a test can terminate() it and watch the page recover. */
  worker: Worker;
  /** EngineController.run: the page's own path (liveness check first, messages validated). */
  run: (config: EngineRunConfig, onProgress?: (p: RunProgress) => void) => Promise<EngineRunReport>;
  /** A shared runner (lab-runner.ts) over any engine, for a component a test mounts on its own. */
  labRunner: (engine: RunEngine) => LabRunner;
  /** EngineController.cancel: cancels the run started last by `run`, sent or not. */
  cancel: () => Promise<void>;
}

declare global {
  interface Window {
    __vramlab?: VramlabDevHook;
  }
}

/** Device errors kept for display; older ones are dropped. */
const MAX_DEVICE_ERRORS = 20;
/** How often the watchdog asks the worker whether it is alive. */
const PING_INTERVAL_MS = 2_000;
/**
 * How long a live worker may take to answer probe() once its device is open: it answers
 * between GPU awaits even mid-run, so 3 s of silence means it is gone (terminated, crashed,
 * or stuck in a loop), not busy.
 */
const PING_TIMEOUT_MS = 3_000;
/** The first probe opens the adapter and device, which can take seconds on a real GPU. */
const OPEN_TIMEOUT_MS = 20_000;
/** Restarts (or device re-opens) allowed per window before the page asks for a reload. */
const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 60_000;

/** How much of the driver's loss message the status line quotes. */
const MAX_WHY_CHARS = 200;

const WORKER_FAILED = 'WorkerFailed';
const RESTARTED_MESSAGE = 'The engine worker stopped; a new one is running.';

/** A promise that did not settle in time: the far side is presumed dead. */
class TimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`${what} did not answer within ${ms / 1000} s`);
    this.name = 'Timeout';
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(what, ms)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function failureOf(e: unknown): EngineFailure {
  return e instanceof Error ? { name: e.name, message: e.message } : { name: 'Error', message: String(e) };
}

/** Counts events in a sliding window, so a crash loop ends in a message instead of a spin. */
class RateLimit {
  private times: number[] = [];
  constructor(
    private readonly max: number,
    private readonly windowMs: number,
  ) {}
  /** Records one event; false when that makes more than `max` in the window. */
  take(now = performance.now()): boolean {
    this.times = this.times.filter((t) => now - t < this.windowMs);
    if (this.times.length >= this.max) return false;
    this.times.push(now);
    return true;
  }
}

/** One worker and its Comlink endpoint; a restart makes a new one, never reuses one. */
interface Connection {
  worker: Worker;
  remote: Comlink.Remote<EngineApi>;
  /** Whether it has answered anything yet, i.e. its module loaded. */
  answered: boolean;
  /**
   * Rejects when this worker is stopped: calls in flight on a terminated worker never settle,
   * so callers race against it.
   */
  stopped: Promise<never>;
  markStopped: (reason: Error) => void;
}

function engineError(name: string, message: string): Error {
  return Object.assign(new Error(message), { name });
}

export class EngineController implements ReactiveController {
  status: EngineStatus = 'connecting';
  adapter: AdapterSummary | null = null;
  error: EngineFailure | null = null;
  deviceErrors: DeviceErrorReport[] = [];
  /** The last recovery (or failure to recover), for the page's status region. */
  notice: EngineNotice | null = null;

  private readonly host: ReactiveControllerHost;
  private conn: Connection | null = null;
  private watchdog: ReturnType<typeof setInterval> | null = null;
  /** The liveness check in flight, shared by the watchdog and callers of ready(). */
  private checking: Promise<boolean> | null = null;
  private readonly restarts = new RateLimit(MAX_RESTARTS, RESTART_WINDOW_MS);
  private readonly deviceReopens = new RateLimit(MAX_RESTARTS, RESTART_WINDOW_MS);
  /** Set when restarts ran out: the watchdog stops and the page asks for a reload. */
  private gaveUp = false;
  /** The run in flight from run(), for cancel(); its id is unique to this page's controller. */
  private current: { id: string; cancelled: boolean } | null = null;
  private runCount = 0;
  private readonly runIdPrefix = Math.random().toString(36).slice(2, 10);
  /** Descendants that asked for the adapter (ADAPTER_REQUEST), told of every change. */
  private readonly adapterListeners = new Set<(adapter: AdapterSummary | null) => void>();

  constructor(host: ReactiveControllerHost) {
    this.host = host;
    host.addController(this);
  }

  /** The worker's API while connected; prefer ready() or run(), which check it is alive. */
  get api(): Comlink.Remote<EngineApi> | null {
    return this.conn?.remote ?? null;
  }

  hostConnected(): void {
    if (this.host instanceof EventTarget) this.host.addEventListener(ADAPTER_REQUEST, this.handleAdapterRequest);
    this.gaveUp = false;
    this.start();
    this.watchdog = setInterval(() => void this.check(), PING_INTERVAL_MS);
  }

  hostDisconnected(): void {
    if (this.host instanceof EventTarget) this.host.removeEventListener(ADAPTER_REQUEST, this.handleAdapterRequest);
    this.adapterListeners.clear();
    if (this.watchdog !== null) clearInterval(this.watchdog);
    this.watchdog = null;
    this.stop();
  }

  /**
   * The API of a live worker: pings it first and, when it is dead, restarts it and waits for
   * the new one's probe. Throws Error named WorkerFailed when no worker can be had.
   */
  async ready(): Promise<Comlink.Remote<EngineApi>> {
    return (await this.live()).remote;
  }

  private async live(): Promise<Connection> {
    if (this.conn && (await this.check()) && this.conn) return this.conn;
    const failure = this.error ?? { name: WORKER_FAILED, message: 'The engine worker is not running; reload the page' };
    throw engineError(failure.name, failure.message);
  }

  /**
   * Runs training (the mlp, a GPT, a Llama or a CNN, by `config.model`) on a live worker; progress and the report are validated before they reach
   * the caller (a malformed one fails with Error named BadWorkerMessage). If the worker dies
   * during the run, fails with Error named WorkerFailed (a new worker is started meanwhile).
   */
  async run(config: EngineRunConfig, onProgress?: (p: RunProgress) => void): Promise<EngineRunReport> {
    const run = { id: `${this.runIdPrefix}-${++this.runCount}`, cancelled: false };
    this.current = run;
    try {
      return await this.runOn(run, config, onProgress);
    } finally {
      if (this.current === run) this.current = null;
    }
  }

  /** This device's matmul rate (the engine's throughput probe, about a second), validated. */
  async measureThroughput(): Promise<ThroughputReport> {
    const conn = await this.live();
    const raw: unknown = await Promise.race([conn.remote.measureThroughput(), conn.stopped]);
    return parseWorkerMessage(ThroughputReportSchema, raw, 'the throughput measurement');
  }

  /**
   * Cancels the run started last by run(), wherever it is: still waiting for the liveness check
   * (it then fails with Cancelled without being sent), or on its way to the worker or running
   * there (the worker keeps a cancel that overtakes its run). Nothing when no run is in flight.
   */
  async cancel(): Promise<void> {
    const run = this.current;
    if (!run) return;
    run.cancelled = true;
    const conn = this.conn;
    // A terminated worker never answers: its run fails with WorkerFailed on its own.
    if (conn) await Promise.race([conn.remote.cancel(run.id), conn.stopped]);
  }

  private async runOn(run: { id: string; cancelled: boolean }, config: EngineRunConfig, onProgress?: (p: RunProgress) => void): Promise<EngineRunReport> {
    const conn = await this.live();
    // Cancelled while the worker was being checked (or replaced): the run is never sent.
    if (run.cancelled) throw engineError('Cancelled', 'the run was cancelled; nothing is left allocated');
    const progress = onProgress
      ? Comlink.proxy((raw: unknown) => {
          let p: RunProgress;
          try {
            p = parseWorkerMessage(RunProgressSchema, raw, 'run progress');
          } catch (e) {
            this.showProblem(failureOf(e).message);
            return;
          }
          onProgress(p);
        })
      : null;
    const raw: unknown = await Promise.race([conn.remote.run(config, progress, run.id), conn.stopped]);
    return parseWorkerMessage(RunReportSchema, raw, 'the run report');
  }

  /** Starts a fresh worker, forgetting everything the last one said. */
  private start(): void {
    this.stop();
    this.status = 'connecting';
    this.setAdapter(null);
    this.error = null;
    this.deviceErrors = [];
    this.host.requestUpdate();

    const worker = new Worker(new URL('../engine/worker.ts', import.meta.url), { type: 'module', name: 'vramlab-engine' });
    const remote = Comlink.wrap<EngineApi>(worker);
    let markStopped: (reason: Error) => void = () => undefined;
    const stopped = new Promise<never>((_, reject) => {
      markStopped = reject;
    });
    // Nobody may be racing against it when it rejects.
    stopped.catch(() => undefined);
    const conn: Connection = { worker, remote, answered: false, stopped, markStopped };
    this.conn = conn;
    if (import.meta.env.DEV) {
      window.__vramlab = { api: remote, proxy: Comlink.proxy, worker, run: (c, p) => this.run(c, p), cancel: () => this.cancel(), labRunner: (e) => new LabRunner(e) };
    }

    // A module worker that fails to load or throws at top level reports only here; an
    // unstructurable message lands in messageerror. Either way: is it still answering?
    const suspect = () => {
      if (this.conn !== conn) return;
      // Before its first answer the worker is loading: an error then means it never started.
      if (conn.answered) void this.check();
      else void this.restart();
    };
    worker.addEventListener('error', suspect);
    worker.addEventListener('messageerror', suspect);

    void remote
      .onDeviceError(Comlink.proxy((raw: unknown) => this.handleDeviceReport(conn, raw)))
      .catch(() => undefined);

    void this.probe(conn, OPEN_TIMEOUT_MS);
  }

  /** Terminates the current worker; anything it sends afterwards is ignored. */
  private stop(): void {
    const conn = this.conn;
    this.conn = null;
    this.checking = null;
    if (!conn) return;
    if (import.meta.env.DEV && window.__vramlab?.api === conn.remote) delete window.__vramlab;
    conn.markStopped(engineError(WORKER_FAILED, 'The engine worker stopped before it answered; a new one is started, try again'));
    conn.remote[Comlink.releaseProxy]();
    conn.worker.terminate();
  }

  /**
   * Asks the worker for its adapter (opening a device if it has none) and shows the answer.
   * Resolves true when the engine is ready; a timeout counts as a dead worker.
   */
  private async probe(conn: Connection, timeoutMs: number): Promise<boolean> {
    let raw: unknown;
    try {
      raw = await withTimeout(conn.remote.probe(), timeoutMs, 'The engine worker');
    } catch (e) {
      if (this.conn !== conn) return false;
      if (e instanceof TimeoutError) return this.restart();
      conn.answered = true;
      this.fail(failureOf(e));
      return false;
    }
    if (this.conn !== conn) return false;
    conn.answered = true;
    try {
      this.setAdapter(parseWorkerMessage(AdapterSummarySchema, raw, 'the adapter summary'));
    } catch (e) {
      this.fail(failureOf(e));
      return false;
    }
    this.status = 'ready';
    this.error = null;
    this.host.requestUpdate();
    return true;
  }

  /**
   * Whether the current worker answers; a dead one is replaced (within the restart budget).
   * Concurrent callers share one check. Resolves true when a live, probed worker is there.
   */
  private check(): Promise<boolean> {
    if (this.gaveUp || !this.conn) return Promise.resolve(false);
    // The first probe is still opening the device and has its own, longer timeout.
    if (this.status === 'connecting') return Promise.resolve(true);
    if (!this.checking) {
      const conn = this.conn;
      const checking = this.ping(conn).then((alive) => {
        if (this.checking === checking) this.checking = null;
        if (this.conn !== conn) return this.conn !== null && this.status === 'ready';
        return alive ? this.status === 'ready' : this.restart();
      });
      this.checking = checking;
    }
    return this.checking;
  }

  /** Any answer, even a rejection (e.g. NoAdapter), means the worker is alive. */
  private async ping(conn: Connection): Promise<boolean> {
    try {
      await withTimeout(conn.remote.probe(), PING_TIMEOUT_MS, 'The engine worker');
      return true;
    } catch (e) {
      return !(e instanceof TimeoutError);
    }
  }

  /** Replaces a dead worker and says so; after too many restarts, asks for a reload instead. */
  private async restart(): Promise<boolean> {
    if (this.gaveUp) return false;
    if (!this.restarts.take()) {
      this.gaveUp = true;
      this.stop();
      if (this.watchdog !== null) clearInterval(this.watchdog);
      this.watchdog = null;
      const message = `The engine worker stopped ${MAX_RESTARTS} times in a minute; reload the page to try again.`;
      this.fail({ name: WORKER_FAILED, message });
      this.notice = { tone: 'problem', message };
      this.host.requestUpdate();
      return false;
    }
    this.notice = { tone: 'progress', message: 'The engine worker stopped; starting a new one…' };
    this.start();
    const conn = this.conn!;
    const ok = await this.probe(conn, OPEN_TIMEOUT_MS);
    if (this.conn !== conn) return ok;
    this.notice = ok
      ? { tone: 'recovered', message: RESTARTED_MESSAGE }
      : { tone: 'problem', message: `The engine worker stopped; a new one is running but ${this.error?.message ?? 'it has no GPU'}.` };
    this.host.requestUpdate();
    return ok;
  }

  private handleDeviceReport(conn: Connection, raw: unknown): void {
    if (this.conn !== conn) return;
    let report: DeviceErrorReport;
    try {
      report = parseWorkerMessage(DeviceErrorReportSchema, raw, 'a device error report');
    } catch (e) {
      this.showProblem(failureOf(e).message);
      return;
    }
    if (report.kind === 'lost') {
      void this.recoverDevice(conn, report);
      return;
    }
    this.deviceErrors = [...this.deviceErrors, report].slice(-MAX_DEVICE_ERRORS);
    this.host.requestUpdate();
  }

  /** The worker dropped its lost device; probing opens a new one. */
  private async recoverDevice(conn: Connection, report: DeviceErrorReport): Promise<void> {
    // The driver's text ends in a full stop ("Device was destroyed."); it goes inside parentheses here.
    const detail = report.detail.trim().replace(/[.\s]+$/, '');
    const why = (detail.length > MAX_WHY_CHARS ? `${detail.slice(0, MAX_WHY_CHARS)}…` : detail) || report.reason || 'no reason given';
    if (!this.deviceReopens.take()) {
      const message = `The GPU device was lost (${why}) ${MAX_RESTARTS} times in a minute; reload the page to try again.`;
      this.fail({ name: 'DeviceLost', message });
      this.notice = { tone: 'problem', message };
      this.host.requestUpdate();
      return;
    }
    this.status = 'connecting';
    this.setAdapter(null);
    this.notice = { tone: 'progress', message: `The GPU device was lost (${why}); opening a new one…` };
    this.host.requestUpdate();
    const ok = await this.probe(conn, OPEN_TIMEOUT_MS);
    if (this.conn !== conn) return;
    this.notice = ok
      ? { tone: 'recovered', message: `The GPU device was lost (${why}); a new device is ready.` }
      : { tone: 'problem', message: `The GPU device was lost (${why}) and no new device could be opened: ${this.error?.message ?? 'unknown error'}` };
    this.host.requestUpdate();
  }

  /** Answers an ADAPTER_REQUEST from a descendant: the adapter now, and each change until it unsubscribes. */
  private readonly handleAdapterRequest = (e: Event): void => {
    const detail = (e as CustomEvent<AdapterRequest>).detail;
    if (typeof detail?.callback !== 'function') return;
    e.stopPropagation();
    const callback = detail.callback;
    this.adapterListeners.add(callback);
    detail.unsubscribe = () => this.adapterListeners.delete(callback);
    callback(this.adapter);
  };

  private setAdapter(adapter: AdapterSummary | null): void {
    if (adapter === this.adapter) return;
    this.adapter = adapter;
    for (const listener of this.adapterListeners) listener(adapter);
  }

  /** A problem that does not stop the engine (e.g. one malformed report). */
  private showProblem(message: string): void {
    this.notice = { tone: 'problem', message };
    this.host.requestUpdate();
  }

  private fail(error: EngineFailure): void {
    this.status = 'error';
    this.error = error;
    this.host.requestUpdate();
  }
}
