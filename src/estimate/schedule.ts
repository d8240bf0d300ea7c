/**
 * Live bytes over one training step, unit by unit: forward keeps what backward needs,
 * backward frees it as gradients appear, the optimizer step adds its temporaries. The peak
 * is the largest live total at any point, with what was alive then. Works for any model
 * that is a chain of units (transformer layers, ResNet blocks, MLP blocks).
 */
import type { Checkpoint } from '../protocol/config.ts';
import { ENGINE_OP } from './vramlab.ts';
import { type CategoryBytes, type OpMoment, type Phase, type PlanCategory, zeroCategories } from '../protocol/plan.ts';

/** One checkpointable unit, in forward order. Bytes are for one micro-batch. */
export interface Unit {
  name: string;
  /** Where its saved and transient bytes count: 'activations' for layers, 'logits' for the loss. */
  category: PlanCategory;
  /** Kept for backward after its forward; its input is the previous unit's `output`. */
  saved: number;
  /** Part of `saved` that selective recompute drops (attention scores, softmax, dropout mask). */
  selective: number;
  /** What a checkpoint at its boundary keeps instead of `saved` (its input). */
  checkpointInput: number;
  /** Extra bytes alive at the worst moment of its forward, beyond `saved`. */
  fwdTransient: number;
  /**
   * Extra bytes alive at the worst moment of its backward, beyond what is live then: the
   * gradients of activations (counted as activationGrads; as logits for the loss unit).
   */
  bwdTransient: number;
  /** 16-bit weight copies made in its forward and held until its backward (autocast). */
  castBytes: number;
  /** Gradient bytes that appear in its backward. */
  gradBytes: number;
  /** Inside the checkpointed body (transformer layers, ResNet blocks). */
  recomputable: boolean;
  /** Where it runs in the engine (framework vramlab): its ledger ops, for opTimeline. */
  ops?: UnitOps;
}

/**
 * A unit as the engine runs it: the labels of its ledger ops (the trainers' op labels, see
 * ENGINE_OP in vramlab.ts) and the bytes that cross op boundaries.
 */
export interface UnitOps {
  /** Its forward op; null when it has none of its own (the mlp's loss reads the last block's output in backward). */
  forward: string | null;
  backward: string;
  /** Its recompute op under full or √n checkpointing. */
  recompute?: string;
  /** Its op recomputing the `selective` part. */
  selective?: string;
  /**
   * Bytes beyond `saved` alive at the worst moment of its recompute when it is the last of a
   * recomputed segment (it stops once backward has what it needs); 0 when absent.
   */
  lastRecomputeTransient?: number;
  /** Bytes of `saved` that are the previous unit's output, live before its forward starts. */
  input: number;
  /** Bytes its forward leaves for the next unit (that unit's `input`). */
  output: number;
  /** Activation-gradient bytes its backward leaves for the unit before it. */
  gradOut: number;
}

export interface ScheduleInput {
  units: Unit[];
  /** Alive throughout the step: weights, master weights, optimizer states, inputs. */
  persistent: CategoryBytes;
  checkpoint: Checkpoint;
  /** Gradients already alive at forward (gradient accumulation after the first micro-step). */
  gradsPersist: boolean;
  /** Total gradient bytes (for the optimizer step). */
  gradBytes: number;
  /** Optimizer-step temporaries (e.g. torch.optim.Adam foreach: a sqrt(v) copy). */
  optimizerTemp: number;
  /**
   * PyTorch autocast caches weight copies until the autocast region ends, so under
   * checkpointing they are all alive at the end of forward and made again in recompute.
   */
  castCachedUntilForwardEnd: boolean;
}

export interface TimelinePoint {
  label: string;
  phase: Phase;
  live: CategoryBytes;
}

/** A point of opTimeline: the live bytes at a moment of one engine op. */
export interface OpPoint extends TimelinePoint {
  op: string;
  at: OpMoment;
}

export interface Schedule {
  points: TimelinePoint[];
  peak: TimelinePoint & { bytes: number };
  /** Most bytes each category holds at any point. */
  max: CategoryBytes;
  /** Units whose forward runs again during backward. */
  recomputedUnits: number;
}

export const sumBytes = (c: CategoryBytes) => Object.values(c).reduce((a, b) => a + b, 0);

function add(live: CategoryBytes, cat: PlanCategory, bytes: number) {
  live[cat] += bytes;
}

/** √n checkpointing: segments of ⌈√n⌉ units, keeping each segment's input (Chen et al. 2016). */
function segmentsOf(n: number): number[][] {
  const k = Math.max(1, Math.ceil(Math.sqrt(n)));
  const segs: number[][] = [];
  for (let i = 0; i < n; i += k) segs.push(Array.from({ length: Math.min(k, n - i) }, (_, j) => i + j));
  return segs;
}

/**
 * The engine's checkpointing of L blocks (engine/graph/trainer.ts; stepWork walks it too):
 * which blocks keep their input through forward (full: all; √n: the first of each ⌈√L⌉
 * segment, Chen et al. 2016), which drop their saved tensors, and each block's segment.
 */
export function checkpointPlan(checkpoint: Checkpoint, L: number) {
  const dropped = Array.from({ length: L }, () => checkpoint === 'full' || checkpoint === 'sqrt');
  const keepsInput = Array.from({ length: L }, () => checkpoint === 'full');
  const segmentOf = Array.from({ length: L }, (_, l) => [l]);
  if (checkpoint === 'sqrt') {
    const k = Math.max(1, Math.ceil(Math.sqrt(L)));
    for (let s = 0; s < L; s += k) {
      const seg = Array.from({ length: Math.min(k, L - s) }, (_, j) => s + j);
      keepsInput[s] = true;
      for (const j of seg) segmentOf[j] = seg;
    }
  }
  return { dropped, keepsInput, segmentOf };
}

export function schedule(input: ScheduleInput): Schedule {
  const { units, checkpoint } = input;
  const points: TimelinePoint[] = [];
  const live = { ...input.persistent };
  const mark = (label: string, phase: Phase, extra: Partial<CategoryBytes> = {}) => {
    const snap = { ...live };
    for (const [k, v] of Object.entries(extra)) snap[k as PlanCategory] += v ?? 0;
    points.push({ label, phase, live: snap });
  };
  if (input.gradsPersist) add(live, 'gradients', input.gradBytes);

  const body = units.map((u, i) => (u.recomputable ? i : -1)).filter((i) => i >= 0);
  // Which recomputable units keep a checkpoint (their input) instead of their saved tensors.
  const keepsInput = new Set<number>();
  const dropped = new Set<number>();
  if (checkpoint === 'full') body.forEach((i) => (keepsInput.add(i), dropped.add(i)));
  if (checkpoint === 'sqrt') {
    for (const seg of segmentsOf(body.length)) {
      keepsInput.add(body[seg[0]!]!);
      seg.forEach((j) => dropped.add(body[j]!));
    }
  }
  const keptBytes = (u: Unit, i: number) => {
    if (dropped.has(i)) return keepsInput.has(i) ? u.checkpointInput : 0;
    return checkpoint === 'selective' ? u.saved - u.selective : u.saved;
  };

  // Forward.
  mark('start of step', 'forward');
  const cachedCasts: number[] = [];
  units.forEach((u, i) => {
    add(live, 'weights', u.castBytes);
    mark(`forward ${u.name}`, 'forward', { [u.category]: u.saved + u.fwdTransient });
    add(live, u.category, keptBytes(u, i));
    if (dropped.has(i) && input.castCachedUntilForwardEnd) cachedCasts.push(i);
    else if (dropped.has(i)) add(live, 'weights', -u.castBytes);
  });
  mark('end of forward', 'forward');
  // Leaving autocast clears its cache: the copies no saved tensor holds are freed.
  for (const i of cachedCasts) add(live, 'weights', -units[i]!.castBytes);

  // Backward, last unit first; a dropped unit (or segment) is recomputed first.
  let recomputed = 0;
  const restored = new Set<number>();
  for (let i = units.length - 1; i >= 0; i--) {
    const u = units[i]!;
    if (dropped.has(i) && !restored.has(i)) {
      // Recompute this unit, or its whole √n segment, from the kept input.
      const seg = checkpoint === 'sqrt' ? segmentOf(i, body, keepsInput) : [i];
      seg.forEach((j, n) => {
        const v = units[j]!;
        add(live, 'weights', v.castBytes);
        add(live, v.category, v.saved - keptBytes(v, j));
        restored.add(j);
        recomputed++;
        // The engine's units (with ops) name their recompute transients: the forward's for a
        // block whose output the segment uses, lastRecomputeTransient for the last.
        if (v.ops) {
          const transient = n === seg.length - 1 ? (v.ops.lastRecomputeTransient ?? 0) : v.fwdTransient;
          if (transient > 0) mark(`recompute ${v.name}`, 'backward', { [v.category]: transient });
        }
      });
      mark(`recompute ${seg.map((j) => units[j]!.name).join(', ')}`, 'backward');
    } else if (checkpoint === 'selective' && u.selective > 0) {
      add(live, u.category, u.selective);
      recomputed++;
    }
    const gradCat: PlanCategory = u.category === 'logits' ? 'logits' : 'activationGrads';
    mark(`backward ${u.name}`, 'backward', { [gradCat]: u.bwdTransient, gradients: input.gradsPersist ? 0 : u.gradBytes });
    add(live, u.category, -u.saved);
    add(live, 'weights', -u.castBytes);
    if (!input.gradsPersist) add(live, 'gradients', u.gradBytes);
  }
  mark('end of backward', 'backward');
  mark('optimizer step', 'optimizer', { workspace: input.optimizerTemp });

  let peak = points[0]!;
  let peakBytes = sumBytes(peak.live);
  const max = zeroCategories();
  for (const p of points) {
    const b = sumBytes(p.live);
    if (b > peakBytes) {
      peak = p;
      peakBytes = b;
    }
    for (const k of Object.keys(max) as PlanCategory[]) max[k] = Math.max(max[k], p.live[k]);
  }
  return { points, peak: { ...peak, bytes: peakBytes }, max, recomputedUnits: recomputed };
}

/** The recomputable units of the √n segment that contains unit i, in forward order. */
function segmentOf(i: number, body: number[], starts: Set<number>): number[] {
  const pos = body.indexOf(i);
  let a = pos;
  while (a > 0 && !starts.has(body[a]!)) a--;
  let b = pos;
  while (b + 1 < body.length && !starts.has(body[b + 1]!)) b++;
  return body.slice(a, b + 1);
}

/**
 * The step op by op as the engine runs it (framework vramlab: every unit has `ops`): for each
 * ledger op, the most bytes live while it runs ('max', its start included) and the bytes live
 * when it ends ('end'), so an estimate can be laid over the ledger's timeline at the ledger's
 * own x positions. The same units and checkpointing as schedule(), at op granularity: between
 * ops the activation gradient handed from one backward op to the next is live too, and a √n
 * segment is recomputed one block per op. Ends with the optimizer op, which frees the gradients.
 */
export function opTimeline(input: Pick<ScheduleInput, 'units' | 'persistent' | 'checkpoint'>): OpPoint[] {
  const { units, checkpoint } = input;
  const ops = units.map((u) => {
    if (!u.ops) throw new Error(`opTimeline: unit '${u.name}' has no engine ops`);
    return u.ops;
  });
  const body = units.map((u, i) => (u.recomputable ? i : -1)).filter((i) => i >= 0);
  const plan = checkpointPlan(checkpoint, body.length);
  const dropped = new Set(body.filter((_, k) => plan.dropped[k]));
  const keepsInput = new Set(body.filter((_, k) => plan.keepsInput[k]));
  const segmentOf = (i: number) => plan.segmentOf[body.indexOf(i)]!.map((k) => body[k]!);
  const keptBytes = (u: Unit, i: number) => {
    if (dropped.has(i)) return keepsInput.has(i) ? u.checkpointInput : 0;
    return checkpoint === 'selective' ? u.saved - u.selective : u.saved;
  };

  const points: OpPoint[] = [];
  const live = { ...input.persistent };
  // The activation gradient between backward ops (outside `live`: each unit's bwdTransient counts the incoming one).
  let carried = 0;
  const mark = (op: string, at: OpMoment, phase: Phase, extra: Partial<CategoryBytes> = {}) => {
    const snap = { ...live };
    snap.activationGrads += carried;
    for (const [k, v] of Object.entries(extra)) snap[k as PlanCategory] += v ?? 0;
    points.push({ label: op, op, at, phase, live: snap });
  };

  units.forEach((u, i) => {
    const o = ops[i]!;
    // Its input is live already (the previous op's output); it adds the rest of what it saves and its output.
    if (o.forward) mark(o.forward, 'max', 'forward', { [u.category]: u.saved - o.input + u.fwdTransient });
    add(live, u.category, keptBytes(u, i) - o.input + o.output);
    if (o.forward) mark(o.forward, 'end', 'forward');
  });

  let grads = 0;
  const restored = new Set<number>();
  for (let i = units.length - 1; i >= 0; i--) {
    const u = units[i]!;
    const o = ops[i]!;
    if (dropped.has(i) && !restored.has(i)) {
      const seg = segmentOf(i);
      seg.forEach((j, n) => {
        const v = units[j]!;
        const vo = ops[j]!;
        const last = n === seg.length - 1;
        const op = vo.recompute ?? vo.forward ?? v.name;
        // Back to its full saved set: the kept input of the segment's first block, else the previous op's output.
        const restore = v.saved - keptBytes(v, j) - (n === 0 ? 0 : vo.input);
        // The segment's last block stops once backward has what it needs: no output.
        mark(op, 'max', 'backward', { [v.category]: restore + (last ? (vo.lastRecomputeTransient ?? 0) : v.fwdTransient) });
        add(live, v.category, restore + (last ? 0 : vo.output));
        mark(op, 'end', 'backward');
        restored.add(j);
      });
    } else if (checkpoint === 'selective' && u.selective > 0) {
      const op = o.selective ?? u.name;
      mark(op, 'max', 'backward', { [u.category]: u.selective });
      add(live, u.category, u.selective);
      mark(op, 'end', 'backward');
    }
    // bwdTransient includes the incoming gradient.
    carried = 0;
    mark(o.backward, 'max', 'backward', { activationGrads: u.bwdTransient, gradients: u.gradBytes });
    add(live, u.category, -u.saved);
    add(live, 'gradients', u.gradBytes);
    grads += u.gradBytes;
    carried = o.gradOut;
    mark(o.backward, 'end', 'backward');
  }
  mark(ENGINE_OP.optimizer, 'max', 'optimizer');
  add(live, 'gradients', -grads);
  mark(ENGINE_OP.optimizer, 'end', 'optimizer');
  return points;
}
