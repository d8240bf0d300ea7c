/**
 * The step recorder's submissions and timestamp ring on a fake device: a queue that runs the
 * recorded commands when they are submitted (timestamps from a clock the test sets per step)
 * and readback buffers whose mapAsync settles only when the test says. So it can be seen that
 * a phase is submitted as the step turns to the next, that finish() does not wait for its own
 * timestamps, and that each step's times come back, in order, through two slots.
 */
import { describe, expect, it } from 'vitest';
import type { Ledger } from '../../src/engine/ledger.ts';
import { StepRecorder, TIMES_RING } from '../../src/engine/profiler.ts';

// The WebGPU flag objects the recorder reads (absent in a unit test's Node).
Object.assign(globalThis, {
  GPUBufferUsage: { MAP_READ: 1, MAP_WRITE: 2, COPY_SRC: 4, COPY_DST: 8, INDEX: 16, VERTEX: 32, UNIFORM: 64, STORAGE: 128, INDIRECT: 256, QUERY_RESOLVE: 512 },
  GPUMapMode: { READ: 1, WRITE: 2 },
});

type Command = () => void;

class FakeBuffer {
  readonly data: Uint8Array;
  mapState: GPUBufferMapState = 'unmapped';
  /** Pending maps, settled by the test. */
  readonly maps: (() => void)[] = [];
  constructor(
    readonly label: string,
    readonly size: number,
  ) {
    this.data = new Uint8Array(size);
  }
  mapAsync(): Promise<void> {
    if (this.mapState !== 'unmapped') return Promise.reject(new Error(`${this.label}: mapAsync while ${this.mapState}`));
    this.mapState = 'pending';
    return new Promise((resolve) => this.maps.push(() => ((this.mapState = 'mapped'), resolve())));
  }
  getMappedRange(offset = 0, size = this.size): ArrayBuffer {
    if (this.mapState !== 'mapped') throw new Error(`${this.label}: not mapped`);
    return this.data.slice(offset, offset + size).buffer;
  }
  unmap(): void {
    this.mapState = 'unmapped';
  }
}

function fakeDevice() {
  const state = { clockNs: 0n, tickNs: 1_000_000n, submits: 0 };
  const device = {
    features: new Set(['timestamp-query']),
    createCommandEncoder: () => {
      const commands: Command[] = [];
      return {
        beginComputePass: (d: { timestampWrites?: { querySet: { values: bigint[] }; beginningOfPassWriteIndex: number } }) => {
          const w = d.timestampWrites;
          if (w) {
            commands.push(() => {
              state.clockNs += state.tickNs;
              w.querySet.values[w.beginningOfPassWriteIndex] = state.clockNs;
            });
          }
          return { end: () => undefined };
        },
        resolveQuerySet: (q: { values: bigint[] }, first: number, count: number, dst: FakeBuffer) =>
          commands.push(() => new BigUint64Array(dst.data.buffer).set(q.values.slice(first, first + count))),
        copyBufferToBuffer: (src: FakeBuffer, so: number, dst: FakeBuffer, d: number, size: number) =>
          commands.push(() => {
            if (dst.mapState !== 'unmapped') throw new Error(`submit: ${dst.label} is ${dst.mapState}`);
            dst.data.set(src.data.slice(so, so + size), d);
          }),
        finish: () => commands,
      };
    },
    queue: {
      submit: (buffers: Command[][]) => {
        state.submits += 1;
        for (const b of buffers) for (const c of b) c();
      },
      onSubmittedWorkDone: () => Promise.resolve(),
    },
  };
  const buffers: FakeBuffer[] = [];
  const ledger = {
    createQuerySet: (_: string, d: { count: number }) => Promise.resolve({ values: new Array<bigint>(d.count).fill(0n) }),
    create: (o: { name: string; size: number }) => {
      const b = new FakeBuffer(o.name, o.size);
      buffers.push(b);
      return Promise.resolve(b);
    },
    flush: () => undefined,
    destroyQuerySet: () => undefined,
  };
  return { device: device as unknown as GPUDevice, ledger: ledger as unknown as Ledger, state, readbacks: () => buffers.filter((b) => b.label.startsWith('profiler.readback')) };
}

/** A step of forward, backward and optimizer segments, each recording nothing but its markers. */
async function step(rec: StepRecorder): Promise<void> {
  await rec.phase('forward', () => undefined);
  await rec.phase('backward', () => undefined);
  await rec.phase('backward', () => undefined);
  await rec.phase('optimizer', () => undefined);
}

describe('StepRecorder with timestamp queries', () => {
  it('submits each phase as the step turns to the next, the last one at finish', async () => {
    const f = fakeDevice();
    const rec = await StepRecorder.create(f.device, f.ledger, 8);
    expect(rec.source).toBe('timestamp-query');
    await rec.phase('forward', () => undefined);
    expect(f.state.submits).toBe(0);
    await rec.phase('backward', () => undefined);
    expect(f.state.submits).toBe(1);
    await rec.phase('backward', () => undefined);
    expect(f.state.submits).toBe(1);
    await rec.phase('optimizer', () => undefined);
    expect(f.state.submits).toBe(2);
    await rec.finish();
    expect(f.state.submits).toBe(3);
    expect(rec.takeWork().submits).toBe(3);
  });

  it('does not wait for a step’s own timestamps: each step’s times come a step later, in order, through two slots', async () => {
    const f = fakeDevice();
    const rec = await StepRecorder.create(f.device, f.ledger, 8);
    const slots = f.readbacks();
    expect(slots).toHaveLength(TIMES_RING);
    // Step 1: 1 ms per marker, so each segment lasts 1 ms.
    await step(rec);
    await rec.finish();
    // finish() returned while step 1's readback is still mapping.
    expect(slots[0]!.mapState).toBe('pending');
    const first = rec.takeTimes();
    // Step 2, 2 ms per marker, into the other slot while the first is still pending.
    f.state.tickNs = 2_000_000n;
    await step(rec);
    await rec.finish();
    expect(slots[1]!.mapState).toBe('pending');
    slots[0]!.maps.shift()!();
    expect(await first).toEqual({ forward: 1, backward: 2, recompute: 0, optimizer: 1 });
    expect(slots[0]!.mapState).toBe('unmapped');
    // Step 3 takes slot 0 again, now free; step 2's times are still to be read from slot 1.
    f.state.tickNs = 3_000_000n;
    await step(rec);
    await rec.finish();
    slots[1]!.maps.shift()!();
    slots[0]!.maps.shift()!();
    expect(await rec.takeTimes()).toEqual({ forward: 2, backward: 4, recompute: 0, optimizer: 2 });
    expect(await rec.takeTimes()).toEqual({ forward: 3, backward: 6, recompute: 0, optimizer: 3 });
    expect(() => rec.takeTimes()).toThrow(/no finished step left to take/);
  });

  it('keeps the times of the last two steps when no one takes them', async () => {
    const f = fakeDevice();
    const rec = await StepRecorder.create(f.device, f.ledger, 8);
    const slots = f.readbacks();
    for (let s = 1; s <= 3; s++) {
      f.state.tickNs = BigInt(s) * 1_000_000n;
      await step(rec);
      // Step 3 reuses step 1's slot: finish waits for that read (settled here at once).
      if (s === 3) slots[0]!.maps.shift()!();
      await rec.finish();
    }
    slots[1]!.maps.shift()!();
    slots[0]!.maps.shift()!();
    expect((await rec.takeTimes()).forward).toBe(2);
    expect((await rec.takeTimes()).forward).toBe(3);
  });
});
