/**
 * Live bytes over one training step, unit by unit: forward keeps what backward needs,
 * backward frees it as gradients appear, the optimizer step adds its temporaries. The peak
 * is the largest live total at any point, with what was alive then. Works for any model
 * that is a chain of units (transformer layers, ResNet blocks, MLP blocks).
 */
import type { Checkpoint } from '../protocol/config.ts';
import { type CategoryBytes, type Phase, type PlanCategory, zeroCategories } from '../protocol/plan.ts';

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
      for (const j of seg) {
        const v = units[j]!;
        add(live, 'weights', v.castBytes);
        add(live, v.category, v.saved - keptBytes(v, j));
        restored.add(j);
        recomputed++;
      }
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
