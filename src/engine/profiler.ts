/**
 * GPU time per phase of a step. With `timestamp-query`, each phase segment is bracketed by
 * two empty compute passes that write timestamps, all in the step's one encoder, resolved
 * after the step (Chrome quantizes them to ≈ 65.5 µs, hence per-phase sums, not per op).
 * Without it, each segment is submitted on its own and timed on the wall clock between
 * `onSubmittedWorkDone` promises, which includes submission overhead; the report says which.
 * https://www.w3.org/TR/webgpu/#timestamp
 */
import { gpuWait } from './gpu-wait.ts';
import type { Ledger } from './ledger.ts';
import { endOpenPass, WorkCounter } from './work.ts';
import { PHASE_NAMES, type PhaseName, type StepWork } from '../protocol/run.ts';

export type TimingSource = 'timestamp-query' | 'wall-clock';

/** Query sets hold at most 4096 queries (WebGPU limit). */
const MAX_QUERIES = 4096;

const zeroPhases = (): Record<PhaseName, number> => ({ forward: 0, backward: 0, recompute: 0, optimizer: 0 });

export class StepRecorder {
  readonly source: TimingSource;
  /** The encoder commands are recorded into now; replaced when a segment is submitted. */
  encoder: GPUCommandEncoder;
  private readonly device: GPUDevice;
  private readonly ledger: Ledger;
  private querySet: GPUQuerySet | null = null;
  private resolve: GPUBuffer | null = null;
  private readback: GPUBuffer | null = null;
  private segments: PhaseName[] = [];
  private wall = zeroPhases();
  // Counts the kernels and clears recorded into each encoder it opens, by phase (work.ts).
  private readonly work = new WorkCounter();

  private constructor(device: GPUDevice, ledger: Ledger, source: TimingSource) {
    this.device = device;
    this.ledger = ledger;
    this.source = source;
    this.encoder = this.newEncoder();
  }

  private newEncoder(): GPUCommandEncoder {
    const encoder = this.device.createCommandEncoder({ label: 'StepRecorder.encoder' });
    this.work.attach(encoder);
    return encoder;
  }

  /**
   * `segments` is the most phase segments one step can have. Timestamp buffers are
   * 'staging' in the ledger: readback scratch, kept out of the step's accounting.
   */
  static async create(device: GPUDevice, ledger: Ledger, segments: number, preferTimestamps = true): Promise<StepRecorder> {
    const queries = 2 * segments;
    const ts = preferTimestamps && device.features.has('timestamp-query') && queries <= MAX_QUERIES;
    const r = new StepRecorder(device, ledger, ts ? 'timestamp-query' : 'wall-clock');
    if (ts) {
      // The ledger owns all three: a failure at any of them leaves nothing behind once it is disposed.
      r.querySet = await ledger.createQuerySet('profiler.querySet', { type: 'timestamp', count: queries });
      const bytes = 8 * queries;
      r.resolve = await ledger.create({ name: 'profiler.resolve', category: 'staging', size: bytes, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
      r.readback = await ledger.create({ name: 'profiler.readback', category: 'staging', size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    }
    return r;
  }

  /** Runs `body` as one segment of `phase`, recording its commands into `this.encoder`. */
  async phase<T>(phase: PhaseName, body: () => Promise<T> | T): Promise<T> {
    this.work.phase = phase;
    if (this.source === 'timestamp-query') {
      const i = this.segments.length;
      this.marker(2 * i);
      const out = await body();
      this.marker(2 * i + 1);
      this.segments.push(phase);
      return out;
    }
    await this.submit('StepRecorder.flush');
    const t0 = performance.now();
    const out = await body();
    await this.submit(`StepRecorder.${phase}`);
    this.wall[phase] += performance.now() - t0;
    return out;
  }

  /**
   * Submits what is recorded, waits for the GPU, and destroys the buffers released meanwhile.
   * `site` names the wait for gpu-wait.ts's estimate of how long it takes.
   */
  async submit(site = 'StepRecorder.submit'): Promise<void> {
    endOpenPass(this.encoder);
    this.device.queue.submit([this.encoder.finish()]);
    this.encoder = this.newEncoder();
    await gpuWait(this.device, site, () => this.device.queue.onSubmittedWorkDone());
    this.ledger.flush();
  }

  /** Ends the step: submits, and returns the time per phase in ms. */
  async finish(): Promise<Record<PhaseName, number>> {
    if (this.source === 'wall-clock') {
      await this.submit('StepRecorder.step');
      const out = this.wall;
      this.wall = zeroPhases();
      return out;
    }
    const n = 2 * this.segments.length;
    if (n > 0) {
      endOpenPass(this.encoder);
      this.encoder.resolveQuerySet(this.querySet!, 0, n, this.resolve!, 0);
      this.encoder.copyBufferToBuffer(this.resolve!, 0, this.readback!, 0, 8 * n);
    }
    await this.submit('StepRecorder.step');
    const out = zeroPhases();
    if (n > 0) {
      await this.readback!.mapAsync(GPUMapMode.READ, 0, 8 * n);
      const t = new BigUint64Array(this.readback!.getMappedRange(0, 8 * n).slice(0));
      this.readback!.unmap();
      this.segments.forEach((p, i) => {
        const ns = Number(t[2 * i + 1]! - t[2 * i]!);
        // Timestamps may be unordered or zero on some implementations; never report negative time.
        out[p] += Math.max(0, ns) / 1e6;
      });
    }
    this.segments = [];
    return out;
  }

  /** The work recorded since the last call (a step's, when called after finish()). */
  takeWork(): StepWork {
    return this.work.take();
  }

  destroy(): void {
    if (this.querySet) this.ledger.destroyQuerySet(this.querySet);
    this.querySet = null;
    // resolve/readback are tensors of the ledger and go with its dispose().
  }

  private marker(index: number): void {
    endOpenPass(this.encoder);
    const pass = this.encoder.beginComputePass({
      label: 'StepRecorder.marker',
      timestampWrites: { querySet: this.querySet!, beginningOfPassWriteIndex: index },
    });
    pass.end();
  }
}

export { PHASE_NAMES };
