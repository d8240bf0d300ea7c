/**
 * The GPU test fixture (house style 11, after the gpuweb CTS): one device per test file,
 * and per test a fresh ledger and an error scope. After each test every buffer is destroyed
 * through the ledger, which must then be empty, and the test fails on any error the scope
 * caught or the device reported as uncaptured. Call useGpuFixture() at the top of a describe
 * or at module level; it installs the hooks. The whole-trainer tests, whose trainers make their
 * own ledgers, share useTrainerDevice() and the step helpers below it.
 */
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import { create, globals } from 'webgpu';
import { openDevice, type OpenedDevice } from '../../src/engine/device.ts';
import type { GradInspector, Trainer } from '../../src/engine/graph/trainer.ts';
import { Ledger } from '../../src/engine/ledger.ts';
import { StepRecorder } from '../../src/engine/profiler.ts';
import type { DeviceErrorReport } from '../../src/protocol/engine-api.ts';
import type { LedgerCategory } from '../../src/protocol/ledger.ts';
import { randoms } from '../helpers/random.ts';

Object.assign(globalThis, globals);
// Module level on purpose: if this GPU object is garbage-collected while devices live, Dawn crashes.
const gpu = create([]);

export interface GpuFixture {
  readonly device: GPUDevice;
  readonly ledger: Ledger;
  /** A storage buffer (STORAGE | COPY_SRC | COPY_DST) holding data. */
  upload(name: string, data: Uint32Array | Float32Array, category?: LedgerCategory): Promise<GPUBuffer>;
  /** A zeroed storage buffer of `bytes`. */
  empty(name: string, bytes: number, category?: LedgerCategory): Promise<GPUBuffer>;
  /** Records work into one encoder and submits it. */
  submit(record: (encoder: GPUCommandEncoder) => void): void;
  /** The buffer's words, through a ledger staging buffer that is destroyed again. */
  read(buffer: GPUBuffer): Promise<Uint32Array>;
}

const STORAGE_USAGE = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

export function useGpuFixture(label: string): GpuFixture {
  let device: GPUDevice | undefined;
  let ledger: Ledger | undefined;
  const reports: DeviceErrorReport[] = [];

  beforeAll(async () => {
    ({ device } = await openDevice(gpu, { label, onError: (r) => reports.push(r) }));
  });

  beforeEach(() => {
    ledger = new Ledger(device!);
    device!.pushErrorScope('out-of-memory');
    device!.pushErrorScope('validation');
  });

  afterEach(async () => {
    const d = device!;
    await d.queue.onSubmittedWorkDone();
    const validation = await d.popErrorScope();
    const oom = await d.popErrorScope();
    ledger!.dispose();
    expect(ledger!.liveBytes).toBe(0);
    expect(ledger!.liveAllocatedBytes).toBe(0);
    expect(validation?.message ?? null, 'validation error').toBeNull();
    expect(oom?.message ?? null, 'out-of-memory error').toBeNull();
    expect(reports, 'uncaptured device errors').toEqual([]);
  });

  afterAll(() => {
    device?.destroy();
  });

  let seq = 0;
  const fx: GpuFixture = {
    get device() {
      return device!;
    },
    get ledger() {
      return ledger!;
    },
    async upload(name, data, category = 'inputs') {
      const buffer = await ledger!.create({ name, category, size: Math.max(data.byteLength, 4), usage: STORAGE_USAGE() });
      device!.queue.writeBuffer(buffer, 0, data);
      return buffer;
    },
    async empty(name, bytes, category = 'workspace') {
      return ledger!.create({ name, category, size: Math.max(bytes, 4), usage: STORAGE_USAGE() });
    },
    submit(record) {
      const encoder = device!.createCommandEncoder({ label: `${label}.encoder` });
      record(encoder);
      device!.queue.submit([encoder.finish()]);
    },
    async read(buffer) {
      const staging = await ledger!.create({
        name: `${buffer.label}.readback${seq++}`,
        category: 'staging',
        size: buffer.size,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      });
      const encoder = device!.createCommandEncoder({ label: `${label}.readback` });
      encoder.copyBufferToBuffer(buffer, 0, staging, 0, buffer.size);
      device!.queue.submit([encoder.finish()]);
      await staging.mapAsync(GPUMapMode.READ);
      const words = new Uint32Array(staging.getMappedRange().slice(0));
      staging.unmap();
      ledger!.destroy(staging);
      return words;
    },
  };
  return fx;
}

/** A file's device for whole-trainer tests, with the errors it reported uncaptured. */
export interface TrainerDevice {
  readonly opened: OpenedDevice;
  readonly device: GPUDevice;
}

/**
 * One device for a file of trainer tests (trainers make their own ledgers): opened before the
 * file's tests, destroyed after them, and the file fails on any error the device reported
 * uncaptured. Call at module level.
 */
export function useTrainerDevice(label: string): TrainerDevice {
  let opened: OpenedDevice | undefined;
  const reports: DeviceErrorReport[] = [];
  beforeAll(async () => {
    opened = await openDevice(gpu, { label, onError: (r) => reports.push(r) });
  });
  afterAll(() => {
    opened?.device.destroy();
    expect(reports, 'uncaptured device errors').toEqual([]);
  });
  return {
    get opened() {
      return opened!;
    },
    get device() {
      return opened!.device;
    },
  };
}

/** body with a fresh ledger, disposed after it; nothing may be left live in it. */
export async function withLedger<T>(device: GPUDevice, body: (ledger: Ledger) => Promise<T>): Promise<T> {
  const ledger = new Ledger(device);
  try {
    return await body(ledger);
  } finally {
    ledger.dispose();
    expect(ledger.liveBytes).toBe(0);
  }
}

/** One step of t on a recorder of `segments` phase segments (wall-clock, no timestamps); its loss. */
export async function stepLoss(t: Trainer, ledger: Ledger, segments: number, inspect?: GradInspector): Promise<number> {
  const rec = await StepRecorder.create(ledger.device, ledger, segments, false);
  try {
    await t.step(rec, inspect);
    await rec.finish();
    return await t.readLoss();
  } finally {
    rec.destroy();
  }
}

/** One step's loss and gradients by name, in f32 with the loss scale (`scale`) divided out. */
export async function stepGrads(t: Trainer, ledger: Ledger, segments: number, scale = 1): Promise<{ loss: number; grads: Map<string, Float32Array> }> {
  const grads = new Map<string, Float32Array>();
  const loss = await stepLoss(t, ledger, segments, async (gs) => {
    for (const g of gs) grads.set(g.name, (await t.readFloats(g.buffer, g.n)).map((v) => v / scale));
  });
  return { loss, grads };
}

/**
 * The gradient of each trainable parameter of t (LoRA adapters: B set non-zero, else dA would be
 * 0) against a central difference of the loss along a seeded random direction: every parameter
 * first set to seeded values in [-0.5, 0.5), then the analytic directional derivative g·v
 * compared with (L(θ + εv) − L(θ − εv)) / 2ε. `minGrad` keeps the check from passing on a
 * vanishing gradient; `relTol` and `absTol` bound the difference.
 */
export async function expectGradsMatchDifferences(
  t: Trainer,
  step: (inspect?: GradInspector) => Promise<number>,
  opts: { eps: number; minGrad: number; relTol: number; absTol: number },
): Promise<void> {
  const params = t.params();
  const theta = new Map(params.map((p, i) => [p.name, randoms(p.n, 100 + i, -0.5, 0.5)]));
  const write = (eps: number, along: string | null, v: Float32Array | null) => {
    for (const p of params) {
      const x = Float32Array.from(theta.get(p.name)!);
      if (p.name === along) for (let i = 0; i < p.n; i++) x[i]! += eps * v![i]!;
      t.writeFloats(p.buffer, x);
    }
  };
  write(0, null, null);
  const grads = new Map<string, Float32Array>();
  await step(async (gs) => {
    for (const g of gs) grads.set(g.name, await t.readFloats(g.buffer, g.n));
  });
  expect([...grads.keys()].sort()).toEqual(params.map((p) => `${p.name}.grad`).sort());
  for (const [i, p] of params.entries()) {
    const v = randoms(p.n, 900 + i);
    const analytic = grads.get(`${p.name}.grad`)!.reduce((a, gi, j) => a + gi * v[j]!, 0);
    write(opts.eps, p.name, v);
    const up = await step();
    write(-opts.eps, p.name, v);
    const down = await step();
    const numeric = (up - down) / (2 * opts.eps);
    expect(Math.abs(analytic), `${p.name}: a gradient to test`).toBeGreaterThan(opts.minGrad);
    expect(Math.abs(numeric - analytic), `${p.name}: numeric ${numeric} vs analytic ${analytic}`).toBeLessThan(opts.relTol * Math.abs(analytic) + opts.absTol);
  }
}
