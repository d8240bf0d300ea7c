import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { create, globals } from 'webgpu';
import { openDevice } from '../../src/engine/device.ts';
import { Ledger, SETUP_OP, alignedSize } from '../../src/engine/ledger.ts';
import { WorkCounter } from '../../src/engine/work.ts';
import type { DeviceErrorReport } from '../../src/protocol/engine-api.ts';
import { LEDGER_CATEGORIES, LEDGER_TO_PLAN_CATEGORY, zeroLedgerBytes, type LedgerBytes } from '../../src/protocol/ledger.ts';
import { PLAN_CATEGORIES } from '../../src/protocol/plan.ts';

Object.assign(globalThis, globals);
// Module level on purpose: if this GPU object is garbage-collected while devices live, Dawn crashes.
const gpu = create([]);

/**
 * One device for the file; every test gets a fresh ledger that must be empty after dispose(),
 * and the file fails if the device reported any error nobody captured.
 */
let device: GPUDevice;
const reports: DeviceErrorReport[] = [];
const ledgers: Ledger[] = [];

beforeAll(async () => {
  ({ device } = await openDevice(gpu, { label: 'test.ledger', onError: (r) => reports.push(r) }));
});

afterEach(async () => {
  for (const l of ledgers.splice(0)) {
    l.dispose();
    expect(l.liveBytes).toBe(0);
    expect(l.liveAllocatedBytes).toBe(0);
    expect(l.entries().filter((e) => e.destroyedAt === null)).toEqual([]);
  }
  await device.queue.onSubmittedWorkDone();
  expect(reports).toEqual([]);
});

afterAll(() => {
  device?.destroy();
});

function newLedger(on: GPUDevice = device): Ledger {
  const l = new Ledger(on);
  ledgers.push(l);
  return l;
}

function bytes(partial: Partial<LedgerBytes>): LedgerBytes {
  return { ...zeroLedgerBytes(), ...partial };
}

const STORAGE = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

describe('ledger categories', () => {
  it('maps every ledger category onto a planner category', () => {
    for (const c of LEDGER_CATEGORIES) expect(PLAN_CATEGORIES).toContain(LEDGER_TO_PLAN_CATEGORY[c]);
    expect(LEDGER_TO_PLAN_CATEGORY.staging).toBe('workspace');
    expect(LEDGER_TO_PLAN_CATEGORY['master-weights']).toBe('masterWeights');
  });
});

describe('Ledger', () => {
  it('tracks live and peak bytes and what was alive at the peak', async () => {
    const l = newLedger();
    const w = await l.create({ name: 'w', category: 'weights', size: 1024, usage: STORAGE() });
    const g = await l.create({ name: 'g', category: 'gradients', size: 1024, usage: STORAGE() });
    const a1 = await l.create({ name: 'a1', category: 'activations', size: 4096, usage: STORAGE() });
    const a2 = await l.create({ name: 'a2', category: 'activations', size: 2048, usage: STORAGE() });
    expect(w.label).toBe('Ledger.w');
    expect(l.liveBytes).toBe(1024 + 1024 + 4096 + 2048);
    expect(l.peakBytes).toBe(8192);
    l.destroy(a1);
    l.destroy(a2);
    expect(l.liveBytes).toBe(2048);
    // A later, smaller high-water mark does not move the peak.
    const o = await l.create({ name: 'm', category: 'optimizer', size: 2048, usage: STORAGE() });
    expect(l.liveBytes).toBe(4096);
    expect(l.peakBytes).toBe(8192);
    expect(l.peakAllocatedBytes).toBe(8192);
    expect(l.aliveAtPeak()).toEqual(bytes({ weights: 1024, gradients: 1024, activations: 6144 }));
    expect(l.bytesByCategory()).toEqual(bytes({ weights: 1024, gradients: 1024, optimizer: 2048 }));
    expect(l.maxByCategory()).toEqual(bytes({ weights: 1024, gradients: 1024, activations: 6144, optimizer: 2048 }));
    l.destroy(g);
    l.destroy(o);
    l.destroy(w);
    expect(l.liveBytes).toBe(0);
    expect(l.peakBytes).toBe(8192);
  });

  it.each([
    [0, 0],
    [1, 4],
    [4, 4],
    [6, 8],
    [1023, 1024],
  ])('allocates %i requested bytes as %i', async (size, allocated) => {
    expect(alignedSize(size)).toBe(allocated);
    const l = newLedger();
    const b = await l.create({ name: 'odd', category: 'workspace', size, usage: STORAGE() });
    expect(b.size).toBe(allocated);
    expect(l.liveBytes).toBe(size);
    expect(l.liveAllocatedBytes).toBe(allocated);
    expect(l.entries()).toMatchObject([{ name: 'odd', requested: size, allocated }]);
  });

  it('refuses a buffer over maxBufferSize before allocating, naming the tensor', async () => {
    const l = newLedger();
    const size = device.limits.maxBufferSize + 1;
    const err = await l.create({ name: 'huge.logits', category: 'activations', size, usage: GPUBufferUsage.COPY_DST }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({ name: 'BufferTooLarge' });
    const message = (err as Error).message;
    expect(message).toContain('huge.logits');
    expect(message).toContain(String(size));
    expect(message).toContain('maxBufferSize');
    expect(message).toContain('lower the batch');
    expect(l.liveBytes).toBe(0);
    expect(l.entries()).toEqual([]);
    expect(l.timeline()).toEqual([]);
  });

  it('refuses a storage buffer over maxStorageBufferBindingSize', async ({ skip }) => {
    const limit = device.limits.maxStorageBufferBindingSize;
    // Only meaningful where the binding limit is below the buffer limit (not SwiftShader: both 1 GiB).
    if (limit >= device.limits.maxBufferSize) skip();
    const l = newLedger();
    await expect(l.create({ name: 'big.act', category: 'activations', size: limit + 4, usage: STORAGE() })).rejects.toMatchObject({
      name: 'BufferTooLarge',
      message: expect.stringContaining('maxStorageBufferBindingSize'),
    });
    expect(l.liveBytes).toBe(0);
  });

  it('turns an error the device reports into BufferTooLarge, inside its error scope', async () => {
    // A view of the device that claims no size limit, so the size reaches Dawn's own validation.
    const loose = new Proxy(device, {
      get(target, key) {
        if (key === 'limits') return { maxBufferSize: Number.MAX_SAFE_INTEGER, maxStorageBufferBindingSize: Number.MAX_SAFE_INTEGER };
        const v = Reflect.get(target, key, target) as unknown;
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const l = newLedger(loose);
    const size = device.limits.maxBufferSize + 4;
    await expect(l.create({ name: 'past.limit', category: 'weights', size, usage: GPUBufferUsage.COPY_DST })).rejects.toMatchObject({
      name: 'BufferTooLarge',
      message: expect.stringContaining('past.limit'),
    });
    expect(l.liveBytes).toBe(0);
    expect(l.entries()).toEqual([]);
    // afterEach checks that the error was captured by the scope, not reported as uncaptured.
  });

  it('rejects usages createBuffer would reject, as a bug rather than a size', async () => {
    const l = newLedger();
    await expect(
      l.create({ name: 'bad', category: 'staging', size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.STORAGE }),
    ).rejects.toBeInstanceOf(TypeError);
    await expect(l.create({ name: 'neg', category: 'staging', size: -4, usage: STORAGE() })).rejects.toBeInstanceOf(RangeError);
    expect(l.entries()).toEqual([]);
  });

  it('dispose destroys every live buffer', async () => {
    const l = newLedger();
    const bs = await Promise.all(
      LEDGER_CATEGORIES.map((category, i) => l.create({ name: `t${i}`, category, size: 64 * (i + 1), usage: STORAGE() })),
    );
    l.destroy(bs[0]!);
    expect(l.liveBytes).toBe(64 * (45 - 1));
    l.dispose();
    expect(l.liveBytes).toBe(0);
    expect(l.liveAllocatedBytes).toBe(0);
    expect(l.bytesByCategory()).toEqual(zeroLedgerBytes());
    expect(l.entries()).toHaveLength(LEDGER_CATEGORIES.length);
    expect(l.entries().every((e) => e.destroyedAt !== null)).toBe(true);
    expect(bs.every((b) => !l.isLive(b))).toBe(true);
  });

  it('ignores a second destroy and throws on a buffer it did not create', async () => {
    const l = newLedger();
    const b = await l.create({ name: 'x', category: 'inputs', size: 16, usage: STORAGE() });
    l.destroy(b);
    const events = l.timeline().length;
    expect(() => l.destroy(b)).not.toThrow();
    expect(l.timeline()).toHaveLength(events);
    expect(l.liveBytes).toBe(0);

    const other = newLedger();
    const foreign = await other.create({ name: 'y', category: 'inputs', size: 16, usage: STORAGE() });
    expect(() => l.destroy(foreign)).toThrow(/not created by this ledger/);
    expect(other.isLive(foreign)).toBe(true);
  });

  it('holds real buffers: data written to one reads back through a staging buffer', async () => {
    const l = newLedger();
    const data = Float32Array.from({ length: 37 }, (_, i) => i * 0.5 - 3);
    const src = await l.create({ name: 'x', category: 'inputs', size: data.byteLength, usage: STORAGE() });
    const staging = await l.create({
      name: 'x.readback',
      category: 'staging',
      size: data.byteLength,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    device.queue.writeBuffer(src, 0, data);
    const encoder = device.createCommandEncoder({ label: 'test.ledger.readback' });
    encoder.copyBufferToBuffer(src, 0, staging, 0, data.byteLength);
    device.queue.submit([encoder.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const back = new Float32Array(staging.getMappedRange().slice(0));
    staging.unmap();
    expect([...back]).toEqual([...data]);
    expect(l.bytesByCategory()).toEqual(bytes({ inputs: data.byteLength, staging: data.byteLength }));
  });

  it('records the op of every create and destroy, and a timeline in order', async () => {
    const l = newLedger();
    expect(l.currentOp).toEqual({ op: SETUP_OP, label: '' });
    const w = await l.create({ name: 'w', category: 'weights', size: 256, usage: STORAGE() });
    expect(l.beginOp('forward fc1')).toBe(0);
    const h = await l.create({ name: 'h', category: 'activations', size: 512, usage: STORAGE() });
    expect(l.beginOp('backward fc1')).toBe(1);
    const dh = await l.create({ name: 'dh', category: 'activation-grads', size: 512, usage: STORAGE() });
    l.destroy(h);
    l.setOp(5, 'optimizer');
    l.destroy(dh);
    const ahead = await l.create({ name: 'm', category: 'optimizer', size: 256, usage: STORAGE(), op: 7 });

    expect(l.entries()).toEqual([
      { id: 0, name: 'w', category: 'weights', requested: 256, allocated: 256, createdAt: SETUP_OP, destroyedAt: null },
      { id: 1, name: 'h', category: 'activations', requested: 512, allocated: 512, createdAt: 0, destroyedAt: 1 },
      { id: 2, name: 'dh', category: 'activation-grads', requested: 512, allocated: 512, createdAt: 1, destroyedAt: 5 },
      { id: 3, name: 'm', category: 'optimizer', requested: 256, allocated: 256, createdAt: 7, destroyedAt: null },
    ]);
    const t = l.timeline();
    expect(t.map((p) => [p.op, p.label, p.event, p.name, p.liveBytes])).toEqual([
      [SETUP_OP, '', 'create', 'w', 256],
      [0, 'forward fc1', 'create', 'h', 768],
      [1, 'backward fc1', 'create', 'dh', 1280],
      [1, 'backward fc1', 'destroy', 'h', 768],
      [5, 'optimizer', 'destroy', 'dh', 256],
      [7, '', 'create', 'm', 512],
    ]);
    expect(t[2]!.byCategory).toEqual(bytes({ weights: 256, activations: 512, 'activation-grads': 512 }));
    for (let i = 1; i < t.length; i++) expect(t[i]!.op).toBeGreaterThanOrEqual(t[i - 1]!.op);
    // Crosses a worker boundary as plain data.
    expect(structuredClone(t)).toEqual(t);
    expect(structuredClone(l.entries())).toEqual(l.entries());
    // The timeline is a copy: callers cannot change the ledger's history.
    t[0]!.byCategory.weights = 1;
    expect(l.timeline()[0]!.byCategory.weights).toBe(256);
    l.destroy(w);
    l.destroy(ahead);
    expect(l.liveBytes).toBe(0);
  });
});

describe('reuse of released buffers within an encoder', () => {
  async function readFloats(l: Ledger, src: GPUBuffer, n: number): Promise<Float32Array> {
    const staging = await l.create({ name: 'readback', category: 'staging', size: 4 * n, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const enc = device.createCommandEncoder({ label: 'test.ledger.reuse.read' });
    enc.copyBufferToBuffer(src, 0, staging, 0, 4 * n);
    device.queue.submit([enc.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const out = new Float32Array(staging.getMappedRange().slice(0));
    staging.unmap();
    l.destroy(staging);
    return out;
  }

  it('takes a released buffer of the same size and usage, zeroed after its last use, and keeps both lives in the ledger', async () => {
    const l = newLedger();
    const n = 64;
    const a = await l.create({ name: 'a', category: 'activations', size: 4 * n, usage: STORAGE() });
    const keep = await l.create({ name: 'keep', category: 'activations', size: 4 * n, usage: STORAGE() });
    device.queue.writeBuffer(a, 0, new Float32Array(n).fill(7));
    const enc = device.createCommandEncoder({ label: 'test.ledger.reuse' });
    // a's last use, recorded before its release: copied into keep.
    enc.copyBufferToBuffer(a, 0, keep, 0, 4 * n);
    l.setOp(1, 'first');
    l.release(a);
    const physical = l.physicalBytes;
    l.setOp(2, 'second');
    const b = await l.create({ name: 'b', category: 'activation-grads', size: 4 * n, usage: STORAGE(), reuseIn: enc });
    expect(b).toBe(a);
    expect(b.label).toBe('Ledger.b');
    expect(l.physicalBytes).toBe(physical);
    device.queue.submit([enc.finish()]);
    l.flush();
    // keep got a's values (the copy ran before the clear); b starts at zero like a new buffer.
    expect([...(await readFloats(l, keep, n))]).toEqual(new Array(n).fill(7));
    expect([...(await readFloats(l, b, n))]).toEqual(new Array(n).fill(0));
    const lives = l.entries().filter((e) => e.name === 'a' || e.name === 'b');
    expect(lives.map((e) => [e.name, e.category, e.createdAt, e.destroyedAt])).toEqual([
      ['a', 'activations', SETUP_OP, 1],
      ['b', 'activation-grads', 2, null],
    ]);
    expect(l.bytesByCategory()).toEqual(bytes({ activations: 4 * n, 'activation-grads': 4 * n }));
    // Releasing and destroying the reused buffer works as for any other.
    l.release(b);
    l.flush();
    expect(l.liveBytes).toBe(4 * n);
  });

  it('zeroes a reused buffer with one counted clearBuffer, and none when the tensor is overwritten by its first writer', async () => {
    const l = newLedger();
    const n = 16;
    const counter = new WorkCounter();
    const enc = device.createCommandEncoder({ label: 'test.ledger.reuse.clears' });
    counter.attach(enc);
    const a = await l.create({ name: 'a', category: 'activations', size: 4 * n, usage: STORAGE() });
    const c = await l.create({ name: 'c', category: 'activations', size: 4 * n, usage: STORAGE() });
    device.queue.writeBuffer(a, 0, new Float32Array(n).fill(5));
    device.queue.writeBuffer(c, 0, new Float32Array(n).fill(6));
    l.release(a);
    l.release(c);
    const zeroed = await l.create({ name: 'zeroed', category: 'activations', size: 4 * n, usage: STORAGE(), reuseIn: enc });
    expect(counter.take().clears).toBe(1);
    const kept = await l.create({ name: 'kept', category: 'activations', size: 4 * n, usage: STORAGE(), reuseIn: enc, overwritten: true });
    expect(zeroed).toBe(a);
    expect(kept).toBe(c);
    expect(counter.take().clears).toBe(0);
    device.queue.submit([enc.finish()]);
    l.flush();
    expect([...(await readFloats(l, zeroed, n))]).toEqual(new Array(n).fill(0));
    // Not cleared: it holds what its last tensor left, for the first writer to overwrite.
    expect([...(await readFloats(l, kept, n))]).toEqual(new Array(n).fill(6));
  });

  it('creates a new buffer when no released one matches, or when not asked to reuse', async () => {
    const l = newLedger();
    const enc = device.createCommandEncoder({ label: 'test.ledger.reuse.none' });
    const a = await l.create({ name: 'a', category: 'activations', size: 256, usage: STORAGE() });
    l.release(a);
    const other = await l.create({ name: 'other', category: 'activations', size: 512, usage: STORAGE(), reuseIn: enc });
    expect(other).not.toBe(a);
    const plain = await l.create({ name: 'plain', category: 'activations', size: 256, usage: STORAGE() });
    expect(plain).not.toBe(a);
    const noCopyDst = await l.create({ name: 'noCopyDst', category: 'activations', size: 256, usage: GPUBufferUsage.STORAGE, reuseIn: enc });
    expect(noCopyDst).not.toBe(a);
    expect(l.physicalBytes).toBe(256 + 512 + 256 + 256);
    device.queue.submit([enc.finish()]);
    l.flush();
    expect(l.physicalBytes).toBe(512 + 256 + 256);
  });
});

describe('pool', () => {
  it('keeps flushed buffers, gives them (zeroed) to later creates of the same size, counts them as physical, and destroys them on dispose', async () => {
    const l = new Ledger(device, { pool: true });
    ledgers.push(l);
    const n = 32;
    const a = await l.create({ name: 'a', category: 'activations', size: 4 * n, usage: STORAGE() });
    device.queue.writeBuffer(a, 0, new Float32Array(n).fill(3));
    l.release(a);
    l.flush();
    expect(l.liveBytes).toBe(0);
    expect(l.physicalBytes).toBe(4 * n);
    expect(l.bufferCounts).toEqual({ created: 1, reused: 0 });

    const enc = device.createCommandEncoder({ label: 'test.ledger.pool' });
    const b = await l.create({ name: 'b', category: 'activations', size: 4 * n, usage: STORAGE(), reuseIn: enc });
    expect(b).toBe(a);
    // Without reuseIn the pool is not used: nothing would zero the buffer in order.
    const c = await l.create({ name: 'c', category: 'activations', size: 4 * n, usage: STORAGE() });
    expect(c).not.toBe(a);
    expect(l.bufferCounts).toEqual({ created: 2, reused: 1 });
    device.queue.submit([enc.finish()]);
    const staging = await l.create({ name: 'b.readback', category: 'staging', size: 4 * n, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const read = device.createCommandEncoder({ label: 'test.ledger.pool.read' });
    read.copyBufferToBuffer(b, 0, staging, 0, 4 * n);
    device.queue.submit([read.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    expect([...new Float32Array(staging.getMappedRange().slice(0))]).toEqual(new Array(n).fill(0));
    staging.unmap();

    l.release(b);
    l.release(c);
    l.flush();
    expect(l.physicalBytes).toBe(4 * (2 * n) + 4 * n);
    l.dispose();
    expect(l.physicalBytes).toBe(0);
  });
});
