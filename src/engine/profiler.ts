/**
 * GPU time per phase of a step, and the step's submissions. A step's commands go to the queue
 * phase by phase: when a step turns from one phase to another (forward, backward, recompute,
 * optimizer), the commands of the phase just recorded are submitted, so the GPU runs them while
 * the host records the next. With `timestamp-query`, each phase segment is bracketed by two
 * empty compute passes that write timestamps; after the step they are resolved and copied into
 * one of TIMES_RING readback buffers, and read back while the next step runs (takeTimes), so no
 * step waits on its own timestamps (Chrome quantizes them to ≈ 65.5 µs, hence per-phase sums,
 * not per op). Without it, each phase's submission is awaited and timed on the wall clock
 * between `onSubmittedWorkDone` promises, which includes submission overhead; the report says
 * which. https://www.w3.org/TR/webgpu/#timestamp
 */
import { gpuWait } from './gpu-wait.ts';
import type { Ledger } from './ledger.ts';
import { endOpenPass, WorkCounter } from './work.ts';
import { PHASE_NAMES, type PhaseName, type StepWork } from '../protocol/run.ts';

export type TimingSource = 'timestamp-query' | 'wall-clock';

/** Query sets hold at most 4096 queries (WebGPU limit). */
const MAX_QUERIES = 4096;

const zeroPhases = (): Record<PhaseName, number> => ({ forward: 0, backward: 0, recompute: 0, optimizer: 0 });

/**
 * Timestamp readback buffers: step s copies its timestamps into slot s mod TIMES_RING, and the
 * host maps it while the next step is recorded. Two suffice when each step's times are taken
 * (or dropped) before the step after next is submitted, which finish() ensures.
 */
export const TIMES_RING = 2;

/** What a trainer records a step through: the open encoder and phase segments (StepRecorder, dry.ts DryRecorder). */
export interface StepRecording {
  /** The encoder commands are recorded into now; replaced when a phase is submitted. */
  readonly encoder: GPUCommandEncoder;
  /** Runs `body` as one segment of `phase`, recording its commands into `encoder`. */
  phase<T>(phase: PhaseName, body: () => Promise<T> | T): Promise<T>;
  /** Submits what is recorded and waits for the GPU (tests read tensors mid-step). */
  submit(site?: string): Promise<void>;
}

export class StepRecorder implements StepRecording {
  readonly source: TimingSource;
  encoder: GPUCommandEncoder;
  private readonly device: GPUDevice;
  private readonly ledger: Ledger;
  private querySet: GPUQuerySet | null = null;
  private resolve: GPUBuffer | null = null;
  private readonly readbacks: GPUBuffer[] = [];
  // Per ring slot, its last read (settled once the slot is unmapped again).
  private readonly slotReads: Promise<unknown>[] = [];
  private finished = 0;
  // Times of finished steps not yet taken, oldest first (at most TIMES_RING).
  private readonly times: Promise<Record<PhaseName, number>>[] = [];
  private segments: PhaseName[] = [];
  // The phase whose commands the open encoder holds (null before a step's first segment), and
  // on the wall clock when it began.
  private current: PhaseName | null = null;
  private groupStart = 0;
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
      // The ledger owns them all: a failure at any of them leaves nothing behind once it is disposed.
      r.querySet = await ledger.createQuerySet('profiler.querySet', { type: 'timestamp', count: queries });
      const bytes = 8 * queries;
      r.resolve = await ledger.create({ name: 'profiler.resolve', category: 'staging', size: bytes, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
      for (let i = 0; i < TIMES_RING; i++) {
        r.readbacks.push(await ledger.create({ name: `profiler.readback${i}`, category: 'staging', size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }));
        r.slotReads.push(Promise.resolve());
      }
    }
    return r;
  }

  /**
   * Runs `body` as one segment of `phase`, recording its commands into `this.encoder`. When
   * the step turns to another phase, the commands of the one before are submitted first.
   */
  async phase<T>(phase: PhaseName, body: () => Promise<T> | T): Promise<T> {
    if (this.current !== null && this.current !== phase) await this.endPhase();
    if (this.current !== phase) {
      this.current = phase;
      this.groupStart = performance.now();
    }
    this.work.phase = phase;
    if (this.source === 'timestamp-query') {
      const i = this.segments.length;
      this.marker(2 * i);
      const out = await body();
      this.marker(2 * i + 1);
      this.segments.push(phase);
      return out;
    }
    const out = await body();
    // A segment's kernels share a compute pass of their own, as with timestamps.
    endOpenPass(this.encoder);
    return out;
  }

  /** The open phase's commands to the queue: at once with timestamps; on the wall clock, awaited and timed. */
  private async endPhase(): Promise<void> {
    if (this.source === 'timestamp-query') this.submitEncoder();
    else await this.submit(`StepRecorder.${this.current!}`);
  }

  private submitEncoder(): void {
    endOpenPass(this.encoder);
    this.device.queue.submit([this.encoder.finish()]);
    this.work.submit();
    this.encoder = this.newEncoder();
  }

  /**
   * Submits what is recorded, waits for the GPU, and destroys the buffers released meanwhile.
   * `site` names the wait for gpu-wait.ts's estimate of how long it takes. On the wall clock,
   * the time since the phase (or the last submit in it) began is charged to the phase.
   */
  async submit(site = 'StepRecorder.submit'): Promise<void> {
    this.submitEncoder();
    await gpuWait(this.device, site, () => this.device.queue.onSubmittedWorkDone());
    this.ledger.flush();
    if (this.source === 'wall-clock' && this.current !== null) {
      const now = performance.now();
      this.wall[this.current] += now - this.groupStart;
      this.groupStart = now;
    }
  }

  /**
   * Ends the step: submits its last phase and waits for the GPU. Its times per phase are read
   * back while the next step runs: takeTimes() gives them, oldest first. Times not taken by the
   * step after next are dropped (a caller that wants none need not take them).
   */
  async finish(): Promise<void> {
    if (this.source === 'wall-clock') {
      await this.submit(this.current === null ? 'StepRecorder.step' : `StepRecorder.${this.current}`);
      this.keepTimes(Promise.resolve(this.wall));
      this.wall = zeroPhases();
      this.current = null;
      return;
    }
    const segments = this.segments;
    this.segments = [];
    this.current = null;
    const n = 2 * segments.length;
    const i = this.finished++ % TIMES_RING;
    const slot = this.readbacks[i]!;
    // The read of the step two before, from this slot, has long been settled: it unmapped the slot.
    await this.slotReads[i];
    if (n > 0) {
      endOpenPass(this.encoder);
      this.encoder.resolveQuerySet(this.querySet!, 0, n, this.resolve!, 0);
      this.encoder.copyBufferToBuffer(this.resolve!, 0, slot, 0, 8 * n);
    }
    await this.submit('StepRecorder.step');
    const read = n === 0 ? Promise.resolve(zeroPhases()) : readTimes(slot, segments);
    // A run that ends early destroys the slot and rejects a read no one takes.
    const settled = read.catch(() => undefined);
    this.slotReads[i] = settled;
    this.keepTimes(read);
  }

  private keepTimes(t: Promise<Record<PhaseName, number>>): void {
    t.catch(() => undefined);
    this.times.push(t);
    while (this.times.length > TIMES_RING) this.times.shift();
  }

  /** The time per phase in ms of the oldest finished step not yet taken. */
  takeTimes(): Promise<Record<PhaseName, number>> {
    const next = this.times.shift();
    if (!next) throw new Error('StepRecorder.takeTimes: no finished step left to take (finish() a step first)');
    return next;
  }

  /** The work recorded since the last call (a step's, when called after finish()). */
  takeWork(): StepWork {
    return this.work.take();
  }

  destroy(): void {
    if (this.querySet) this.ledger.destroyQuerySet(this.querySet);
    this.querySet = null;
    // resolve and the readbacks are tensors of the ledger and go with its dispose().
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

/** Maps a readback slot holding 2 timestamps per segment (ns) and sums them by phase, in ms. */
export async function readTimes(slot: GPUBuffer, segments: PhaseName[]): Promise<Record<PhaseName, number>> {
  const bytes = 16 * segments.length;
  await slot.mapAsync(GPUMapMode.READ, 0, bytes);
  const t = new BigUint64Array(slot.getMappedRange(0, bytes).slice(0));
  slot.unmap();
  const out = zeroPhases();
  segments.forEach((p, i) => {
    const ns = Number(t[2 * i + 1]! - t[2 * i]!);
    // Timestamps may be unordered or zero on some implementations; never report negative time.
    out[p] += Math.max(0, ns) / 1e6;
  });
  return out;
}

export { PHASE_NAMES };
