/**
 * makeItFit(config, capacity): what to change so a step fits a GPU of a given size. Every
 * candidate is a patch of the plan configuration, re-estimated with `estimate`, and "fits" is
 * the fit list's own rule (gpus.ts `fitsIn`): peak + CUDA context + allocator overhead (the
 * Plan's totalBytes) at most the capacity. Nothing here has its own memory model.
 *
 * Cost order (cheapest first), one lever per rank:
 *   1. attention  fused (FlashAttention): no s×s scores; recomputes QKᵀ in backward
 *   2. optimizer  8-bit Adam, then Adafactor: no extra FLOPs, other optimizer states
 *   3. checkpoint by the extra FLOPs of the recomputation (selective < √n = full ≈ +1 forward),
 *                 ties by the lower total
 *   4. precision  amp (training), then pure 16-bit; in inference 16-bit, int8, int4
 *   5. micro-batch with gradient accumulation: the same FLOPs in more, smaller steps
 *   6. lora       LoRA, then QLoRA: changes what trains
 *   7. zero       ZeRO over more GPUs: needs hardware (fewest GPUs, then the lowest stage)
 *   8. batch      inference only: fewer sequences at once
 *   9. seq        a shorter sequence: changes the task
 * Inference has no ZeRO or GPU lever: the planner shards nothing there.
 * Single changes come first. Only when none fits are changes combined: every set of two or more
 * levers is tried with each lever at its strongest setting; a set that fits is made cheaper
 * lever by lever, from the most expensive down, to the cheapest setting that still fits; sets
 * that contain a smaller fitting set are skipped. Combinations sort by their most expensive
 * lever, then by the number of changes, the extra FLOPs, the GPUs and the total.
 */
import { ConfigError, LIMITS, parsePlanConfig, type PlanConfig } from '../protocol/config.ts';
import { EstimateError } from './errors.ts';
import { stepFlops } from './flops.ts';
import { fitsIn } from './gpus.ts';
import { estimate } from './plan.ts';
import { resolveModel } from './presets.ts';
import type { ModelSpec } from './specs.ts';

/** The fields a suggestion changes; apply it as `{ ...config, ...patch }`. */
export type PlanPatch = Partial<
  Pick<PlanConfig, 'attention' | 'optimizer' | 'checkpoint' | 'precision' | 'batch' | 'microBatch' | 'seq' | 'loraRank' | 'qlora' | 'zero' | 'gpus'>
>;

/** The levers in cost order: the rank of a suggestion is its lever's index here. */
export const FIT_LEVERS = ['attention', 'optimizer', 'checkpoint', 'precision', 'micro-batch', 'lora', 'zero', 'batch', 'seq'] as const;
export type FitLever = (typeof FIT_LEVERS)[number];

/** What a change costs: compute (extra FLOPs), hardware (GPUs), the result (quality) or the data (tokens). */
export const COST_KINDS = ['flops', 'gpus', 'quality', 'tokens'] as const;
export type CostKind = (typeof COST_KINDS)[number];

const LEVER_COST: Record<FitLever, CostKind> = {
  attention: 'flops',
  optimizer: 'quality',
  checkpoint: 'flops',
  precision: 'quality',
  'micro-batch': 'flops',
  lora: 'quality',
  zero: 'gpus',
  batch: 'tokens',
  seq: 'tokens',
};

export interface FitCost {
  /** The kind of cost of the most expensive lever moved. */
  kind: CostKind;
  /** Every kind of cost the change carries, one per kind, cheapest lever first. */
  kinds: CostKind[];
  /** FLOPs of a step after the change, relative to now, minus 1 (0.33 = a third more; negative = less). */
  extraFlopsFraction: number;
  /** GPUs the changed configuration runs on. */
  gpus: number;
  note: string;
}

export interface FitSuggestion {
  /** Short label, e.g. "checkpoint full" or "checkpoint full + precision amp-bf16". */
  change: string;
  /** The levers it moves, cheapest first. */
  levers: FitLever[];
  patch: PlanPatch;
  /** Plan.peak.bytes of the changed configuration. */
  peakBytes: number;
  /** Plan.totalBytes (peak + context + allocator): what is compared with the capacity. */
  totalBytes: number;
  headroomBytes: number;
  fits: true;
  cost: FitCost;
}

/** The largest value of one size that fits with everything else as it is. */
export interface LargestFit {
  value: number;
  patch: PlanPatch;
  peakBytes: number;
  totalBytes: number;
  /** The search's upper bound (the schema's limit, or the model's learned positions). */
  limit: number;
  /** `value` is the bound itself: larger may fit too, but is not allowed. */
  atLimit: boolean;
}

export interface FitResult {
  capacityBytes: number;
  current: { peakBytes: number; totalBytes: number; fits: boolean; headroomBytes: number };
  /** Cheapest first; empty when the configuration fits already or nothing does. */
  suggestions: FitSuggestion[];
  /** True when no single change fits and the suggestions are combinations. */
  combined: boolean;
  /**
   * Per-forward batch (the micro-batch under gradient accumulation, whose step count stays);
   * null when even 1 does not fit.
   */
  largestBatch: LargestFit | null;
  /** Tokens per sample; null when even 1 does not fit; absent for models without a sequence. */
  largestSeq?: LargestFit | null;
  /** The levers that apply to this model and mode, in cost order. */
  levers: FitLever[];
  fitsNowhere: boolean;
  /** One sentence: the verdict, and when nothing fits, what was tried and the least it needed. */
  message: string;
  /** Configurations estimated. */
  evaluated: number;
}

export interface FitOptions {
  /** LoRA rank suggested when none is set. */
  loraRank?: number;
  /** Most GPUs a ZeRO suggestion may use (tried: 2, 4, 8, … up to it). */
  maxGpus?: number;
  /** Most combinations listed when no single change fits. */
  maxCombinations?: number;
}

interface Choice {
  label: string;
  patch: PlanPatch;
  note: string;
}

/**
 * One lever's settings, cheapest first. `monotone`: each setting needs no more memory than the
 * one before (a smaller micro-batch, batch or sequence), so the cheapest that fits is found by
 * bisection and the strongest is the last.
 */
interface Lever {
  id: FitLever;
  count: number;
  at(i: number): Choice;
  monotone: boolean;
  /** List every fitting setting as a single suggestion (else only the cheapest). */
  listAll: boolean;
}

interface Evaluated {
  peakBytes: number;
  totalBytes: number;
  fits: boolean;
}

const GiB = 2 ** 30;
const gib = (b: number) => `${(b / GiB).toFixed(2)} GiB`;

const LEVER_NAMES: Record<FitLever, string> = {
  attention: 'fused attention',
  optimizer: '8-bit and factored optimizers',
  checkpoint: 'activation checkpointing',
  precision: 'lower precision',
  'micro-batch': 'gradient accumulation',
  lora: 'LoRA and QLoRA',
  zero: 'ZeRO sharding',
  batch: 'a smaller batch',
  seq: 'a shorter sequence',
};

export function makeItFit(input: PlanConfig, capacityBytes: number, options: FitOptions = {}): FitResult {
  if (!Number.isFinite(capacityBytes) || capacityBytes <= 0) {
    throw new EstimateError(`the capacity to fit must be a positive number of bytes, got ${capacityBytes}`);
  }
  const base = parsePlanConfig(input);
  const spec = resolveModel(base);
  const loraRank = options.loraRank ?? 16;
  const maxGpus = options.maxGpus ?? 64;
  const maxCombinations = options.maxCombinations ?? 5;

  const cache = new Map<string, Evaluated | null>();
  const evaluate = (patch: PlanPatch): Evaluated | null => {
    const key = JSON.stringify(Object.entries(patch).sort(([a], [b]) => a.localeCompare(b)));
    if (cache.has(key)) return cache.get(key)!;
    let r: Evaluated | null;
    try {
      const plan = estimate({ ...base, ...patch });
      r = { peakBytes: plan.peak.bytes, totalBytes: plan.totalBytes, fits: fitsIn(plan.totalBytes, capacityBytes) };
    } catch (err) {
      // A change this model or framework does not take (e.g. the engine runs no LoRA) is no option.
      if (!(err instanceof EstimateError || err instanceof ConfigError)) throw err;
      r = null;
    }
    cache.set(key, r);
    return r;
  };
  const fits = (patch: PlanPatch) => evaluate(patch)?.fits === true;

  let now = evaluate({});
  if (now === null) {
    const plan = estimate(base); // throws why this configuration has no estimate
    now = { peakBytes: plan.peak.bytes, totalBytes: plan.totalBytes, fits: false };
  }
  const current = { peakBytes: now.peakBytes, totalBytes: now.totalBytes, fits: fitsIn(now.totalBytes, capacityBytes), headroomBytes: capacityBytes - now.totalBytes };

  const baseFlops = stepFlops(spec, base).total;
  const costOf = (levers: FitLever[], patch: PlanPatch, notes: string[]): FitCost => {
    const cfg = { ...base, ...patch };
    const flops = stepFlops(spec, cfg).total;
    return {
      kind: LEVER_COST[levers.at(-1)!],
      kinds: [...new Set(levers.map((l) => LEVER_COST[l]))],
      extraFlopsFraction: baseFlops > 0 ? flops / baseFlops - 1 : 0,
      gpus: cfg.gpus,
      note: notes.join('; '),
    };
  };
  const suggestion = (levers: FitLever[], choices: Choice[]): FitSuggestion => {
    const patch = Object.assign({}, ...choices.map((c) => c.patch)) as PlanPatch;
    const e = evaluate(patch)!;
    return {
      change: choices.map((c) => c.label).join(' + '),
      levers,
      patch,
      peakBytes: e.peakBytes,
      totalBytes: e.totalBytes,
      headroomBytes: capacityBytes - e.totalBytes,
      fits: true,
      cost: costOf(levers, patch, choices.map((c) => c.note)),
    };
  };

  const batchSearch = batchLever(base);
  const seqCap = spec.kind === 'transformer' ? (spec.maxPositions > 0 ? spec.maxPositions : LIMITS.seq) : 0;
  const largestBatch = largest(evaluate, batchSearch.limit, batchSearch.patch);
  const largestSeq = spec.kind === 'transformer' ? largest(evaluate, seqCap, (s) => ({ seq: s })) : undefined;

  const levers = leversFor(base, spec, { loraRank, maxGpus }).filter((l) => l.count > 0);
  const leverIds = levers.map((l) => l.id);
  const result = (suggestions: FitSuggestion[], combined: boolean, fitsNowhere: boolean, message: string): FitResult => ({
    capacityBytes,
    current,
    suggestions,
    combined,
    largestBatch,
    ...(largestSeq === undefined ? {} : { largestSeq }),
    levers: leverIds,
    fitsNowhere,
    message,
    evaluated: cache.size,
  });
  if (current.fits) return result([], false, false, `Fits: ${gib(current.totalBytes)} of ${gib(capacityBytes)}, ${gib(current.headroomBytes)} to spare.`);

  // Single changes.
  const singles: { s: FitSuggestion; rank: number; order: number }[] = [];
  for (const lever of levers) {
    const rank = FIT_LEVERS.indexOf(lever.id);
    if (lever.monotone) {
      const i = firstFitting(lever, (c) => fits(c.patch));
      if (i !== null) singles.push({ s: suggestion([lever.id], [lever.at(i)]), rank, order: i });
      continue;
    }
    for (let i = 0; i < lever.count; i++) {
      if (!fits(lever.at(i).patch)) continue;
      singles.push({ s: suggestion([lever.id], [lever.at(i)]), rank, order: i });
      if (!lever.listAll) break;
    }
  }
  if (singles.length > 0) {
    singles.sort(
      (a, b) =>
        a.rank - b.rank ||
        // Checkpointing modes by their recomputation, then by what they leave.
        (a.s.levers[0] === 'checkpoint' ? a.s.cost.extraFlopsFraction - b.s.cost.extraFlopsFraction || a.s.totalBytes - b.s.totalBytes : 0) ||
        a.order - b.order,
    );
    const n = singles.length;
    return result(
      singles.map((x) => x.s),
      false,
      false,
      `Needs ${gib(current.totalBytes)}, ${gib(-current.headroomBytes)} over ${gib(capacityBytes)}; ${n === 1 ? 'one change fits on its own' : `${n} changes fit, each on its own`}.`,
    );
  }

  // Combinations: each lever at its strongest setting first.
  const strongest = new Map<FitLever, number>();
  let least = { totalBytes: current.totalBytes, label: 'as it is' };
  for (const lever of levers) {
    let best = -1;
    let bestBytes = Infinity;
    const candidates = lever.monotone ? [lever.count - 1] : Array.from({ length: lever.count }, (_, i) => i);
    for (const i of candidates) {
      const e = evaluate(lever.at(i).patch);
      if (e && e.totalBytes < bestBytes) [best, bestBytes] = [i, e.totalBytes];
    }
    if (best < 0) continue;
    strongest.set(lever.id, best);
    if (bestBytes < least.totalBytes) least = { totalBytes: bestBytes, label: lever.at(best).label };
  }
  const usable = levers.filter((l) => strongest.has(l.id));
  const found: { set: number; s: FitSuggestion }[] = [];
  for (let size = 2; size <= usable.length; size++) {
    for (const set of subsetsOfSize(usable.length, size)) {
      if (found.some((f) => (f.set & set) === f.set)) continue;
      const members = usable.filter((_, i) => set & (1 << i));
      const picks = new Map(members.map((l) => [l.id, strongest.get(l.id)!]));
      const patchOf = () => Object.assign({}, ...members.map((l) => l.at(picks.get(l.id)!).patch)) as PlanPatch;
      const e = evaluate(patchOf());
      if (e === null) continue;
      if (e.totalBytes < least.totalBytes) least = { totalBytes: e.totalBytes, label: members.map((l) => l.at(picks.get(l.id)!).label).join(' + ') };
      if (!e.fits) continue;
      // Cheapen from the most expensive lever down, keeping the set fitting.
      for (const lever of [...members].reverse()) {
        const others = () => Object.assign({}, ...members.filter((m) => m !== lever).map((m) => m.at(picks.get(m.id)!).patch)) as PlanPatch;
        const rest = others();
        const test = (c: Choice) => fits({ ...rest, ...c.patch });
        const i = lever.monotone ? firstFitting(lever, test) : firstIndex(lever, test);
        // The current pick fits, so there is always one; it is at most the current index.
        if (i !== null) picks.set(lever.id, i);
      }
      const choices = members.map((l) => l.at(picks.get(l.id)!));
      found.push({ set, s: suggestion(members.map((l) => l.id), choices) });
    }
  }
  if (found.length === 0) {
    const tried = usable.map((l) => LEVER_NAMES[l.id]);
    const what = tried.length > 0 ? `tried ${joinWords(tried)}, alone${usable.length > 1 ? ' and together' : ''}${leverIds.includes('zero') ? ` (up to ${maxGpus} GPUs)` : ''}` : 'no change applies to this model';
    return result(
      [],
      false,
      true,
      `Fits nowhere in ${gib(capacityBytes)}: ${what}; the least needed was ${gib(least.totalBytes)} (${least.label}).`,
    );
  }
  const rankOf = (s: FitSuggestion) => FIT_LEVERS.indexOf(s.levers.at(-1)!);
  found.sort(
    (a, b) =>
      rankOf(a.s) - rankOf(b.s) ||
      a.s.levers.length - b.s.levers.length ||
      a.s.cost.extraFlopsFraction - b.s.cost.extraFlopsFraction ||
      a.s.cost.gpus - b.s.cost.gpus ||
      a.s.totalBytes - b.s.totalBytes,
  );
  const combos = found.slice(0, maxCombinations).map((f) => f.s);
  return result(
    combos,
    true,
    false,
    `Needs ${gib(current.totalBytes)}, ${gib(-current.headroomBytes)} over ${gib(capacityBytes)}; no single change fits, ${found.length === 1 ? 'one combination does' : `${found.length} combinations do`}.`,
  );
}

/** The per-forward batch m, with the accumulation steps k kept: batch m·k, micro-batch m. */
function batchLever(base: PlanConfig): { limit: number; patch: (m: number) => PlanPatch } {
  // A pipeline's micro-batch is batch ÷ microbatches: keep the micro-batches, grow each.
  const pp = base.parallel?.pp ?? 1;
  if (pp > 1 && base.microBatch === undefined) {
    const m = base.parallel?.microbatches ?? pp;
    return { limit: Math.floor(LIMITS.batch / m), patch: (v) => ({ batch: v * m }) };
  }
  const k = base.batch / (base.microBatch ?? base.batch);
  return {
    limit: Math.floor(LIMITS.batch / k),
    patch: (m) => (base.microBatch === undefined ? { batch: m } : { batch: m * k, microBatch: m }),
  };
}

/** Bisection for the largest value in 1…limit that fits; sizes only grow the estimate. */
function largest(evaluate: (p: PlanPatch) => Evaluated | null, limit: number, patch: (v: number) => PlanPatch): LargestFit | null {
  const ok = (v: number) => evaluate(patch(v))?.fits === true;
  if (limit < 1 || !ok(1)) return null;
  let lo = 1;
  let hi = limit;
  if (!ok(hi)) {
    // Gallop up first: most answers sit far below the limit, and small values estimate fast.
    let step = 2;
    while (step < hi && ok(step)) [lo, step] = [step, step * 2];
    hi = Math.min(step, hi);
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (ok(mid)) lo = mid;
      else hi = mid;
    }
  } else {
    lo = hi;
  }
  const e = evaluate(patch(lo))!;
  return { value: lo, patch: patch(lo), peakBytes: e.peakBytes, totalBytes: e.totalBytes, limit, atLimit: lo === limit };
}

/** The first setting of a monotone lever that passes `test`, by bisection; null when none does. */
function firstFitting(lever: Lever, test: (c: Choice) => boolean): number | null {
  if (!test(lever.at(lever.count - 1))) return null;
  let lo = -1;
  let hi = lever.count - 1;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (test(lever.at(mid))) hi = mid;
    else lo = mid;
  }
  return hi;
}

function firstIndex(lever: Lever, test: (c: Choice) => boolean): number | null {
  for (let i = 0; i < lever.count; i++) if (test(lever.at(i))) return i;
  return null;
}

/** Bit sets of `size` members out of n, in lexicographic order. */
function* subsetsOfSize(n: number, size: number): Generator<number> {
  const go = function* (start: number, left: number, set: number): Generator<number> {
    if (left === 0) {
      yield set;
      return;
    }
    for (let i = start; i <= n - left; i++) yield* go(i + 1, left - 1, set | (1 << i));
  };
  yield* go(0, size, 0);
}

function joinWords(words: string[]): string {
  return words.length <= 1 ? words.join('') : `${words.slice(0, -1).join(', ')} and ${words.at(-1)}`;
}

const list = (id: FitLever, choices: Choice[], listAll = true): Lever => ({ id, count: choices.length, at: (i) => choices[i]!, monotone: false, listAll });

/** A size lever: values below `from` down to 1 (or the given list), largest first. */
function sizeLever(id: FitLever, values: number | number[], choice: (v: number) => Choice): Lever {
  const count = typeof values === 'number' ? values - 1 : values.length;
  const value = (i: number) => (typeof values === 'number' ? values - 1 - i : values[i]!);
  return { id, count: Math.max(0, count), at: (i) => choice(value(i)), monotone: true, listAll: false };
}

/** The levers that apply to this model and mode, in cost order, each with its settings. */
function leversFor(c: PlanConfig, spec: ModelSpec, o: { loraRank: number; maxGpus: number }): Lever[] {
  const transformer = spec.kind === 'transformer';
  const train = c.mode === 'train';
  const out: Lever[] = [];
  if (transformer && c.attention === 'eager') {
    out.push(list('attention', [{ label: 'attention fused', patch: { attention: 'fused' }, note: 'FlashAttention keeps row statistics instead of the s×s scores and recomputes QKᵀ in backward; usually faster than eager all the same' }]));
  }
  if (train) {
    const opt: Choice[] = [];
    if (c.optimizer === 'adam' || c.optimizer === 'adamw') opt.push({ label: 'optimizer adam-8bit', patch: { optimizer: 'adam-8bit' }, note: 'block-wise 8-bit Adam states (bitsandbytes): no extra FLOPs, close to Adam in results' });
    if (c.optimizer === 'adam' || c.optimizer === 'adamw' || c.optimizer === 'adam-8bit') {
      opt.push({ label: 'optimizer adafactor', patch: { optimizer: 'adafactor' }, note: 'a factored second moment and no first moment: no extra FLOPs, but another optimizer to tune' });
    }
    out.push(list('optimizer', opt));
    const modes: Choice[] = [];
    if (transformer && c.checkpoint !== 'selective') modes.push({ label: 'checkpoint selective', patch: { checkpoint: 'selective' }, note: 'recomputes the attention core in backward' });
    if (c.checkpoint !== 'sqrt') modes.push({ label: 'checkpoint sqrt', patch: { checkpoint: 'sqrt' }, note: 'keeps every ⌈√n⌉-th layer input and recomputes each segment once: one more forward of the layers' });
    if (c.checkpoint !== 'full') modes.push({ label: 'checkpoint full', patch: { checkpoint: 'full' }, note: "keeps each layer's input and recomputes each layer once: one more forward of the layers" });
    out.push(list('checkpoint', modes));
    const prec: Choice[] = [];
    const half = c.precision === 'amp-fp16' ? 'fp16' : 'bf16';
    if (c.precision === 'fp32') prec.push({ label: 'precision amp-bf16', patch: { precision: 'amp-bf16' }, note: 'autocast: 16-bit activations and matmuls over fp32 master weights; as fast or faster on tensor cores' });
    if (c.precision === 'fp32' || c.precision === 'amp-fp16' || c.precision === 'amp-bf16') {
      prec.push({ label: `precision ${half}`, patch: { precision: half }, note: 'pure 16-bit weights, gradients and states: no fp32 master copy, so small updates can be lost' });
    }
    out.push(list('precision', prec));
    const micro = c.microBatch ?? c.batch;
    const divisors = Array.from({ length: micro - 1 }, (_, i) => micro - 1 - i).filter((d) => c.batch % d === 0);
    out.push(
      sizeLever('micro-batch', divisors, (m) => ({
        label: `micro-batch ${m} × ${c.batch / m} steps`,
        patch: { microBatch: m },
        note: `${c.batch / m} micro-batches of ${m} per optimizer step: the same FLOPs one after another; smaller matmuls use the GPU less well`,
      })),
    );
    if (transformer) {
      const lora: Choice[] = [];
      const r = c.loraRank > 0 ? c.loraRank : o.loraRank;
      if (c.loraRank === 0) lora.push({ label: `LoRA r${r}`, patch: { loraRank: r }, note: `trains rank-${r} adapters on the attention and MLP projections; the base stays frozen` });
      if (!c.qlora) lora.push({ label: `QLoRA r${r}`, patch: { loraRank: r, qlora: true }, note: 'LoRA over a 4-bit NF4 base: dequantizing per op costs some speed and a little quality' });
      out.push(list('lora', lora));
    }
    const zero: Choice[] = [];
    for (let n = 2; n <= o.maxGpus; n *= 2) {
      if (n < c.gpus) continue;
      for (const stage of [1, 2, 3] as const) {
        if (stage < c.zero || (n === c.gpus && stage === c.zero)) continue;
        const what = stage === 1 ? 'optimizer states' : stage === 2 ? 'optimizer states and gradients' : 'optimizer states, gradients and weights';
        zero.push({ label: `ZeRO-${stage} on ${n} GPUs`, patch: { zero: stage, gpus: n }, note: `shards ${what} over ${n} GPUs; adds communication every step` });
      }
    }
    out.push(list('zero', zero, false));
  } else {
    const order = ['fp32', 'amp-fp16', 'amp-bf16', 'bf16', 'int8', 'int4'] as const;
    const notes: Record<string, string> = {
      bf16: '16-bit weights and KV cache: next to no quality loss for inference',
      int8: '8-bit weights (LLM.int8): a small quality loss',
      int4: '4-bit NF4 weights: some quality loss',
    };
    const from = order.indexOf(c.precision === 'fp16' ? 'bf16' : c.precision === 'fp8' ? 'int8' : c.precision);
    const prec = (['bf16', 'int8', 'int4'] as const).filter((p) => order.indexOf(p) > from).map((p) => ({ label: `precision ${p}`, patch: { precision: p }, note: notes[p]! }));
    out.push(list('precision', prec));
    const { patch } = batchLever(c);
    const m = c.microBatch ?? c.batch;
    out.push(sizeLever('batch', m, (v) => ({ label: `batch ${v}`, patch: patch(v), note: `${v} sequences per forward instead of ${m}: less throughput` })));
  }
  if (transformer) {
    out.push(sizeLever('seq', c.seq, (s) => ({ label: `seq ${s}`, patch: { seq: s }, note: `${s} tokens per sample instead of ${c.seq}: less context` })));
  }
  return out;
}

/**
 * "+26.5% FLOPs", "16 GPUs", "quality, −32.8% FLOPs": a suggestion's cost in a few words, one
 * part per kind it carries (the FLOPs also when they change without being the cost), for the
 * page and the CLI.
 */
export function describeCost(cost: FitCost): string {
  const pct = Math.round(cost.extraFlopsFraction * 1000) / 10;
  const flops = pct === 0 ? 'same FLOPs' : `${pct > 0 ? '+' : '−'}${Math.abs(pct).toFixed(1)}% FLOPs`;
  const text: Record<CostKind, string> = { flops, gpus: `${cost.gpus} GPUs`, quality: 'quality', tokens: 'fewer tokens' };
  const parts = cost.kinds.map((k) => text[k]);
  if (!cost.kinds.includes('flops') && pct !== 0) parts.push(flops);
  return parts.join(', ');
}
