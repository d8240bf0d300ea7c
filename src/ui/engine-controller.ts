/**
 * The page's connection to the engine worker, tied to a host element's lifecycle: the
 * worker starts when the host connects and is terminated when it disconnects.
 */
import type { ReactiveController, ReactiveControllerHost } from 'lit';
import * as Comlink from 'comlink';
import type { AdapterSummary, DeviceErrorReport, EngineApi } from '../protocol/engine-api.ts';

export const ENGINE_STATUSES = ['connecting', 'ready', 'error'] as const;
export type EngineStatus = (typeof ENGINE_STATUSES)[number];

/** An error as it arrives from the worker: the kind in `name`, the sentence in `message`. */
export interface EngineFailure {
  name: string;
  message: string;
}

/**
 * The dev server's test hook: e2e specs drive the worker through the same Comlink connection
 * the page uses. Absent from production builds (`import.meta.env.DEV` is false there).
 */
export interface VramlabDevHook {
  api: Comlink.Remote<EngineApi>;
  /** Comlink.proxy, for callbacks handed to `api` from page.evaluate. */
  proxy: typeof Comlink.proxy;
}

declare global {
  interface Window {
    __vramlab?: VramlabDevHook;
  }
}

/** Device errors kept for display; older ones are dropped. */
const MAX_DEVICE_ERRORS = 20;

export class EngineController implements ReactiveController {
  status: EngineStatus = 'connecting';
  adapter: AdapterSummary | null = null;
  error: EngineFailure | null = null;
  deviceErrors: DeviceErrorReport[] = [];

  private readonly host: ReactiveControllerHost;
  private worker: Worker | null = null;
  private remote: Comlink.Remote<EngineApi> | null = null;

  constructor(host: ReactiveControllerHost) {
    this.host = host;
    host.addController(this);
  }

  /** The worker's API while connected, for later features (runs, reports). */
  get api(): Comlink.Remote<EngineApi> | null {
    return this.remote;
  }

  hostConnected(): void {
    this.connect();
  }

  hostDisconnected(): void {
    this.disconnect();
  }

  private connect(): void {
    this.disconnect();
    this.status = 'connecting';
    this.adapter = null;
    this.error = null;
    this.deviceErrors = [];
    this.host.requestUpdate();

    const worker = new Worker(new URL('../engine/worker.ts', import.meta.url), { type: 'module', name: 'vramlab-engine' });
    const remote = Comlink.wrap<EngineApi>(worker);
    this.worker = worker;
    this.remote = remote;
    if (import.meta.env.DEV) window.__vramlab = { api: remote, proxy: Comlink.proxy };
    // Results that arrive after a disconnect or reconnect belong to a dead worker: drop them.
    const current = () => this.worker === worker;

    // A module worker that fails to load or throws at top level reports only here.
    worker.addEventListener('error', (ev) => {
      if (!current()) return;
      this.fail({ name: 'WorkerFailed', message: `The engine worker failed to start${ev.message ? `: ${ev.message}` : ''}; reload the page` });
    });

    void remote
      .onDeviceError(
        Comlink.proxy((report: DeviceErrorReport) => {
          if (!current()) return;
          this.deviceErrors = [...this.deviceErrors, report].slice(-MAX_DEVICE_ERRORS);
          this.host.requestUpdate();
        }),
      )
      .catch(() => undefined);

    remote.probe().then(
      (summary) => {
        if (!current()) return;
        this.status = 'ready';
        this.adapter = summary;
        this.host.requestUpdate();
      },
      (e: unknown) => {
        if (!current()) return;
        this.fail(e instanceof Error ? { name: e.name, message: e.message } : { name: 'Error', message: String(e) });
      },
    );
  }

  private fail(error: EngineFailure): void {
    this.status = 'error';
    this.error = error;
    this.host.requestUpdate();
  }

  private disconnect(): void {
    if (import.meta.env.DEV && this.remote && window.__vramlab?.api === this.remote) delete window.__vramlab;
    this.remote?.[Comlink.releaseProxy]();
    this.worker?.terminate();
    this.remote = null;
    this.worker = null;
  }
}
