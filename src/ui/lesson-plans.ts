/**
 * The lab's one-click lessons: what each runs, how big, and what it proves. Pure (no DOM, no
 * GPU), so the choices are unit-tested.
 *
 * A lesson is a claim the page proves on the device in front of the viewer (DESIGN.md,
 * "Lessons that teach"): the memory it is about dominates what is shown, the variants differ
 * in one setting only, and the shapes come from the adapter's limits and its measured speed so
 * the lesson takes about 20 s. Scaling grows the batch (never the depth: checkpointing keeps
 * its 6 blocks, so √n differs from full); variants of one lesson share their shapes wherever
 * the lesson allows, so their kernels compile once.
 */
import { DEFAULT_CNN_RUN, isCnnRun, type CnnRunConfig } from '../protocol/cnn.ts';
import type { EngineRunConfig, EngineRunReport } from '../protocol/engine-api.ts';
import type { PlanCategory } from '../protocol/plan.ts';
import { countedFlops } from '../protocol/csv.ts';

import { DEFAULT_RUN, GPT_NANO_RUN, type GptRunConfig, type LlamaRunConfig, type RunConfig } from '../protocol/run.ts';
import { DEFAULT_PLAN } from '../protocol/config.ts';
import { resolveModel } from '../estimate/presets.ts';
import type { TransformerSpec } from '../estimate/specs.ts';
import { llamaRunOf } from '../estimate/vramlab-llama.ts';
import { predictRunMs, shapeKey, type SpeedModel, type WorkPredictor } from './device-speed.ts';
import { checkFit, describeExcess, scaleGpt, type DeviceBudget } from './scale.ts';
import { estimateRun } from './run-estimate.ts';

/** The engine's counted FLOPs of a step (src/protocol/csv.ts), for the lesson views. */
export { countedFlops };

export const LESSON_IDS = ['checkpointing', 'precision', 'attention', 'growth', 'lora', 'cnn'] as const;
export type LessonId = (typeof LESSON_IDS)[number];

/** One run of a lesson. */
export interface LessonVariant {
  /** Unique in the lesson and safe in a test id: "none", "amp-bf16", "b4-s32". */
  id: string;
  /** How the chart and table name it: "√n", "amp-bf16", "batch 4". */
  label: string;
  config: EngineRunConfig;
  /** For the growth lesson: which line the point is on, and its x. */
  series?: 'batch' | 'seq';
  x?: number;
}

export interface LessonDef {
  id: LessonId;
  title: string;
  /** The question on the lesson's card. */
  question: string;
  /** The memory category the lesson is about: it must move by 30 % or more (the table's column). */
  quantity: PlanCategory;
  /**
   * The categories its claim is about, which together must dominate the first variant's peak;
   * [quantity] when absent (LoRA: gradients and optimizer states go together).
   */
  taught?: PlanCategory[];
  /** What the multiplier scales, as the page says it: 'batch' when absent, 'blocks' for LoRA. */
  grows?: string;
  /** The variants at a batch multiplier m (a power of two, 1 = the smallest shapes). */
  variants(m: number, steps: number): LessonVariant[];
}

/** A 6-block GPT whose activations are three quarters of its peak (eager attention, seq 128). */
const CHECKPOINT_GPT: GptRunConfig = {
  ...GPT_NANO_RUN,
  vocab: 32,
  dModel: 32,
  heads: 4,
  layers: 6,
  seq: 128,
  batch: 1,
  attention: 'eager',
  precision: 'fp32',
  optimizer: 'adam',
  checkpoint: 'none',
  seed: 1,
};

/** The same widths with 2 blocks: the attention and growth lessons (same kernels, shorter steps). */
const SHALLOW_GPT: GptRunConfig = { ...CHECKPOINT_GPT, layers: 2 };

/** How far the LoRA lesson scales llama-3.2-1b down (ui/scale.ts), and the blocks it keeps. */
export const LORA_LLAMA_SCALE = { model: 'llama-3.2-1b', factor: 16, layers: 2, vocab: 256 } as const;

/**
 * The Llama the LoRA lesson fine-tunes three ways: llama-3.2-1b (d 2048, 32 heads over 8 kv,
 * SwiGLU 8192, 16 blocks, tied head) scaled ×16 by scale.ts as a run panel scales it, keeping
 * 2 blocks: d 128, 32 heads of 4 over 8 kv, SwiGLU 512. Its vocabulary is cut to 256, so the
 * blocks LoRA adapts hold most parameters, not the frozen embedding; wide for its tokens
 * (batch 1, seq 16), so full fine-tuning's gradients and Adam states are most of its peak,
 * under amp-bf16 so QLoRA's NF4 base stands beside 16-bit weights. LoRA rank 8 on Wqkv, Wo,
 * Wgu, Wd. A faster device gets more blocks (the multiplier), not a larger batch, which would
 * make it a lesson on activations.
 */
export const LORA_LLAMA: LlamaRunConfig = (() => {
  const { model, factor, layers, vocab } = LORA_LLAMA_SCALE;
  const step = { seq: 16, batch: 1, attention: 'fused', precision: 'amp-bf16', optimizer: 'adam', checkpoint: 'none', steps: 1, seed: 1 } as const;
  const scaled = scaleGpt(llamaRunOf(resolveModel({ ...DEFAULT_PLAN, model }) as TransformerSpec, step), factor, layers);
  return { ...scaled, vocab, seq: step.seq, batch: step.batch };
})();
const LORA_RANK = 8;

/**
 * The CNN lesson's cnn-cifar, a ResNet-14 (2 basic blocks per stage) of width 8 at batch 4:
 * activations are three quarters of its peak (32×32 feature maps; the parameters are few), and
 * its 7 recomputable units make full checkpointing a real cut. A faster device gets a larger batch.
 */
const LESSON_CNN: CnnRunConfig = { ...DEFAULT_CNN_RUN, model: 'cnn-cifar', blocks: 2, width: 8, batch: 4, precision: 'fp32', optimizer: 'adam', checkpoint: 'none', seed: 1 };

/** An mlp whose activations dominate (256 rows through 4 blocks of width 32 → 256 → 32). */
const PRECISION_MLP: RunConfig = { ...DEFAULT_RUN, d: 32, hidden: 256, layers: 4, batch: 256, activation: 'gelu', optimizer: 'adam', checkpoint: 'none', seed: 1 };

const CHECKPOINT_LABELS = { none: 'none', selective: 'selective', sqrt: '√n', full: 'full' } as const;

export const LESSONS: Record<LessonId, LessonDef> = {
  checkpointing: {
    id: 'checkpointing',
    title: 'Checkpointing: none / selective / √n / full',
    question: 'How much activation memory does recomputation save, and what does it cost in compute?',
    quantity: 'activations',
    variants: (m, steps) =>
      (['none', 'selective', 'sqrt', 'full'] as const).map((checkpoint) => ({
        id: checkpoint,
        label: CHECKPOINT_LABELS[checkpoint],
        config: { ...CHECKPOINT_GPT, batch: CHECKPOINT_GPT.batch * m, checkpoint, steps },
      })),
  },
  precision: {
    id: 'precision',
    title: 'Mixed precision: what gets smaller',
    question: 'Which memory does mixed precision halve, and which does it keep (or add)?',
    quantity: 'activations',
    variants: (m, steps) =>
      (['fp32', 'amp-bf16', 'amp-fp16'] as const).map((precision) => ({
        id: precision,
        label: precision,
        config: { ...PRECISION_MLP, batch: PRECISION_MLP.batch * m, precision, steps },
      })),
  },
  attention: {
    id: 'attention',
    title: 'Attention: eager s² vs fused',
    question: 'What does eager attention keep for backward that a fused kernel does not?',
    quantity: 'activations',
    variants: (m, steps) =>
      (['eager', 'fused'] as const).map((attention) => ({
        id: attention,
        label: attention === 'eager' ? 'eager (keeps b·a·s² probabilities)' : 'fused (keeps a logsumexp per row)',
        config: { ...SHALLOW_GPT, batch: SHALLOW_GPT.batch * m, attention, steps },
      })),
  },
  lora: {
    id: 'lora',
    title: "LoRA and QLoRA: what they save and what they don't",
    question: 'What does training small adapters over a frozen base save, and what does it keep?',
    quantity: 'optimizer',
    taught: ['gradients', 'optimizer'],
    grows: 'blocks',
    variants: (m, steps) => {
      // Grows in depth, not batch: more parameters keep the lesson about what trains.
      const base = { ...LORA_LLAMA, layers: LORA_LLAMA.layers * m, steps };
      return [
        { id: 'full', label: 'full fine-tune', config: base },
        { id: 'lora', label: `LoRA r${LORA_RANK}`, config: { ...base, loraRank: LORA_RANK } },
        { id: 'qlora', label: `QLoRA r${LORA_RANK} (NF4 base)`, config: { ...base, loraRank: LORA_RANK, qlora: true } },
      ];
    },
  },
  cnn: {
    id: 'cnn',
    title: 'A CNN: where the memory goes',
    question: 'In a small ResNet, what takes the memory: the weights or the feature maps? And what does checkpointing give back?',
    quantity: 'activations',
    variants: (m, steps) =>
      (['none', 'full'] as const).map((checkpoint) => ({
        id: checkpoint,
        label: checkpoint === 'none' ? 'no checkpointing' : 'full checkpointing',
        config: { ...LESSON_CNN, batch: LESSON_CNN.batch * m, checkpoint, steps },
      })),
  },
  growth: {
    id: 'growth',
    title: 'Batch and sequence growth',
    question: 'How do activations grow with the batch, and with the sequence length?',
    quantity: 'activations',
    variants: (m, steps) => {
      // Rows (batch × seq) 128, 256 and 512 on both lines, so each row count compiles once.
      const base = { ...SHALLOW_GPT, steps };
      const out: LessonVariant[] = [];
      for (const b of [2, 4, 8]) out.push({ id: `b${b * m}-s64`, label: `batch ${b * m}, seq 64`, series: 'batch', x: b * m, config: { ...base, batch: b * m, seq: 64 } });
      for (const s of [64, 128, 256]) out.push({ id: `b${2 * m}-s${s}`, label: `batch ${2 * m}, seq ${s}`, series: 'seq', x: s, config: { ...base, batch: 2 * m, seq: s } });
      // batch 2m, seq 64 is on both lines: run it once.
      return out.filter((v, i) => out.findIndex((w) => w.id === v.id) === i);
    },
  },
};

/** Steps per run: one that compiles, then enough for a median with a spread. */
export function lessonSteps(software: boolean): number {
  return software ? 3 : 8;
}

/** The largest batch multiplier tried on a fast device. */
export const MAX_LESSON_MULTIPLIER = 64;
/** What a lesson aims to take, ms. */
export const LESSON_TARGET_MS = 20_000;
/** Past this a run or lesson says how long it will take before it starts, ms. */
export const LONG_RUN_MS = 30_000;

export interface LessonSizing {
  multiplier: number;
  steps: number;
  variants: LessonVariant[];
  /** Predicted wall time of the whole lesson on this device, compiles included. */
  predictedMs: number;
  /** Why it is not bigger, one phrase: "the time target", "the memory budget"… */
  limitedBy: string;
  /** Set when even the smallest shapes break a device limit: the lesson cannot run here. */
  refusal: string | null;
}

/** The first device limit a variant breaks, as a sentence; null when every variant fits. */
export function overLimit(variants: LessonVariant[], budget: DeviceBudget): string | null {
  for (const v of variants) {
    if (v.config.model !== 'mlp') {
      const over = checkFit(v.config, budget).over.filter((e) => e.limit !== 'compute budget');
      if (over.length > 0) return `${v.label}: ${describeExcess(over[0]!, budget)}`;
    } else if (v.config.model === 'mlp') {
      const peak = estimateRun(v.config).peak.bytes;
      if (peak > budget.memoryBytes) return `${v.label}: the estimated peak is over this device's memory budget`;
      const widest = 4 * v.config.batch * Math.max(v.config.hidden, v.config.d);
      if (widest > Math.min(budget.maxBufferSize, budget.maxStorageBufferBindingSize)) return `${v.label}: an activation is over this device's largest buffer`;
    }
  }
  return null;
}

/** The model a lesson runs, for sentences: "a GPT decoder of 6 blocks (d 32, 4 heads, vocab 32)". */
export function describeLessonModel(c: EngineRunConfig): string {
  if (isCnnRun(c)) {
    return c.model === 'cnn-mnist' ? `a LeNet-5 CNN (cnn-mnist, 1×28×28 images, batch ${c.batch})` : `a ResNet-${6 * c.blocks + 2} CNN (cnn-cifar, width ${c.width}, 3×32×32 images, batch ${c.batch})`;
  }
  if (c.model === 'llama') return `a Llama decoder of ${c.layers} blocks (d ${c.dModel}, ${c.heads} heads over ${c.kvHeads} kv, SwiGLU ${c.inner}, vocab ${c.vocab})`;
  if (c.model === 'gpt') return `a GPT decoder of ${c.layers} blocks (d ${c.dModel}, ${c.heads} heads, vocab ${c.vocab})`;
  return `an mlp of ${c.layers} blocks (${c.d} → ${c.hidden} → ${c.d})`;
}

/** Predicted time of the variants in order, each compiling only shapes not yet compiled. */
export function predictLessonMs(variants: LessonVariant[], speed: SpeedModel, work: WorkPredictor, compiled: ReadonlySet<string>): number {
  const seen = new Set(compiled);
  let ms = 0;
  for (const v of variants) {
    const key = shapeKey(v.config);
    ms += predictRunMs(speed, work(v.config), v.config.steps, seen.has(key));
    seen.add(key);
  }
  return ms;
}

/**
 * The lesson's shapes for this device: the largest batch multiplier whose variants all fit the
 * adapter's limits and whose predicted time stays within the target (1 when even that is over:
 * the smallest shapes still teach, the page says how long they take).
 */
export function sizeLesson(
  def: LessonDef,
  budget: DeviceBudget,
  speed: SpeedModel,
  work: WorkPredictor,
  compiled: ReadonlySet<string>,
  targetMs = LESSON_TARGET_MS,
): LessonSizing {
  const steps = lessonSteps(budget.software);
  const at = (m: number) => def.variants(m, steps);
  const first = at(1);
  const refusal = overLimit(first, budget);
  if (refusal) return { multiplier: 1, steps, variants: first, predictedMs: 0, limitedBy: 'the device limits', refusal: `This device cannot run even the smallest shapes (${refusal}).` };
  let m = 1;
  let limitedBy = 'the time target';
  while (m < MAX_LESSON_MULTIPLIER) {
    const next = at(2 * m);
    if (overLimit(next, budget)) {
      limitedBy = 'the device limits';
      break;
    }
    if (predictLessonMs(next, speed, work, compiled) > targetMs) break;
    m *= 2;
  }
  if (m === MAX_LESSON_MULTIPLIER) limitedBy = 'the largest lesson size';
  const variants = at(m);
  return { multiplier: m, steps, variants, predictedMs: predictLessonMs(variants, speed, work, compiled), limitedBy, refusal: null };
}

/** A finished variant: its run's report. */
export interface LessonOutcome {
  variant: LessonVariant;
  report: EngineRunReport;
}

export interface LessonEffect {
  /** One sentence: the claim with its measured numbers. */
  headline: string;
  /** The quantity's measured bytes in the compared variants (from → to) and the change in %. */
  from: { label: string; bytes: number };
  to: { label: string; bytes: number };
  changePct: number;
  /** Further measured observations, one sentence each. */
  details: string[];
}

const pct = (from: number, to: number) => (from > 0 ? (100 * (to - from)) / from : 0);

/** "−80%", "+300%" */
export function formatChange(p: number): string {
  return `${p >= 0 ? '+' : '−'}${Math.abs(Math.round(p))}%`;
}

type Fmt = (bytes: number) => string;

const byId = (outcomes: LessonOutcome[], id: string) => outcomes.find((o) => o.variant.id === id);
const act = (o: LessonOutcome) => o.report.actual.bytes.activations;

/** Counted floating-point work of a run's step, when the report has it. */

/**
 * What the lesson's runs showed, from the measured reports. Null when the runs the claim
 * compares did not both finish.
 */
export function lessonEffect(id: LessonId, outcomes: LessonOutcome[], fmt: Fmt): LessonEffect | null {
  const compare = (a: LessonOutcome | undefined, b: LessonOutcome | undefined) => (a && b ? { from: { label: a.variant.label, bytes: act(a) }, to: { label: b.variant.label, bytes: act(b) }, changePct: pct(act(a), act(b)) } : null);
  switch (id) {
    case 'checkpointing': {
      const none = byId(outcomes, 'none');
      const full = byId(outcomes, 'full');
      const c = compare(none, full);
      if (!c || !none || !full) return null;
      const details = outcomes
        .filter((o) => o !== none)
        .map((o) => {
          const f0 = countedFlops(none.report);
          const f1 = countedFlops(o.report);
          const compute = f0 && f1 ? `, ${formatChange(pct(f0, f1))} counted compute` : '';
          return `${o.variant.label}: activations ${fmt(act(o))} (${formatChange(pct(act(none), act(o)))}), peak ${fmt(o.report.actual.peakBytes)} (${formatChange(pct(none.report.actual.peakBytes, o.report.actual.peakBytes))})${compute}.`;
        });
      return {
        ...c,
        headline: `Full checkpointing cut activations ${formatChange(c.changePct)} (${fmt(c.from.bytes)} → ${fmt(c.to.bytes)}) and the peak ${formatChange(pct(none.report.actual.peakBytes, full.report.actual.peakBytes))}, by recomputing each block's forward in backward.`,
        details,
      };
    }
    case 'precision': {
      const fp32 = byId(outcomes, 'fp32');
      const amp = byId(outcomes, 'amp-bf16') ?? byId(outcomes, 'amp-fp16');
      const c = compare(fp32, amp);
      if (!c || !fp32 || !amp) return null;
      const a = amp.report.actual.bytes;
      const f = fp32.report.actual.bytes;
      return {
        ...c,
        headline: `${amp.variant.label} halves what is stored in 16 bits: activations ${formatChange(c.changePct)} (${fmt(c.from.bytes)} → ${fmt(c.to.bytes)}); the peak moves ${formatChange(pct(fp32.report.actual.peakBytes, amp.report.actual.peakBytes))}.`,
        details: [
          `Weights: ${fmt(f.weights)} fp32 → ${fmt(a.weights)} of 16-bit copies plus ${fmt(a.masterWeights)} of fp32 master weights (${formatChange(pct(f.weights, a.weights + a.masterWeights))} in all).`,
          `Gradients stay ${fmt(a.gradients)} and optimizer states stay ${fmt(a.optimizer)}: both are fp32 in either run.`,
          `Inputs: ${fmt(f.inputs)} → ${fmt(a.inputs)}.`,
        ],
      };
    }
    case 'attention': {
      const c = compare(byId(outcomes, 'eager'), byId(outcomes, 'fused'));
      if (!c) return null;
      const eager = byId(outcomes, 'eager')!.variant.config as GptRunConfig;
      return {
        ...c,
        headline: `Fused attention cut activations ${formatChange(c.changePct)} (${fmt(c.from.bytes)} → ${fmt(c.to.bytes)}): eager attention keeps batch × heads × seq² probabilities per block (seq ${eager.seq}), the fused kernel recomputes them in backward.`,
        details: [],
      };
    }
    case 'lora': {
      const full = byId(outcomes, 'full');
      const lora = byId(outcomes, 'lora');
      const qlora = byId(outcomes, 'qlora');
      if (!full || !lora) return null;
      const f = full.report.actual.bytes;
      const l = lora.report.actual.bytes;
      const trained = (b: typeof f) => b.gradients + b.optimizer;
      const weights = (b: typeof f) => b.weights + b.masterWeights;
      const changePct = pct(trained(f), trained(l));
      const details = [
        `Activations: ${fmt(f.activations)} → ${fmt(l.activations)} (${formatChange(pct(f.activations, l.activations))}): LoRA still keeps every projection's input for the adapters' gradients, and adds s·(x·A).`,
        `Weights: ${fmt(weights(f))} (16-bit copies and fp32 masters) → ${fmt(weights(l))} (a frozen base: 16-bit projections, fp32 embedding and norms; fp32 adapters, no masters).`,
        `Peak: ${fmt(full.report.actual.peakBytes)} → ${fmt(lora.report.actual.peakBytes)} (${formatChange(pct(full.report.actual.peakBytes, lora.report.actual.peakBytes))}).`,
      ];
      if (qlora) {
        const q = qlora.report.actual.bytes;
        details.push(`QLoRA stores the projections in NF4 (0.5 B per value + a 4-byte scale per 64): weights ${fmt(weights(l))} → ${fmt(weights(q))} (${formatChange(pct(weights(l), weights(q)))}), peak ${fmt(qlora.report.actual.peakBytes)}; gradients, optimizer states and activations as LoRA's.`);
      }
      return {
        from: { label: full.variant.label, bytes: trained(f) },
        to: { label: lora.variant.label, bytes: trained(l) },
        changePct,
        headline: `${lora.variant.label} cut gradients and optimizer states ${formatChange(changePct)} (${fmt(trained(f))} → ${fmt(trained(l))}) on the same scaled Llama: only the adapters train; activations moved ${formatChange(pct(f.activations, l.activations))}${qlora ? `, and QLoRA's NF4 base cut the weights ${formatChange(pct(weights(l), weights(qlora.report.actual.bytes)))} more` : ''}.`,
        details,
      };
    }
    case 'cnn': {
      const none = byId(outcomes, 'none');
      const full = byId(outcomes, 'full');
      const c = compare(none, full);
      if (!c || !none || !full) return null;
      const n = none.report.actual;
      // What the parameters cost at the peak: weights, their gradients and the optimizer's states.
      const params = n.aliveAtPeak.weights + n.aliveAtPeak.masterWeights + n.aliveAtPeak.gradients + n.aliveAtPeak.optimizer;
      const f0 = countedFlops(none.report);
      const f1 = countedFlops(full.report);
      const compute = f0 && f1 ? `, for ${formatChange(pct(f0, f1))} counted compute` : '';
      return {
        ...c,
        headline: `Feature maps, not weights: activations were ${Math.round((100 * n.aliveAtPeak.activations) / n.peakBytes)}% of the peak (${fmt(n.aliveAtPeak.activations)} of ${fmt(n.peakBytes)}); full checkpointing cut them ${formatChange(c.changePct)} (${fmt(c.from.bytes)} → ${fmt(c.to.bytes)}) and the peak ${formatChange(pct(n.peakBytes, full.report.actual.peakBytes))}${compute}.`,
        details: [
          `Weights, gradients and optimizer states together: ${fmt(params)} at the peak (${Math.round((100 * params) / n.peakBytes)}%): a ResNet's parameters are few, its 32×32 feature maps many.`,
          `Full checkpointing keeps each residual block's input and recomputes the block in backward; with less kept, the peak moves to where backward's activation gradients are largest: ${fmt(n.aliveAtPeak.activationGrads)} → ${fmt(full.report.actual.aliveAtPeak.activationGrads)} of them at the peak.`,
        ],
      };
    }
    case 'growth': {
      const batch = outcomes.filter((o) => o.variant.series === 'batch').sort((x, y) => x.report.config.batch - y.report.config.batch);
      const seq = outcomes.filter((o) => o.variant.series === 'seq' || o.variant.id === batch[0]?.variant.id).sort((x, y) => seqOf(x) - seqOf(y));
      const b0 = batch[0];
      const b1 = batch[batch.length - 1];
      const s0 = seq[0];
      const s1 = seq[seq.length - 1];
      if (!b0 || !b1 || !s0 || !s1 || b0 === b1 || s0 === s1) return null;
      const bx = b1.report.config.batch / b0.report.config.batch;
      const sx = seqOf(s1) / seqOf(s0);
      const c = compare(s0, s1)!;
      return {
        ...c,
        headline: `Activations grew ×${(act(b1) / act(b0)).toFixed(2)} for ×${bx} the batch, and ×${(act(s1) / act(s0)).toFixed(2)} for ×${sx} the sequence: eager attention's probabilities grow with seq².`,
        details: [
          `batch ${b0.report.config.batch} → ${b1.report.config.batch}: ${fmt(act(b0))} → ${fmt(act(b1))} (${formatChange(pct(act(b0), act(b1)))}).`,
          `seq ${seqOf(s0)} → ${seqOf(s1)}: ${fmt(act(s0))} → ${fmt(act(s1))} (${formatChange(pct(act(s0), act(s1)))}).`,
        ],
      };
    }
  }
}

function seqOf(o: LessonOutcome): number {
  return o.report.config.model === 'gpt' ? o.report.config.seq : 0;
}
