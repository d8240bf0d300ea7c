/**
 * The GPU test fixture (house style 11, after the gpuweb CTS): one device per test file,
 * and per test a fresh ledger and an error scope. After each test every buffer is destroyed
 * through the ledger, which must then be empty, and the test fails on any error the scope
 * caught or the device reported as uncaptured. Call useGpuFixture() at the top of a describe
 * or at module level; it installs the hooks.
 */
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import { create, globals } from 'webgpu';
import { openDevice } from '../../src/engine/device.ts';
import { Ledger } from '../../src/engine/ledger.ts';
import type { DeviceErrorReport } from '../../src/protocol/engine-api.ts';
import type { LedgerCategory } from '../../src/protocol/ledger.ts';

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
