/**
 * PyTorch memory snapshots, both ways.
 *
 * Out: a run's last step as the dict `torch.cuda.memory._snapshot()` returns (and
 * `_dump_snapshot()` pickles), so pytorch.org/memory_viz opens it: `segments` (the state at
 * the end: one segment per GPUBuffer, since WebGPU gives every buffer its own allocation and
 * vramlab has no caching pool) and `device_traces[0]` (the step's ledger events as
 * segment_alloc + alloc and free_requested + free_completed + segment_free). Every event's
 * frames name the tensor, its category, the op and the phase. Trace sizes are requested bytes,
 * as PyTorch's allocator records them (`orig_size` / `requested_size`); block and segment
 * sizes are the ledger's allocated (4-byte aligned) bytes.
 *
 * In: any such snapshot (PyTorch's or ours) replayed the way memory_viz's Active Memory
 * Timeline replays it: blocks alive before the trace (allocated at the end but not in the
 * trace, or freed in it without an alloc) are the starting bytes, each alloc adds its size and
 * each free_completed takes it away. The peak is the most bytes allocated at once (requested
 * sizes, as memory_viz sums them); each event is given a phase of the step from its frames.
 *
 * Format: torch/cuda/memory.py (`_snapshot` docstring: Segment, Block, Frame, TraceEntry),
 * torch/utils/viz/MemoryViz.js (annotate_snapshot, process_alloc_data).
 */
import type { PickleDict, PickleInput, PickleValue } from './pickle.ts';
import { readPickle, writePickle } from './pickle.ts';
import type { PlanCategory } from './plan.ts';
import { phaseOfOpLabel, tensorsAliveAt, type OpPhase, type RunReport } from './run.ts';

export interface SnapshotFrame {
  filename: string;
  line: number;
  name: string;
}

export type TraceAction = 'alloc' | 'free_requested' | 'free_completed' | 'segment_alloc' | 'segment_free';

export interface SnapshotTraceEntry {
  action: TraceAction;
  addr: number;
  size: number;
  stream: number;
  frames: SnapshotFrame[];
}

export interface SnapshotBlock {
  address: number;
  size: number;
  requested_size: number;
  state: 'active_allocated' | 'inactive';
  frames: SnapshotFrame[];
}

export interface SnapshotSegment {
  device: number;
  address: number;
  total_size: number;
  allocated_size: number;
  active_size: number;
  requested_size: number;
  stream: number;
  segment_type: 'small' | 'large';
  is_expandable: boolean;
  frames: SnapshotFrame[];
  blocks: SnapshotBlock[];
}

export interface MemorySnapshot {
  segments: SnapshotSegment[];
  device_traces: SnapshotTraceEntry[][];
}

/** Where the exported buffers' made-up addresses start (device addresses look like this on CUDA). */
export const SNAPSHOT_BASE_ADDRESS = 0x7f00_0000_0000;
/** Each buffer's address is aligned as cudaMalloc aligns its segments. */
const ADDRESS_ALIGN = 512;
/** PyTorch's small pool holds blocks of at most 1 MiB; larger ones live in 'large' segments. */
const SMALL_SEGMENT_MAX = 2 ** 20;
/** WebGPU sizes are multiples of 4 (engine/ledger.ts BUFFER_ALIGNMENT). */
const allocated = (requested: number): number => Math.ceil(requested / 4) * 4;

/** The frame files naming each part of an event; the importer reads the phase back from them. */
export const VRAMLAB_FRAME_FILES = { tensor: 'vramlab/tensor', category: 'vramlab/category', op: 'vramlab/op', phase: 'vramlab/phase' } as const;

type Report = Pick<RunReport, 'timeline' | 'aliveAtEnd'>;

function framesOf(name: string, category: PlanCategory, op: number, label: string, phase: OpPhase): SnapshotFrame[] {
  // memory_viz prints frames as `filename:line:name`, innermost first.
  return [
    { filename: VRAMLAB_FRAME_FILES.tensor, line: 0, name },
    { filename: VRAMLAB_FRAME_FILES.category, line: 0, name: category },
    { filename: VRAMLAB_FRAME_FILES.op, line: op, name: label || '(setup)' },
    { filename: VRAMLAB_FRAME_FILES.phase, line: 0, name: phase },
  ];
}

/**
 * The last step of a run as a PyTorch memory snapshot. Readback staging is left out, as it is
 * from the report's bytes, so replaying the trace gives the report's `actual.peakBytes`.
 */
export function runToMemorySnapshot(report: Report): MemorySnapshot {
  let next = SNAPSHOT_BASE_ADDRESS;
  const place = (bytes: number): number => {
    const addr = next;
    next += Math.ceil(Math.max(allocated(bytes), 1) / ADDRESS_ALIGN) * ADDRESS_ALIGN;
    return addr;
  };
  interface Live {
    addr: number;
    requested: number;
    frames: SnapshotFrame[];
  }
  const live = new Map<string, Live>();
  // Alive before the step's first event: placed first, with no event of their own (memory_viz
  // shows them as allocated before the trace began, as PyTorch does for blocks allocated before
  // recording started).
  for (const t of tensorsAliveAt(report, -1)) {
    live.set(t.name, { addr: place(t.bytes), requested: t.bytes, frames: framesOf(t.name, t.category, -1, '', 'setup') });
  }

  const trace: SnapshotTraceEntry[] = [];
  let phase: OpPhase = 'setup';
  for (const p of report.timeline) {
    phase = phaseOfOpLabel(p.label, phase);
    if (p.category === null) continue;
    const frames = framesOf(p.name, p.category, p.op, p.label, phase);
    const ev = (action: TraceAction, addr: number, size: number): SnapshotTraceEntry => ({ action, addr, size, stream: 0, frames });
    if (p.event === 'create') {
      const addr = place(p.tensorBytes);
      live.set(p.name, { addr, requested: p.tensorBytes, frames });
      trace.push(ev('segment_alloc', addr, allocated(p.tensorBytes)), ev('alloc', addr, p.tensorBytes));
    } else {
      const t = live.get(p.name);
      if (!t) throw new Error(`the timeline destroys '${p.name}', which it never created`);
      live.delete(p.name);
      trace.push(ev('free_requested', t.addr, t.requested), ev('free_completed', t.addr, t.requested), ev('segment_free', t.addr, allocated(t.requested)));
    }
  }

  const segments = [...live.values()]
    .sort((a, b) => a.addr - b.addr)
    .map((t): SnapshotSegment => {
      const size = allocated(t.requested);
      return {
        device: 0,
        address: t.addr,
        total_size: size,
        allocated_size: size,
        active_size: size,
        requested_size: t.requested,
        stream: 0,
        segment_type: size > SMALL_SEGMENT_MAX ? 'large' : 'small',
        is_expandable: false,
        frames: t.frames,
        blocks: [{ address: t.addr, size, requested_size: t.requested, state: 'active_allocated', frames: t.frames }],
      };
    });
  return { segments, device_traces: [trace] };
}

/** The snapshot as the bytes of a `.pickle` file memory_viz opens. */
export function memorySnapshotPickle(report: Report): Uint8Array {
  return writePickle(runToMemorySnapshot(report) as unknown as PickleInput);
}

/** `vramlab-run-mlp-….pickle`: the report's file name with the snapshot's extension. */
export const SNAPSHOT_EXTENSION = '.pickle';

// ---------------------------------------------------------------------------------------------
// Import

/** Largest snapshot file read, bytes: a long PyTorch trace is tens of MB. */
export const MAX_SNAPSHOT_BYTES = 256 * 2 ** 20;

/** A snapshot that is not one: the message is one sentence saying what is wrong. */
export class SnapshotError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SnapshotError';
  }
}

/** The phases a replay reports; 'other' is anything before the first event whose frames name one. */
export const REPLAY_PHASES = ['other', 'forward', 'backward', 'optimizer'] as const;
export type ReplayPhase = (typeof REPLAY_PHASES)[number];

export interface ReplayPoint {
  /** Index of the event in the device's trace. */
  event: number;
  /** Bytes allocated (requested sizes) after it. */
  bytes: number;
  phase: ReplayPhase;
}

export interface SnapshotReplay {
  device: number;
  /** Trace entries of that device, and how many were allocs and completed frees. */
  events: number;
  allocs: number;
  frees: number;
  /** Bytes allocated before the trace's first event (blocks the trace never allocated). */
  initialBytes: number;
  /** The most bytes allocated at once over the trace (memory_viz's Active Memory Timeline maximum). */
  peakBytes: number;
  /** The point of the peak. */
  peakEvent: number;
  peakPhase: ReplayPhase;
  /** Bytes allocated at the end of the trace. */
  endBytes: number;
  /** The most bytes allocated during each phase; null for a phase with no event. */
  phasePeakBytes: Record<ReplayPhase, number | null>;
  /** One point per alloc or free, thinned to at most `maxPoints` keeping each bucket's highest. */
  curve: ReplayPoint[];
}

const isDict = (v: PickleValue | undefined): v is PickleDict => v !== null && v !== undefined && typeof v === 'object' && !Array.isArray(v);
const num = (v: PickleValue | undefined): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/**
 * The phase of a training step an event's frames point to: vramlab's own phase frame, else
 * PyTorch's code on the stack: torch/optim (the optimizer step), autograd or a *Backward
 * function (backward; recompute under checkpointing runs there too), a module's forward.
 * Null when the frames say nothing (the event belongs to the phase before it).
 */
export function phaseOfFrames(frames: PickleValue | undefined): ReplayPhase | null {
  if (!Array.isArray(frames) || frames.length === 0) return null;
  const fs = frames.filter(isDict).map((f) => ({ file: typeof f.filename === 'string' ? f.filename : '', name: typeof f.name === 'string' ? f.name : '' }));
  const own = fs.find((f) => f.file === VRAMLAB_FRAME_FILES.phase);
  if (own) return own.name === 'optimizer' ? 'optimizer' : own.name === 'backward' || own.name === 'recompute' ? 'backward' : own.name === 'forward' ? 'forward' : 'other';
  if (fs.some((f) => /torch[\\/]optim[\\/]/.test(f.file) || /(^|::|\.)(optimizer_step|zero_grad)\b/i.test(f.name))) return 'optimizer';
  if (fs.some((f) => /backward/i.test(f.name) || /[\\/]autograd[\\/]/.test(f.file))) return 'backward';
  if (fs.some((f) => f.name === 'forward' || f.name === '_call_impl' || /torch[\\/]nn[\\/]modules[\\/]/.test(f.file))) return 'forward';
  return null;
}

/** Reads a snapshot file's bytes; throws SnapshotError (one sentence) for anything that is not one. */
export function readMemorySnapshot(bytes: Uint8Array): PickleDict {
  if (bytes.length > MAX_SNAPSHOT_BYTES) throw new SnapshotError(`the snapshot is ${bytes.length} bytes, over the ${MAX_SNAPSHOT_BYTES / 2 ** 20} MiB limit; record fewer steps (torch.cuda.memory._record_memory_history(max_entries=…))`);
  let value: PickleValue;
  try {
    value = readPickle(bytes, { maxBytes: MAX_SNAPSHOT_BYTES });
  } catch (err) {
    throw new SnapshotError(`${(err as Error).message}; expected the file torch.cuda.memory._dump_snapshot() writes`);
  }
  if (!isDict(value) || !Array.isArray(value.segments) || !Array.isArray(value.device_traces)) {
    throw new SnapshotError('the pickle is not a memory snapshot: it needs a dict with the lists segments and device_traces, as torch.cuda.memory._snapshot() returns');
  }
  return value;
}

/**
 * Replays one device's trace (by default the first one that has events or segments). Throws
 * SnapshotError when the trace is malformed (an entry without action, addr or size).
 */
export function replaySnapshot(snapshot: PickleDict, opts: { device?: number; maxPoints?: number } = {}): SnapshotReplay {
  const traces = snapshot.device_traces as PickleValue[];
  const segments = (snapshot.segments as PickleValue[]).filter(isDict);
  const devicesWithSegments = new Set(segments.map((s) => num(s.device) ?? 0));
  const device = opts.device ?? traces.findIndex((t, i) => (Array.isArray(t) && t.length > 0) || devicesWithSegments.has(i));
  if (device < 0 || device >= traces.length || !Array.isArray(traces[device])) {
    throw new SnapshotError(opts.device === undefined ? 'the snapshot holds no trace and no segment: record it after torch.cuda.memory._record_memory_history()' : `the snapshot has no device ${opts.device}`);
  }
  const trace = traces[device] as PickleValue[];
  const entries = trace.map((e, i) => {
    if (!isDict(e) || typeof e.action !== 'string') throw new SnapshotError(`device_traces[${device}][${i}] is not a trace entry (a dict with an action)`);
    if (e.action === 'alloc' || e.action === 'free_completed' || e.action === 'free') {
      const addr = num(e.addr);
      const size = num(e.size);
      if (addr === null || size === null || size < 0) throw new SnapshotError(`device_traces[${device}][${i}] (${e.action}) lacks a numeric addr or size`);
    }
    return e;
  });

  // Blocks allocated in the trace and still alive at its end, as memory_viz's addr_to_alloc.
  const allocatedInTrace = new Set<number>();
  let initialBytes = 0;
  for (const e of entries) {
    const addr = e.addr as number;
    if (e.action === 'alloc') allocatedInTrace.add(addr);
    else if (e.action === 'free_completed' || e.action === 'free') {
      if (allocatedInTrace.has(addr)) allocatedInTrace.delete(addr);
      else initialBytes += e.size as number;
    }
  }
  for (const seg of segments) {
    if ((num(seg.device) ?? 0) !== device || !Array.isArray(seg.blocks)) continue;
    let addr = num(seg.address) ?? 0;
    for (const b of seg.blocks.filter(isDict)) {
      const size = num(b.size) ?? 0;
      const at = num(b.address) ?? addr;
      if (b.state === 'active_allocated' && !allocatedInTrace.has(at)) initialBytes += num(b.requested_size) ?? size;
      addr = at + size;
    }
  }

  const points: ReplayPoint[] = [];
  const phasePeakBytes: Record<ReplayPhase, number | null> = { other: null, forward: null, backward: null, optimizer: null };
  let bytes = initialBytes;
  // As memory_viz: the most after any alloc or free (the state before the first one is not a
  // moment of the trace); with neither, what was allocated throughout.
  let peakBytes = -1;
  let peakEvent = -1;
  let peakPhase: ReplayPhase = 'other';
  let phase: ReplayPhase = 'other';
  let allocs = 0;
  let frees = 0;
  entries.forEach((e, i) => {
    phase = phaseOfFrames(e.frames) ?? phase;
    if (e.action === 'alloc') {
      bytes += e.size as number;
      allocs++;
    } else if (e.action === 'free_completed' || e.action === 'free') {
      bytes -= e.size as number;
      frees++;
    } else return;
    points.push({ event: i, bytes, phase });
    phasePeakBytes[phase] = Math.max(phasePeakBytes[phase] ?? 0, bytes);
    if (bytes > peakBytes) {
      peakBytes = bytes;
      peakEvent = i;
      peakPhase = phase;
    }
  });
  return {
    device,
    events: entries.length,
    allocs,
    frees,
    initialBytes,
    peakBytes: peakBytes < 0 ? initialBytes : peakBytes,
    peakEvent,
    peakPhase,
    endBytes: bytes,
    phasePeakBytes,
    curve: thin(points, opts.maxPoints ?? 2000),
  };
}

/** At most `max` points: each bucket of consecutive points keeps its highest. */
function thin(points: ReplayPoint[], max: number): ReplayPoint[] {
  if (points.length <= max) return points;
  const per = Math.ceil(points.length / max);
  const out: ReplayPoint[] = [];
  for (let i = 0; i < points.length; i += per) {
    out.push(points.slice(i, i + per).reduce((a, b) => (b.bytes > a.bytes ? b : a)));
  }
  return out;
}
