/**
 * The engine's worker entry: the only module that knows it runs in a Worker. It owns one
 * device for the worker's lifetime and exposes EngineApi through Comlink.
 */
import * as Comlink from 'comlink';
import { contextGpu, openDevice, type OpenedDevice } from './device.ts';
import type { AdapterSummary, DeviceErrorReport, EngineApi } from '../protocol/engine-api.ts';

let opened: Promise<OpenedDevice> | null = null;
let listener: ((report: DeviceErrorReport) => void) | null = null;
/** Reports raised before anyone listened, replayed to the first listener; a flood is cut at the cap. */
const pending: DeviceErrorReport[] = [];
const PENDING_CAP = 64;

/** Over Comlink the listener is a proxy whose call returns a promise; a closed page rejects it. */
function deliver(to: (report: DeviceErrorReport) => void, r: DeviceErrorReport): void {
  void Promise.resolve(to(r)).catch(() => undefined);
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
};

Comlink.expose(engine);
