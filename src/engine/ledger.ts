/**
 * The one allocator of the engine. WebGPU has no API for the memory a device uses, so the
 * ledger is the ground truth: every GPUBuffer is created and destroyed here, tagged with a
 * tensor name, a category and the op current at the time, and from those events come live
 * and peak bytes, what was alive at the peak, and a timeline of the step.
 *
 * Two sizes per buffer: `requested` (what the tensor needs) and `allocated` (what is handed
 * to createBuffer after alignment). Live, peak and the timeline are reported in both so that
 * rounding never hides or invents liveness.
 *
 * Error handling follows webgpu-samples util.ts: each createBuffer runs inside an
 * 'out-of-memory' and a 'validation' error scope, and a failure reaches the caller as an
 * Error whose name is one of LEDGER_ERRORS and whose message says what to change.
 * https://webgpu.github.io/webgpu-samples/ (util.ts)
 */
import {
  LEDGER_CATEGORIES,
  LEDGER_ERRORS,
  isLedgerCategory,
  zeroLedgerBytes,
  type LedgerBytes,
  type LedgerCategory,
  type LedgerEntry,
  type LedgerErrorName,
  type LedgerEventKind,
  type LedgerPoint,
} from '../protocol/ledger.ts';
import { ArenaSlice } from './arena.ts';
import { DryBuffer } from './dry.ts';
import { countClear, endOpenPass } from './work.ts';

export interface LedgerCreateOptions {
  /** Tensor name; the buffer is labelled `Ledger.<name>`. */
  name: string;
  category: LedgerCategory;
  /** Bytes the tensor needs; a non-negative integer. */
  size: number;
  /** GPUBufferUsage flags. */
  usage: GPUBufferUsageFlags;
  /** Op index to record instead of the current one (e.g. a buffer made ahead for a later op). */
  op?: number;
  /**
   * The encoder the new tensor's first commands will be recorded into. Given, a buffer of the
   * same allocated size and usage that was released since the last flush (its last use is
   * already recorded earlier in that encoder) is taken instead of a new one, and zeroed by a
   * clearBuffer recorded there (unless `overwritten`), so the tensor starts at zero as a new
   * buffer does. The ledger still records the old tensor's end and the new one's start:
   * logical liveness is unchanged, only the physical bytes stop counting both. Needs COPY_DST
   * in usage.
   */
  reuseIn?: GPUCommandEncoder;
  /**
   * The tensor's first writer overwrites every byte of it (a kernel output, not an
   * accumulator): a reused buffer is then handed over as it is, with no clearBuffer.
   */
  overwritten?: boolean;
}

/** The op current before the first beginOp/setOp: setup, weight upload. */
export const SETUP_OP = -1;

/**
 * Alignment of every allocation, in bytes. WebGPU requires sizes that are a multiple of 4 for
 * `mappedAtCreation`, `copyBufferToBuffer`, `queue.writeBuffer` and storage bindings, so a
 * size of 6 B is allocated as 8 B: allocated = ceil(requested / 4) × 4.
 */
export const BUFFER_ALIGNMENT = 4;

export function alignedSize(requested: number): number {
  return Math.ceil(requested / BUFFER_ALIGNMENT) * BUFFER_ALIGNMENT;
}

/** What the ledger knows of one buffer; `entry` is the serialisable part. */
interface Tracked {
  buffer: GPUBuffer;
  entry: LedgerEntry;
}

/** Events kept by default: many steps of a small model, a few of a large one. */
export const DEFAULT_HISTORY_LIMIT = 50_000;

export class Ledger {
  readonly device: GPUDevice;

  // Live buffers, for destroy()/release(); ended ones only in a WeakSet, so a long run's
  // history does not keep GPUBuffer objects alive.
  private readonly tracked = new Map<GPUBuffer, Tracked>();
  private readonly ended = new WeakSet<GPUBuffer>();
  // Entries in creation order and one point per event, both trimmed to the last
  // `historyLimit` (live entries are always kept); `droppedPoints` keeps event indices absolute.
  // The entries hold no buffers: a destroyed buffer is not kept reachable by the history, nor
  // what is cached on it (kernels' bind groups).
  private order: LedgerEntry[] = [];
  private points: LedgerPoint[] = [];
  private droppedPoints = 0;
  private readonly historyLimit: number;

  private op = SETUP_OP;
  private opLabel = '';
  private nextId = 0;

  // Running totals in bytes; `live*` as requested and as allocated.
  private live = 0;
  private liveAllocated = 0;
  private peak = 0;
  private peakAllocated = 0;
  private readonly liveByCategory: LedgerBytes = zeroLedgerBytes();
  private readonly maxCategory: LedgerBytes = zeroLedgerBytes();
  // Requested bytes by category the first time `peak` was reached.
  private atPeak: LedgerBytes = zeroLedgerBytes();
  // Released (logically freed) buffers awaiting flush(), and their allocated bytes.
  private readonly pending: GPUBuffer[] = [];
  private pendingBytes = 0;
  // With `pool`: flushed buffers kept for reuse instead of destroyed, and their allocated bytes.
  private readonly pool: GPUBuffer[] = [];
  private pooledBytes = 0;
  private readonly pooling: boolean;
  private created = 0;
  private reused = 0;
  // The buffer each tensor name last had: a reused tensor gets it back when it is free, so a
  // step's dispatches see the same buffers as the last step's (and their bind groups repeat).
  private readonly lastBuffer = new Map<string, GPUBuffer>();
  private physicalPeak = 0;
  // Query sets made through createQuerySet(), until destroyQuerySet() or dispose().
  private readonly querySets = new Set<GPUQuerySet>();
  // Arena buffers (createArena), until dispose(): physical bytes that hold slices, no tensor
  // of their own; and the allocated bytes of the live slices in them (counted in liveAllocated).
  private readonly arenas = new Set<GPUBuffer>();
  private arenaBytes = 0;
  private liveSliceAllocated = 0;
  // Inside dry(): tensors are DryBuffers, and nothing is created, recorded or freed.
  private dry_ = false;

  /**
   * `historyLimit`: how many events (timeline points) and ended entries are kept, so an hour
   * of training does not grow the JS heap; live buffers are always kept.
   *
   * `pool`: flush() keeps the buffers it would destroy, and a later create() given `reuseIn`
   * takes one of the same size and usage (zeroed in that encoder) before creating a new one.
   * A training step repeats the last one's allocations, so after the first step it creates no
   * buffers at all: no createBuffer, no error-scope round trip. Pooled bytes count as physical
   * (the device holds them); dispose() and trimPool() destroy them.
   */
  constructor(device: GPUDevice, opts: { historyLimit?: number; pool?: boolean } = {}) {
    this.device = device;
    this.historyLimit = Math.max(16, opts.historyLimit ?? DEFAULT_HISTORY_LIMIT);
    this.pooling = opts.pool === true;
  }

  /**
   * Runs `body` (a step recorded for its pipelines only, dry.ts) with the ledger inert: create()
   * checks its arguments as always and returns a DryBuffer, release(), destroy(), trackSlice()
   * and flush() do nothing, and the current op is restored afterwards. No event, entry, byte or
   * buffer of the ledger changes, so the step recorded next is accounted as if none came before.
   */
  async dry<T>(body: () => Promise<T>): Promise<T> {
    if (this.dry_) throw new Error('Ledger.dry: already dry');
    const { op, opLabel } = this;
    this.dry_ = true;
    try {
      return await body();
    } finally {
      this.dry_ = false;
      this.op = op;
      this.opLabel = opLabel;
    }
  }

  /** Starts the next op; later events record its index and label. Returns the index (0, 1, …). */
  beginOp(label: string): number {
    this.op += 1;
    this.opLabel = label;
    return this.op;
  }

  /** Sets the current op explicitly, e.g. when the executor walks a tape by index. */
  setOp(index: number, label = ''): void {
    if (!Number.isInteger(index) || index < SETUP_OP) throw new RangeError(`Ledger.setOp: op index must be an integer ≥ ${SETUP_OP}, got ${index}`);
    this.op = index;
    this.opLabel = label;
  }

  get currentOp(): { op: number; label: string } {
    return { op: this.op, label: this.opLabel };
  }

  /**
   * Creates a buffer and records it. Async because error scopes resolve asynchronously: the
   * buffer is recorded only once the device has accepted it. Throws (nothing allocated, the
   * ledger unchanged) an Error named BufferTooLarge when the size is over a device limit or
   * the device rejects it, and OutOfMemory when the device has no memory for it.
   */
  async create(opts: LedgerCreateOptions): Promise<GPUBuffer> {
    const { name, category, size, usage } = opts;
    if (!isLedgerCategory(category)) {
      throw new TypeError(`Ledger.create(${name}): unknown category '${String(category)}', expected one of ${LEDGER_CATEGORIES.join(', ')}`);
    }
    if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`Ledger.create(${name}): size must be a non-negative integer of bytes, got ${size}`);
    checkUsage(name, usage);
    const allocated = alignedSize(size);
    this.checkLimits(name, size, allocated, usage);
    if (this.dry_) return new DryBuffer(`Ledger.${name}`, allocated, usage);
    const op = opts.op ?? this.op;

    const reused = opts.reuseIn && (usage & GPUBufferUsage.COPY_DST) !== 0 ? this.takeReleased(name, allocated, usage) : null;
    if (reused) {
      this.reused += 1;
      reused.label = `Ledger.${name}`;
      if (!opts.overwritten) {
        endOpenPass(opts.reuseIn!);
        opts.reuseIn!.clearBuffer(reused);
        countClear(opts.reuseIn!);
      }
      this.track(reused, name, category, size, allocated, op);
      return reused;
    }

    this.created += 1;
    const { made: buffer, validationError, oomError } = await scoped(this.device, () =>
      this.device.createBuffer({ label: `Ledger.${name}`, size: allocated, usage }),
    );
    if (oomError || validationError) {
      buffer.destroy();
      if (oomError) {
        throw ledgerError(
          LEDGER_ERRORS.OutOfMemory,
          `The GPU ran out of memory allocating '${name}' (${category}, ${describeBytes(allocated)}) with ${describeBytes(this.liveAllocated)} ` +
            `already live: lower the batch or the sequence length, turn on checkpointing, or use a smaller model`,
          oomError.message,
        );
      }
      throw ledgerError(
        LEDGER_ERRORS.BufferTooLarge,
        `The GPU rejected the buffer for '${name}' (${category}, ${describeBytes(allocated)}; maxBufferSize ${describeBytes(this.device.limits.maxBufferSize)}): ` +
          `lower the batch or the sequence length, or use a smaller model`,
        validationError!.message,
      );
    }

    this.track(buffer, name, category, size, allocated, op);
    return buffer;
  }

  /**
   * A released buffer of exactly `allocated` bytes and `usage`: one awaiting flush (its last
   * use is recorded in the open encoder), else a pooled one; taken off its list, or null.
   */
  private takeReleased(name: string, allocated: number, usage: GPUBufferUsageFlags): GPUBuffer | null {
    const fits = (b: GPUBuffer) => b.size === allocated && b.usage === usage;
    const last = this.lastBuffer.get(name);
    const own = last && fits(last) ? last : undefined;
    // The tensor's own buffer from the last step first, wherever it waits; then any that fits.
    let i = own ? this.pending.indexOf(own) : -1;
    let fromPending = i >= 0;
    if (!fromPending && own) i = this.pool.indexOf(own);
    if (i < 0) {
      i = this.pending.findIndex(fits);
      fromPending = i >= 0;
      if (!fromPending) i = this.pool.findIndex(fits);
    }
    if (i < 0) return null;
    const buffer = (fromPending ? this.pending : this.pool).splice(i, 1)[0]!;
    if (fromPending) this.pendingBytes -= allocated;
    else this.pooledBytes -= allocated;
    this.ended.delete(buffer);
    return buffer;
  }

  /** Records a buffer the device accepted (new or reused) as a live tensor from op on. */
  private track(buffer: GPUBuffer, name: string, category: LedgerCategory, size: number, allocated: number, op: number): void {
    if (!(buffer instanceof ArenaSlice)) this.lastBuffer.set(name, buffer);
    const entry: LedgerEntry = { id: this.nextId++, name, category, requested: size, allocated, createdAt: op, destroyedAt: null };
    const t: Tracked = { buffer, entry };
    this.tracked.set(buffer, t);
    this.order.push(entry);
    if (this.order.length > 1.5 * this.historyLimit) {
      const cut = this.order.length - this.historyLimit;
      this.order = this.order.filter((e, i) => i >= cut || e.destroyedAt === null);
    }
    this.live += size;
    this.liveAllocated += allocated;
    this.liveByCategory[category] += size;
    this.maxCategory[category] = Math.max(this.maxCategory[category], this.liveByCategory[category]);
    if (this.live > this.peak) {
      this.peak = this.live;
      this.atPeak = { ...this.liveByCategory };
    }
    this.peakAllocated = Math.max(this.peakAllocated, this.liveAllocated);
    this.physicalPeak = Math.max(this.physicalPeak, this.physicalBytes);
    this.record('create', entry, op);
  }

  /**
   * Destroys a buffer made by this ledger and records it at the current op. Destroying it a
   * second time does nothing; a buffer from anywhere else is a bug and throws.
   */
  destroy(buffer: GPUBuffer): void {
    if (this.dry_) return;
    this.free(buffer, 'destroy');
    buffer.destroy();
  }

  /**
   * Ends a buffer's life in the ledger now, at the current op, but keeps the GPUBuffer until
   * `flush()`: a buffer that commands already recorded in an unsubmitted encoder use cannot be
   * destroyed before that encoder is submitted, yet its logical lifetime ends here. Released
   * buffers still count in `physicalBytes` until flushed, so the difference stays visible.
   */
  release(buffer: GPUBuffer): void {
    if (this.dry_) return;
    if (this.free(buffer, 'release') && !(buffer instanceof ArenaSlice)) {
      this.pending.push(buffer);
      this.pendingBytes += alignedSize(buffer.size);
      this.physicalPeak = Math.max(this.physicalPeak, this.physicalBytes);
    }
  }

  /**
   * Destroys the buffers released since the last flush (with `pool`, keeps them for reuse);
   * call after submitting their encoder.
   */
  flush(): void {
    if (this.dry_) return;
    const released = this.pending.splice(0);
    if (this.pooling) {
      this.pool.push(...released);
      this.pooledBytes += this.pendingBytes;
    } else {
      for (const b of released) b.destroy();
    }
    this.pendingBytes = 0;
  }

  /** Destroys the pooled buffers. */
  trimPool(): void {
    for (const b of this.pool.splice(0)) b.destroy();
    this.pooledBytes = 0;
  }

  /** Allocated bytes the device holds now: live, released but not yet flushed, pooled, and arenas. */
  get physicalBytes(): number {
    return this.liveAllocated - this.liveSliceAllocated + this.pendingBytes + this.pooledBytes + this.arenaBytes;
  }

  /**
   * An arena: one buffer whose sub-ranges are tensors (arena.ts). It is physical memory from
   * now until dispose(), but no tensor: each slice is recorded by trackSlice() when it becomes
   * live and by release() when it ends. Throws like create().
   */
  async createArena(name: string, size: number, usage: GPUBufferUsageFlags): Promise<GPUBuffer> {
    if (!Number.isSafeInteger(size) || size <= 0) throw new RangeError(`Ledger.createArena(${name}): size must be a positive integer of bytes, got ${size}`);
    checkUsage(name, usage);
    this.checkLimits(name, size, alignedSize(size), usage);
    const { made: buffer, validationError, oomError } = await scoped(this.device, () => this.device.createBuffer({ label: `Ledger.arena.${name}`, size: alignedSize(size), usage }));
    if (oomError || validationError) {
      buffer.destroy();
      const what = `the arena '${name}' (${describeBytes(alignedSize(size))}) with ${describeBytes(this.liveAllocated)} already live`;
      if (oomError) throw ledgerError(LEDGER_ERRORS.OutOfMemory, `The GPU ran out of memory allocating ${what}: use a smaller model`, oomError.message);
      throw ledgerError(LEDGER_ERRORS.BufferTooLarge, `The GPU rejected ${what}: use a smaller model`, validationError!.message);
    }
    this.arenas.add(buffer);
    this.arenaBytes += buffer.size;
    this.created += 1;
    this.physicalPeak = Math.max(this.physicalPeak, this.physicalBytes);
    return buffer;
  }

  /**
   * Records a slice of an arena as a live tensor from the current op (or `op`): its bytes are
   * `requested`, its extent in the arena `allocated`. It ends with release() or destroy() as
   * any tensor does, and may be tracked again later (a gradient, every step).
   */
  trackSlice(slice: ArenaSlice, name: string, category: LedgerCategory, requested: number, op = this.op): void {
    if (!isLedgerCategory(category)) throw new TypeError(`Ledger.trackSlice(${name}): unknown category '${String(category)}', expected one of ${LEDGER_CATEGORIES.join(', ')}`);
    if (this.dry_) return;
    if (this.tracked.has(slice)) throw new Error(`Ledger.trackSlice: '${name}' is already live`);
    this.checkLimits(name, requested, slice.extent, GPUBufferUsage.STORAGE);
    this.ended.delete(slice);
    this.liveSliceAllocated += slice.extent;
    this.track(slice, name, category, requested, slice.extent, op);
  }

  /** Buffers created on the device, and tensors that took a released buffer instead. */
  get bufferCounts(): { created: number; reused: number } {
    return { created: this.created, reused: this.reused };
  }

  /** The most allocated bytes held at once, released-but-unflushed and pooled buffers included. */
  get physicalPeakBytes(): number {
    return this.physicalPeak;
  }

  /** Records the end of a buffer's life; false when it had already ended. */
  private free(buffer: GPUBuffer, by: 'destroy' | 'release'): boolean {
    const t = this.tracked.get(buffer);
    if (!t) {
      if (this.ended.has(buffer)) return false;
      throw new Error(`Ledger.${by}: buffer '${buffer.label}' was not created by this ledger`);
    }
    this.tracked.delete(buffer);
    this.ended.add(buffer);
    const { entry } = t;
    if (buffer instanceof ArenaSlice) this.liveSliceAllocated -= entry.allocated;
    entry.destroyedAt = this.op;
    this.live -= entry.requested;
    this.liveAllocated -= entry.allocated;
    this.liveByCategory[entry.category] -= entry.requested;
    this.record('destroy', entry, this.op);
    return true;
  }

  /**
   * Creates a query set (timestamp queries: the profiler's) and keeps it until
   * destroyQuerySet() or dispose(), so a run that fails anywhere after it cannot leak it. It
   * holds device memory (8 B per query) but no tensor, so it is not in the byte accounting.
   * Throws like create(): OutOfMemory, or BufferTooLarge when the device rejects it.
   */
  async createQuerySet(name: string, descriptor: GPUQuerySetDescriptor): Promise<GPUQuerySet> {
    const { made: set, validationError, oomError } = await scoped(this.device, () => this.device.createQuerySet({ ...descriptor, label: `Ledger.${name}` }));
    if (oomError || validationError) {
      set.destroy();
      const what = `the query set '${name}' (${descriptor.count} ${descriptor.type} queries)`;
      if (oomError) throw ledgerError(LEDGER_ERRORS.OutOfMemory, `The GPU ran out of memory allocating ${what}: use a smaller model or batch, or --wall-clock timing`, oomError.message);
      throw ledgerError(LEDGER_ERRORS.BufferTooLarge, `The GPU rejected ${what}: use --wall-clock timing`, validationError!.message);
    }
    this.querySets.add(set);
    return set;
  }

  /** Destroys a query set made by createQuerySet(); nothing if it is gone already. */
  destroyQuerySet(set: GPUQuerySet): void {
    if (this.querySets.delete(set)) set.destroy();
  }

  /** Destroys every live and released buffer and every query set; afterwards liveBytes is 0. History (entries, timeline, peaks) is kept. */
  dispose(): void {
    for (const q of [...this.querySets]) this.destroyQuerySet(q);
    for (const t of [...this.tracked.values()]) this.destroy(t.buffer);
    this.flush();
    this.trimPool();
    for (const a of this.arenas) a.destroy();
    this.arenas.clear();
    this.arenaBytes = 0;
    this.lastBuffer.clear();
  }

  /** Bytes live now, as requested. */
  get liveBytes(): number {
    return this.live;
  }

  /** Bytes live now, as allocated (after alignment). */
  get liveAllocatedBytes(): number {
    return this.liveAllocated;
  }

  /** The most requested bytes live at once. */
  get peakBytes(): number {
    return this.peak;
  }

  /** The most allocated bytes live at once (may be reached at a different event than peakBytes). */
  get peakAllocatedBytes(): number {
    return this.peakAllocated;
  }

  /** Requested bytes by category when peakBytes was first reached. */
  aliveAtPeak(): LedgerBytes {
    return { ...this.atPeak };
  }

  /** Requested bytes by category live now. */
  bytesByCategory(): LedgerBytes {
    return { ...this.liveByCategory };
  }

  /** The most requested bytes each category held at once (each at its own moment). */
  maxByCategory(): LedgerBytes {
    return { ...this.maxCategory };
  }

  /** One point per create or destroy, in order (the last `historyLimit` or more); `from` is an absolute event index. */
  timeline(from = 0): LedgerPoint[] {
    return this.points.slice(Math.max(0, from - this.droppedPoints)).map((p) => ({ ...p, byCategory: { ...p.byCategory } }));
  }

  /** How many create/destroy events have been recorded (an index into timeline()). */
  get eventCount(): number {
    return this.droppedPoints + this.points.length;
  }

  /** The buffers created here, in creation order, as plain data: every live one and the recent ended ones. */
  entries(): LedgerEntry[] {
    return this.order.map((e) => ({ ...e }));
  }

  /** True when the buffer was made by this ledger and not yet destroyed. */
  isLive(buffer: GPUBuffer): boolean {
    return this.tracked.has(buffer);
  }

  private record(event: LedgerEventKind, entry: LedgerEntry, op: number): void {
    if (this.points.length >= 1.5 * this.historyLimit) {
      const cut = this.points.length - this.historyLimit;
      this.points = this.points.slice(cut);
      this.droppedPoints += cut;
    }
    this.points.push({
      op,
      label: op === this.op ? this.opLabel : '',
      event,
      name: entry.name,
      category: entry.category,
      requested: entry.requested,
      liveBytes: this.live,
      liveAllocatedBytes: this.liveAllocated,
      byCategory: { ...this.liveByCategory },
    });
  }

  /**
   * Checked before createBuffer so that nothing is allocated for a size the device cannot
   * take. Storage buffers are bound whole by the kernels, so their limit is the binding limit.
   */
  private checkLimits(name: string, requested: number, allocated: number, usage: GPUBufferUsageFlags): void {
    const limits = this.device.limits;
    const over: [string, number][] = [];
    if (allocated > limits.maxBufferSize) over.push(['maxBufferSize', limits.maxBufferSize]);
    if (usage & GPUBufferUsage.STORAGE && allocated > limits.maxStorageBufferBindingSize) {
      over.push(['maxStorageBufferBindingSize', limits.maxStorageBufferBindingSize]);
    }
    if (over.length === 0) return;
    const [limit, value] = over.reduce((a, b) => (b[1] < a[1] ? b : a));
    throw ledgerError(
      LEDGER_ERRORS.BufferTooLarge,
      `The tensor '${name}' needs ${describeBytes(requested)} in one buffer, over this device's ${limit} of ${describeBytes(value)}: ` +
        `lower the batch or the sequence length, or use a smaller model`,
    );
  }
}

/**
 * Usage combinations createBuffer rejects are bugs in the caller, not sizes to lower, so they
 * throw a TypeError here instead of surfacing as a validation error read as BufferTooLarge.
 */
function checkUsage(name: string, usage: GPUBufferUsageFlags): void {
  // Read here, not at module level: in Node GPUBufferUsage exists only once the `webgpu` globals are installed.
  const { MAP_READ, MAP_WRITE, COPY_SRC, COPY_DST } = GPUBufferUsage;
  if (!Number.isInteger(usage) || usage <= 0) throw new TypeError(`Ledger.create(${name}): usage must be non-zero GPUBufferUsage flags, got ${usage}`);
  if (usage & MAP_READ && usage & ~(MAP_READ | COPY_DST)) {
    throw new TypeError(`Ledger.create(${name}): MAP_READ may only be combined with COPY_DST`);
  }
  if (usage & MAP_WRITE && usage & ~(MAP_WRITE | COPY_SRC)) {
    throw new TypeError(`Ledger.create(${name}): MAP_WRITE may only be combined with COPY_SRC`);
  }
}

/**
 * Runs `make` (one createBuffer or createQuerySet) inside an 'out-of-memory' and a 'validation'
 * error scope and returns what it made with the errors the scopes caught. Pushed and popped in
 * the same task, so concurrent calls cannot see each other's errors; popped also when `make`
 * throws (a lost GPU process), so the device's scope stack stays balanced.
 */
async function scoped<T>(device: GPUDevice, make: () => T): Promise<{ made: T; validationError: GPUError | null; oomError: GPUError | null }> {
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  let made: T;
  try {
    made = make();
  } catch (err) {
    await Promise.allSettled([device.popErrorScope(), device.popErrorScope()]);
    throw err;
  }
  const validation = device.popErrorScope();
  const oom = device.popErrorScope();
  const [validationError, oomError] = await Promise.all([validation, oom]);
  return { made, validationError, oomError };
}

function ledgerError(name: LedgerErrorName, message: string, detail?: string): Error {
  const e = new Error(detail ? `${message} (device: ${detail})` : message);
  e.name = name;
  return e;
}

/** "314572800 B (300.0 MiB)": exact bytes for bug reports, MiB for people. */
function describeBytes(n: number): string {
  return `${n} B (${(n / 2 ** 20).toFixed(1)} MiB)`;
}
