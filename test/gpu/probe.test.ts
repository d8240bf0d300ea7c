/**
 * The memory probe on SwiftShader, and out-of-memory as the engine sees it: a fake device (a
 * Proxy around the real one) makes the 'out-of-memory' error scope report an error after N
 * allocations, the way a full GPU would. Every buffer made through the fake is tracked, and
 * each test checks that all of them were destroyed. The last block checks the worker message
 * schemas against what the engine really sends.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { create, globals } from 'webgpu';
import { openDevice, type OpenedDevice } from '../../src/engine/device.ts';
import { Ledger } from '../../src/engine/ledger.ts';
import { MAX_PROBE_BYTES, MAX_PROBE_CHUNKS, probeDeviceMemory } from '../../src/engine/probe.ts';
import { runTraining } from '../../src/engine/run.ts';
import type { DeviceErrorReport } from '../../src/protocol/engine-api.ts';
import { AdapterSummarySchema, RunProgressSchema, RunReportSchema, parseWorkerMessage } from '../../src/protocol/messages.ts';
import { DEFAULT_RUN, type RunProgress } from '../../src/protocol/run.ts';

Object.assign(globalThis, globals);
// Module level on purpose: if this GPU object is garbage-collected while devices live, Dawn crashes.
const gpu = create([]);

const MiB = 2 ** 20;

let opened: OpenedDevice;
let device: GPUDevice;
const reports: DeviceErrorReport[] = [];

beforeAll(async () => {
  opened = await openDevice(gpu, { label: 'test.probe', onError: (r) => reports.push(r) });
  device = opened.device;
});

afterEach(async () => {
  await device.queue.onSubmittedWorkDone();
  expect(reports, 'uncaptured device errors').toEqual([]);
});

afterAll(() => {
  device?.destroy();
});

interface FakeOptions {
  /** Allocations that succeed; the next ones report out-of-memory through their error scope. */
  oomAfter?: number;
  /** pushErrorScope throws on this allocation (0-based), before anything is pushed. */
  throwAt?: number;
  /** `lost` resolves at once, as after a device loss. */
  lost?: boolean;
  /** Back every buffer with 4 real bytes whatever its size, to count past the host's memory. */
  shrink?: boolean;
}

interface Fake {
  device: GPUDevice;
  /** Every buffer createBuffer returned, in order (wrapped, so their destroy() is seen). */
  created: GPUBuffer[];
  destroyed: Set<GPUBuffer>;
}

function fakeDevice(real: GPUDevice, opts: FakeOptions = {}): Fake {
  const { oomAfter = Infinity, throwAt = Infinity, lost = false, shrink = false } = opts;
  const created: GPUBuffer[] = [];
  const destroyed = new Set<GPUBuffer>();
  // Our view of the scope stack: the real scopes stay balanced, we only replace what a pop says.
  const scopes: GPUErrorFilter[] = [];
  let oomPushes = 0;
  const bind = (target: object, key: PropertyKey) => {
    const v = Reflect.get(target, key, target) as unknown;
    return typeof v === 'function' ? v.bind(target) : v;
  };
  const fake = new Proxy(real, {
    get(target, key) {
      switch (key) {
        case 'createBuffer':
          return (desc: GPUBufferDescriptor) => {
            const b = target.createBuffer(shrink ? { ...desc, size: 4 } : desc);
            const wrapped: GPUBuffer = new Proxy(b, {
              get(t, k) {
                if (k === 'destroy') {
                  return () => {
                    destroyed.add(wrapped);
                    t.destroy();
                  };
                }
                return bind(t, k);
              },
            });
            created.push(wrapped);
            return wrapped;
          };
        case 'pushErrorScope':
          return (filter: GPUErrorFilter) => {
            if (filter === 'out-of-memory' && oomPushes++ === throwAt) throw new Error('fake: the GPU process went away');
            scopes.push(filter);
            target.pushErrorScope(filter);
          };
        case 'popErrorScope':
          return async () => {
            const filter = scopes.pop();
            const error = await target.popErrorScope();
            // A GPUOutOfMemoryError is a GPUError: only `message` is read.
            if (filter === 'out-of-memory' && created.length > oomAfter) return { message: 'out of memory' } as GPUError;
            return error;
          };
        case 'lost':
          return lost ? Promise.resolve({ reason: 'unknown', message: 'fake loss' }) : bind(target, key);
        default:
          return bind(target, key);
      }
    },
  });
  return { device: fake, created, destroyed };
}

function expectAllDestroyed(f: Fake): void {
  expect(f.created.filter((b) => !f.destroyed.has(b)).map((b) => b.label)).toEqual([]);
}

describe('probeDeviceMemory', () => {
  it('stops at the cap, then leaves nothing allocated', async () => {
    const f = fakeDevice(device);
    const r = await probeDeviceMemory(f.device, { capBytes: 96 * MiB, chunkBytes: 32 * MiB });
    expect(r).toEqual({ bytes: 96 * MiB, stoppedBy: 'cap', chunks: 3 });
    expect(f.created.map((b) => b.size)).toEqual([32 * MiB, 32 * MiB, 32 * MiB]);
    expect(f.created.every((b) => b.label.startsWith('Ledger.probe.'))).toBe(true);
    expectAllDestroyed(f);
    // The device is fine afterwards: the same amount again, through an ordinary ledger.
    const l = new Ledger(device);
    for (let i = 0; i < 3; i++) await l.create({ name: `again${i}`, category: 'workspace', size: 32 * MiB, usage: GPUBufferUsage.COPY_DST });
    expect(l.liveBytes).toBe(96 * MiB);
    l.dispose();
    expect(l.liveBytes).toBe(0);
  });

  it('ends on the cap exactly with a smaller last chunk, in multiples of 4 bytes', async () => {
    const f = fakeDevice(device);
    const r = await probeDeviceMemory(f.device, { capBytes: 10 * MiB + 7, chunkBytes: 4 * MiB + 2 });
    expect(r).toEqual({ bytes: 10 * MiB + 4, stoppedBy: 'cap', chunks: 3 });
    expect(f.created.map((b) => b.size)).toEqual([4 * MiB, 4 * MiB, 2 * MiB + 4]);
    expectAllDestroyed(f);
  });

  it('lowers the chunk to maxBufferSize', async () => {
    const max = 8 * MiB;
    const f = fakeDevice(device);
    const small = new Proxy(f.device, {
      get: (t, k) => (k === 'limits' ? { ...limitsOf(device), maxBufferSize: max } : (Reflect.get(t, k) as unknown)),
    });
    const r = await probeDeviceMemory(small, { capBytes: 20 * MiB, chunkBytes: 1 << 30 });
    expect(r).toEqual({ bytes: 20 * MiB, stoppedBy: 'cap', chunks: 3 });
    expect(Math.max(...f.created.map((b) => b.size))).toBe(max);
    expectAllDestroyed(f);
  });

  it('stops at the first out-of-memory and destroys everything', async () => {
    const f = fakeDevice(device, { oomAfter: 5 });
    const r = await probeDeviceMemory(f.device, { capBytes: 1 << 30, chunkBytes: MiB });
    expect(r).toEqual({ bytes: 5 * MiB, stoppedBy: 'out-of-memory', chunks: 5 });
    // One more was attempted (the one that failed), and none after it.
    expect(f.created).toHaveLength(6);
    expectAllDestroyed(f);
  });

  it('reports out-of-memory on the very first chunk as 0 bytes', async () => {
    const f = fakeDevice(device, { oomAfter: 0 });
    expect(await probeDeviceMemory(f.device, { capBytes: 64 * MiB, chunkBytes: MiB })).toEqual({ bytes: 0, stoppedBy: 'out-of-memory', chunks: 0 });
    expectAllDestroyed(f);
  });

  it(`stops after ${MAX_PROBE_CHUNKS} chunks`, async () => {
    const f = fakeDevice(device);
    const r = await probeDeviceMemory(f.device, { capBytes: 1 << 30, chunkBytes: 4 });
    expect(r).toEqual({ bytes: 4 * MAX_PROBE_CHUNKS, stoppedBy: 'limit', chunks: MAX_PROBE_CHUNKS });
    expect(f.created).toHaveLength(MAX_PROBE_CHUNKS);
    expectAllDestroyed(f);
  });

  it(`clamps the cap to ${MAX_PROBE_BYTES / 2 ** 30} GiB`, async () => {
    // 4-byte buffers stand in for the 32 MiB chunks: the ledger counts what was asked for.
    const f = fakeDevice(device, { shrink: true });
    const r = await probeDeviceMemory(f.device, { capBytes: 2 ** 60, chunkBytes: 32 * MiB });
    expect(r).toEqual({ bytes: MAX_PROBE_BYTES, stoppedBy: 'cap', chunks: MAX_PROBE_BYTES / (32 * MiB) });
    expectAllDestroyed(f);
  });

  it('destroys every chunk when an allocation throws, and rethrows', async () => {
    const f = fakeDevice(device, { throwAt: 3 });
    await expect(probeDeviceMemory(f.device, { capBytes: 64 * MiB, chunkBytes: MiB })).rejects.toThrow('GPU process went away');
    expect(f.created).toHaveLength(3);
    expectAllDestroyed(f);
  });

  it('fails with DeviceLost instead of counting buffers of a lost device', async () => {
    const f = fakeDevice(device, { lost: true });
    await expect(probeDeviceMemory(f.device, { capBytes: 64 * MiB, chunkBytes: MiB })).rejects.toMatchObject({ name: 'DeviceLost' });
    expect(f.created.length).toBeLessThanOrEqual(1);
    expectAllDestroyed(f);
  });

  it('returns at once for a cap of 0', async () => {
    const f = fakeDevice(device);
    expect(await probeDeviceMemory(f.device, { capBytes: 0, chunkBytes: MiB })).toEqual({ bytes: 0, stoppedBy: 'cap', chunks: 0 });
    expect(f.created).toEqual([]);
  });

  it.each([
    [{ capBytes: Number.NaN, chunkBytes: MiB }],
    [{ capBytes: -1, chunkBytes: MiB }],
    [{ capBytes: Infinity, chunkBytes: MiB }],
    [{ capBytes: MiB, chunkBytes: 0 }],
    [{ capBytes: MiB, chunkBytes: 1.5 }],
    [{ capBytes: MiB, chunkBytes: Number.NaN }],
  ])('refuses %o', async (opts) => {
    const f = fakeDevice(device);
    await expect(probeDeviceMemory(f.device, opts)).rejects.toBeInstanceOf(RangeError);
    expect(f.created).toEqual([]);
  });
});

describe('Ledger.create on a full device', () => {
  it('throws OutOfMemory naming the tensor and leaves the ledger empty', async () => {
    const f = fakeDevice(device, { oomAfter: 0 });
    const l = new Ledger(f.device);
    const err = await l.create({ name: 'h3.mlp.fc1.weight', category: 'weights', size: 4 * MiB, usage: GPUBufferUsage.STORAGE }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({ name: 'OutOfMemory' });
    const message = (err as Error).message;
    expect(message).toContain("'h3.mlp.fc1.weight'");
    expect(message).toContain('weights');
    expect(message).toContain('lower the batch');
    expect(message).toContain('out of memory');
    expect(l.liveBytes).toBe(0);
    expect(l.liveAllocatedBytes).toBe(0);
    expect(l.entries()).toEqual([]);
    expect(l.timeline()).toEqual([]);
    // The buffer the device handed back was destroyed, not leaked.
    expect(f.created).toHaveLength(1);
    expectAllDestroyed(f);
  });

  it('keeps what it had before the failing allocation, and dispose() frees it', async () => {
    const f = fakeDevice(device, { oomAfter: 2 });
    const l = new Ledger(f.device);
    await l.create({ name: 'a', category: 'weights', size: 1024, usage: GPUBufferUsage.STORAGE });
    await l.create({ name: 'b', category: 'gradients', size: 1024, usage: GPUBufferUsage.STORAGE });
    await expect(l.create({ name: 'c', category: 'optimizer', size: 1024, usage: GPUBufferUsage.STORAGE })).rejects.toMatchObject({ name: 'OutOfMemory' });
    expect(l.liveBytes).toBe(2048);
    expect(l.entries().map((e) => e.name)).toEqual(['a', 'b']);
    l.dispose();
    expect(l.liveBytes).toBe(0);
    expectAllDestroyed(f);
  });
});

describe('worker message schemas accept what the engine sends', () => {
  it('a real run report, its progress and the adapter summary', async () => {
    const progress: RunProgress[] = [];
    const cfg = { ...DEFAULT_RUN, d: 8, hidden: 16, layers: 2, batch: 4, steps: 3 };
    const report = await runTraining(opened, cfg, { onProgress: (p) => progress.push(p) });
    // What the page receives is a structured clone.
    const received = structuredClone(report);
    expect(parseWorkerMessage(RunReportSchema, received, 'the run report')).toEqual(report);
    for (const p of progress) expect(parseWorkerMessage(RunProgressSchema, structuredClone(p), 'run progress')).toEqual(p);
    // Allocation, then the pipelines compiled before the first step, then each step, then done.
    expect(progress.map((p) => (p.stage === 'step' ? `step ${p.step}` : p.stage))).toEqual(['allocating', 'compiling', 'step 1', 'step 2', 'step 3', 'done']);
    expect(parseWorkerMessage(AdapterSummarySchema, structuredClone(opened.summary), 'the adapter')).toEqual(opened.summary);
  });
});

function limitsOf(d: GPUDevice): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k in d.limits) out[k] = d.limits[k as keyof GPUSupportedLimits] as number;
  return out;
}
