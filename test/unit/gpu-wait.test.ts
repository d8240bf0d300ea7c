import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { expectedWaitMs, gpuWait, isPatient, markPatient } from '../../src/engine/gpu-wait.ts';

/** A stand-in for a device (gpu-wait only keys a WeakMap on it) and a GPU promise settling after `ms`. */
const fakeDevice = () => ({}) as GPUDevice;

describe('gpuWait', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** Runs one wait of a GPU job that takes `gpuMs` from submission; returns when the promise was requested (ms after start). */
  async function waitOnce(device: GPUDevice, gpuMs: number): Promise<number> {
    const start = performance.now();
    const done = start + gpuMs;
    let requestedAt = -1;
    const p = gpuWait(device, 'site', () => {
      requestedAt = performance.now() - start;
      return new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, done - performance.now())));
    });
    await vi.runAllTimersAsync();
    await p;
    return requestedAt;
  }

  it('requests the promise at once on a device that is not patient (browsers)', async () => {
    const d = fakeDevice();
    expect(isPatient(d)).toBe(false);
    for (let i = 0; i < 3; i++) expect(await waitOnce(d, 100)).toBe(0);
    expect(expectedWaitMs(d, 'site')).toBe(0);
  });

  it('on a patient device, learns the wait and then sleeps most of it before requesting the promise', async () => {
    const d = fakeDevice();
    markPatient(d);
    expect(await waitOnce(d, 100)).toBe(0); // nothing known yet: requested at once
    expect(expectedWaitMs(d, 'site')).toBeCloseTo(100, 0);
    const second = await waitOnce(d, 100);
    expect(second).toBeCloseTo(80, 0); // 0.8 of the expected 100 ms
    // The promise still settles when the GPU is done, not later.
    expect(expectedWaitMs(d, 'site')).toBeCloseTo(100, 0);
  });

  it('follows a wait that shrinks, so the sleep never stays longer than the work', async () => {
    const d = fakeDevice();
    markPatient(d);
    await waitOnce(d, 200);
    let requested = 0;
    for (let i = 0; i < 20; i++) requested = await waitOnce(d, 10);
    expect(expectedWaitMs(d, 'site')).toBeLessThan(14);
    expect(requested).toBeLessThanOrEqual(10);
  });

  it('does not sleep for waits too short to be worth a timer', async () => {
    const d = fakeDevice();
    markPatient(d);
    await waitOnce(d, 2);
    expect(await waitOnce(d, 2)).toBe(0);
  });
});
