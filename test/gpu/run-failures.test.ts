/**
 * Runs that fail on the way. A run whose device is lost midway says so. A run whose device
 * fails at any one of its allocations leaves nothing behind. A fake device
 * (a Proxy around the real one) counts every createBuffer and createQuerySet of a run and makes
 * the n-th fail, for every n: either the call throws (the GPU process went away) or its
 * 'out-of-memory' error scope reports an error (the device is full). Every buffer and query set
 * made through the fake is tracked; after each failed run all must be destroyed, the error
 * scopes balanced, and nothing reported as an uncaptured error.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { create, globals } from 'webgpu';
import { openDevice, type OpenedDevice } from '../../src/engine/device.ts';
import { ENGINE_ERRORS } from '../../src/protocol/engine-api.ts';
import { runGptTraining, runTraining } from '../../src/engine/run.ts';
import type { DeviceErrorReport } from '../../src/protocol/engine-api.ts';
import { DEFAULT_RUN, GPT_NANO_RUN } from '../../src/protocol/run.ts';

Object.assign(globalThis, globals);
// Module level on purpose: if this GPU object is garbage-collected while devices live, Dawn crashes.
const gpu = create([]);

let opened: OpenedDevice;
const reports: DeviceErrorReport[] = [];

beforeAll(async () => {
  opened = await openDevice(gpu, { label: 'test.alloc-failures', onError: (r) => reports.push(r) });
});

afterEach(async () => {
  await opened.device.queue.onSubmittedWorkDone();
  expect(reports, 'uncaptured device errors').toEqual([]);
});

afterAll(() => {
  opened?.device.destroy();
});

type FailMode = 'throw' | 'oom';

/** A device that fails its `failAt`-th allocation (0-based) in `mode`. */
class FailingDevice {
  failAt = Infinity;
  mode: FailMode = 'throw';
  /** Allocations attempted since reset(), and what each made. */
  count = 0;
  readonly made: { label: string; destroyed: boolean }[] = [];
  /** Error scopes pushed and not yet popped, with the allocation count when each was pushed. */
  private readonly scopes: { filter: GPUErrorFilter; at: number }[] = [];
  readonly device: GPUDevice;

  constructor(real: GPUDevice) {
    const bind = (target: object, key: PropertyKey) => {
      const v = Reflect.get(target, key, target) as unknown;
      return typeof v === 'function' ? v.bind(target) : v;
    };
    /**
     * Records a made object and sees its destroy(). Patched on the object itself, not wrapped:
     * Dawn's bindings refuse (or crash on) a Proxy handed back to them in a bind group.
     */
    const track = <T extends GPUBuffer | GPUQuerySet>(obj: T): T => {
      const record = { label: obj.label, destroyed: false };
      this.made.push(record);
      const destroy = obj.destroy.bind(obj);
      Object.defineProperty(obj, 'destroy', {
        value: () => {
          record.destroyed = true;
          destroy();
        },
      });
      return obj;
    };
    const allocation = <D, T extends GPUBuffer | GPUQuerySet>(make: (d: D) => T) => (desc: D) => {
      const n = this.count++;
      if (this.mode === 'throw' && n === this.failAt) throw new Error(`fake: the GPU process went away at allocation ${n}`);
      return track(make(desc));
    };
    this.device = new Proxy(real, {
      get: (target, key) => {
        switch (key) {
          case 'createBuffer':
            return allocation((d: GPUBufferDescriptor) => target.createBuffer(d));
          case 'createQuerySet':
            return allocation((d: GPUQuerySetDescriptor) => target.createQuerySet(d));
          case 'pushErrorScope':
            return (filter: GPUErrorFilter) => {
              this.scopes.push({ filter, at: this.count });
              target.pushErrorScope(filter);
            };
          case 'popErrorScope':
            return async () => {
              const scope = this.scopes.pop();
              const error = await target.popErrorScope();
              // The failing allocation happened inside this out-of-memory scope: the device is "full".
              const inside = scope !== undefined && scope.at <= this.failAt && this.failAt < this.count;
              if (this.mode === 'oom' && scope?.filter === 'out-of-memory' && inside) return { message: 'fake: out of memory' } as GPUError;
              return error;
            };
          default:
            return bind(target, key);
        }
      },
    });
  }

  reset(mode: FailMode, failAt: number): void {
    this.mode = mode;
    this.failAt = failAt;
    this.count = 0;
    this.made.length = 0;
  }

  get openScopes(): number {
    return this.scopes.length;
  }

  leaked(): string[] {
    return this.made.filter((m) => !m.destroyed).map((m) => m.label);
  }
}

// One for the file: the kernels' pipelines are cached per device, and both models share most.
let failing: FailingDevice | undefined;
beforeAll(() => {
  failing = new FailingDevice(opened.device);
});

const MLP = { ...DEFAULT_RUN, d: 8, hidden: 16, layers: 1, batch: 4, steps: 2 };
const GPT = { ...GPT_NANO_RUN, vocab: 16, dModel: 8, heads: 2, layers: 1, seq: 4, batch: 1, steps: 2 };

/**
 * The mlp fails each allocation both ways; the gpt (three times as many allocations) one way
 * per allocation, alternating, to keep the file within seconds.
 */
const modesAt = {
  both: (): FailMode[] => ['throw', 'oom'],
  alternate: (n: number): FailMode[] => [n % 2 === 0 ? 'oom' : 'throw'],
};

describe.each([
  ['mlp', (o: OpenedDevice) => runTraining(o, MLP), modesAt.both],
  ['gpt', (o: OpenedDevice) => runGptTraining(o, GPT), modesAt.alternate],
] as const)('a %s run failing at any one allocation', (_, run, modes) => {
  it('frees every buffer and query set it made, and says why', { timeout: 240_000 }, async () => {
    expect(opened.device.features.has('timestamp-query'), 'the profiler needs timestamp queries here to make its query set').toBe(true);
    const fake = failing!;
    const on = { ...opened, device: fake.device };

    // A clean run first: how many allocations there are, a query set among them.
    fake.reset('throw', Infinity);
    const report = await run(on);
    expect(report.timing.source).toBe('timestamp-query');
    const total = fake.count;
    expect(fake.made.some((m) => m.label.includes('querySet'))).toBe(true);
    expect(fake.leaked()).toEqual([]);

    for (let n = 0; n < total; n++) {
      for (const mode of modes(n)) {
        fake.reset(mode, n);
        const err = await run(on).then(
          () => null,
          (e: unknown) => e as Error,
        );
        const where = `${mode} at allocation ${n} of ${total}`;
        expect(err, where).not.toBeNull();
        if (mode === 'oom') expect(err!.name, `${where}: ${err!.message}`).toBe('OutOfMemory');
        else expect(err!.message, where).toContain(`allocation ${n}`);
        expect(fake.leaked(), where).toEqual([]);
        expect(fake.openScopes, `${where}: error scopes left open`).toBe(0);
      }
    }
  });
});

describe('a device lost in the middle of a run', () => {
  it('fails the run with DeviceLost, saying so with the reason, not with an empty AbortError', { timeout: 60_000 }, async () => {
    // A device of its own: this one is destroyed, as a driver reset would take it.
    const own = await openDevice(gpu, { label: 'test.lost-mid-run' });
    let steps = 0;
    const err = await runTraining(own, { ...MLP, steps: 100 }, {
      onProgress: (p) => {
        if (p.stage === 'step' && ++steps === 2) own.device.destroy();
      },
    }).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err?.name).toBe(ENGINE_ERRORS.DeviceLost);
    expect(err?.message).toMatch(/^The GPU device was lost \(.*destroyed.*\); nothing was kept$/);
    expect(steps).toBeLessThan(10);
  });
});
