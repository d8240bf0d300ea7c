import { afterAll, describe, expect, it } from 'vitest';
import { create, globals } from 'webgpu';
import { describeAdapter, openDevice, COMPUTE_LIMITS, type OpenedDevice } from '../../src/engine/device.ts';
import type { DeviceErrorReport } from '../../src/protocol/engine-api.ts';

Object.assign(globalThis, globals);
// Module level on purpose: if this GPU object is garbage-collected while devices live, Dawn crashes.
const gpu = create([]);

describe('openDevice', () => {
  const opened: OpenedDevice[] = [];
  afterAll(() => {
    for (const o of opened) o.device.destroy();
  });

  it('opens a device and summarises the adapter as plain data', async () => {
    const reports: DeviceErrorReport[] = [];
    const o = await openDevice(gpu, { label: 'test.device', onError: (r) => reports.push(r) });
    opened.push(o);
    const s = o.summary;
    expect(s.features.length).toBeGreaterThan(0);
    expect([...s.features]).toEqual([...s.features].sort());
    expect(s.limits.maxBufferSize).toBeGreaterThan(0);
    expect(s.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
    expect(s.limits.maxComputeInvocationsPerWorkgroup).toBeGreaterThan(0);
    expect(typeof s.isFallbackAdapter).toBe('boolean');
    expect(s.vendor + s.architecture + s.description).not.toBe('');
    // Crosses a worker boundary: must survive structured clone unchanged.
    expect(structuredClone(s)).toEqual(s);
    expect(describeAdapter(o.adapter)).toEqual(s);
    // The compute limits come at the adapter's maximum, not the WebGPU defaults.
    for (const name of COMPUTE_LIMITS) expect(o.device.limits[name], name).toBe(s.limits[name]);
    for (const f of ['shader-f16', 'timestamp-query'] as const) expect(o.device.features.has(f)).toBe(o.adapter.features.has(f));
    expect(reports).toEqual([]);
  });

  it('reports an uncaptured validation error through onError', async () => {
    const reports: DeviceErrorReport[] = [];
    const o = await openDevice(gpu, { onError: (r) => reports.push(r) });
    opened.push(o);
    // A mappable buffer may not also be STORAGE: a validation error nobody scoped.
    o.device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.STORAGE });
    await o.device.queue.onSubmittedWorkDone();
    await expect.poll(() => reports.length).toBe(1);
    expect(reports[0]!.kind).toBe('validation');
    expect(reports[0]!.detail).not.toBe('');
  });

  it('does not report its own destroy() as a loss', async () => {
    const reports: DeviceErrorReport[] = [];
    const o = await openDevice(gpu, { raiseLimits: [], optionalFeatures: [], onError: (r) => reports.push(r) });
    o.device.destroy();
    const info = await o.device.lost;
    expect(info.reason).toBe('destroyed');
    await new Promise((r) => setTimeout(r, 10));
    expect(reports).toEqual([]);
  });

  it.each([undefined, null])('throws NoWebGPU when the GPU object is %s', async (missing) => {
    await expect(openDevice(missing)).rejects.toMatchObject({ name: 'NoWebGPU', message: expect.stringContaining('webgpu') });
  });

  it('throws NoAdapter when the GPU offers no adapter', async () => {
    const empty = { requestAdapter: async () => null } as unknown as GPU;
    await expect(openDevice(empty)).rejects.toMatchObject({ name: 'NoAdapter', message: expect.stringContaining('VK_ICD_FILENAMES') });
  });
});
