/**
 * Many GPUs: how a training step is split (tensor, sequence, pipeline, context, expert and data
 * parallelism), what each rank holds, and which ranks differ. The layout is resolved and checked
 * once (`parallelLayout`); the per-rank view (`rankView`) tells the planner which tensors, units
 * and buffers one pipeline stage keeps, so the same tensor-by-tensor schedule runs per stage.
 *
 * Sources: Shoeybi et al. 2019 (Megatron-LM tensor parallel), Korthikanti et al. 2022 (sequence
 * parallel and the activation formulas), Narayanan et al. 2021 (1F1B and interleaved pipeline
 * schedules, Megatron's warm-up counts), Huang et al. 2019 (GPipe), Liu et al. 2023 (ring
 * attention, context parallel).
 */
import type { PlanConfig } from '../protocol/config.ts';
import type { CategoryBytes, ParallelLayout } from '../protocol/plan.ts';
import { EstimateError } from './errors.ts';
import type { Inventory, ParamTensor } from './params.ts';
import type { Unit } from './schedule.ts';
import type { ModelSpec, TransformerSpec } from './specs.ts';

export const PARALLEL_SOURCES = {
  megatron: 'Shoeybi et al. 2019, "Megatron-LM", arXiv 1909.08053; Korthikanti et al. 2022, arXiv 2205.05198',
  pipeline: 'Narayanan et al. 2021, "Efficient Large-Scale Language Model Training on GPU Clusters", arXiv 2104.04473 (1F1B, interleaved); Huang et al. 2019, GPipe, arXiv 1811.06965',
  ring: 'Liu et al. 2023, "Ring Attention", arXiv 2310.01889; Megatron-Core context parallel',
} as const;

export type { ParallelLayout };

/** Experts per MoE layer a model declares; 1 for a dense model. */
export function expertCount(spec: ModelSpec): number {
  return spec.kind === 'transformer' && spec.moe ? spec.moe.experts : 1;
}

/** The layout a config asks for, with defaults filled and every product checked. */
export function parallelLayout(cfg: PlanConfig, spec: ModelSpec): ParallelLayout {
  const p = cfg.parallel ?? {};
  const tp = p.tp ?? 1;
  const pp = p.pp ?? 1;
  const cp = p.cp ?? 1;
  const ep = cfg.ep ?? 1;
  const sp = p.sp ?? false;
  const model = tp * pp * cp;
  const gpus = cfg.gpus;
  if (model > 1 && spec.kind !== 'transformer') {
    throw new EstimateError(`tensor, pipeline and context parallelism split transformer layers; ${spec.name} is not a transformer: use --tp 1 --pp 1 --cp 1`);
  }
  if (model > 1 && cfg.framework === 'vramlab') throw new EstimateError('framework vramlab runs on one device: drop --tp, --pp and --cp, or use --framework pytorch');
  if (gpus % model !== 0) {
    throw new EstimateError(
      `--gpus ${gpus} is not a multiple of tp × pp × cp = ${tp} × ${pp} × ${cp} = ${model}: the GPUs left for data parallelism must be a whole number; use --gpus ${model} or a multiple of it`,
    );
  }
  const dp = gpus / model;
  if (ep > 1 && expertCount(spec) === 1) {
    throw new EstimateError(`--ep ${ep}: expert parallelism splits the experts of a mixture-of-experts model, and ${spec.name} has none; use --ep 1`);
  }
  if (dp % ep !== 0) throw new EstimateError(`--ep ${ep} must divide the data-parallel size ${dp} (gpus ${gpus} ÷ tp·pp·cp ${model}): experts are split over data-parallel GPUs`);
  if (sp && tp === 1) throw new EstimateError('--sp splits what tensor parallelism replicates; it needs --tp 2 or more');
  if (spec.kind === 'transformer') {
    if (spec.heads % tp !== 0) throw new EstimateError(`--tp ${tp} must divide the ${spec.heads} attention heads of ${spec.name}: each GPU takes whole heads`);
    if (pp > spec.layers) throw new EstimateError(`--pp ${pp} is more stages than ${spec.name}'s ${spec.layers} layers; use at most ${spec.layers}`);
    if (cp > 1 && cfg.seq % cp !== 0) throw new EstimateError(`--cp ${cp} must divide --seq ${cfg.seq}: each GPU takes an equal slice of the sequence`);
  }
  if (pp === 1 && (p.microbatches !== undefined || p.ppSchedule !== undefined || p.virtualStages !== undefined)) {
    throw new EstimateError('--microbatches, --pp-schedule and --virtual-stages shape a pipeline; set --pp 2 or more');
  }
  const ppSchedule = p.ppSchedule ?? '1f1b';
  if (p.virtualStages !== undefined && ppSchedule !== 'interleaved') throw new EstimateError('--virtual-stages applies to --pp-schedule interleaved only');
  const virtualStages = ppSchedule === 'interleaved' ? (p.virtualStages ?? 2) : 1;
  const microbatches = pp > 1 ? (p.microbatches ?? pp) : 1;
  if (pp > 1) {
    if (cfg.microBatch !== undefined) throw new EstimateError('with --pp the micro-batch is --batch ÷ --microbatches; drop --micro-batch');
    if (cfg.batch % microbatches !== 0) {
      throw new EstimateError(`--microbatches ${microbatches} must divide --batch ${cfg.batch}: each micro-batch holds batch ÷ microbatches samples`);
    }
    if (ppSchedule === 'interleaved') {
      const L = spec.kind === 'transformer' ? spec.layers : 0;
      if (L % (pp * virtualStages) !== 0) {
        throw new EstimateError(`interleaved: ${spec.name}'s ${L} layers must split evenly into pp × virtual stages = ${pp} × ${virtualStages} chunks; change --pp or --virtual-stages`);
      }
      if (microbatches % pp !== 0) throw new EstimateError(`interleaved: --microbatches ${microbatches} must be a multiple of --pp ${pp} (Megatron's interleaved schedule)`);
    }
  }
  return { tp, sp, pp, microbatches, ppSchedule, virtualStages, cp, dp, ep, gpus, zero: cfg.zero, shard: dp * cp };
}

export const isModelParallel = (l: ParallelLayout) => l.tp * l.pp * l.cp > 1;

/** "tp 4 · sp · pp 2 (1f1b, 8 micro-batches) · cp 1 · dp 2 · ep 1". */
export function describeLayout(l: ParallelLayout): string {
  const parts = [`tp ${l.tp}${l.sp ? ' + sp' : ''}`];
  parts.push(l.pp > 1 ? `pp ${l.pp} (${l.ppSchedule}${l.virtualStages > 1 ? ` × ${l.virtualStages} chunks` : ''}, ${l.microbatches} micro-batches)` : 'pp 1');
  parts.push(`cp ${l.cp}`, `dp ${l.dp}`, `ep ${l.ep}`);
  return `${parts.join(' · ')} = ${l.gpus} GPU${l.gpus === 1 ? '' : 's'}`;
}

/**
 * Activation bytes of one transformer layer per GPU under tensor parallel t (Korthikanti et
 * al. 2022, eq. 2): s·b·h·(10 + 24/t + 5·a·s/(h·t)); with sequence parallel (eq. 4) all of it
 * divided by t: s·b·h·(34 + 5·a·s/h)/t. Selective recompute drops the 5·a·s/h term.
 */
export function korthikantiTpLayerBytes(s: number, b: number, h: number, a: number, t: number, o: { sp?: boolean; selective?: boolean } = {}): number {
  const scores = o.selective ? 0 : (5 * a * s) / h;
  return o.sp ? (s * b * h * (34 + scores)) / t : s * b * h * (10 + 24 / t + scores / t);
}

/**
 * A tensor as one tensor-parallel GPU holds it: column/row-parallel projections split one side
 * by t, the vocabulary-parallel embedding its rows; norms, biases and position embeddings stay
 * whole on every TP rank.
 */
export function tpShard(x: ParamTensor, t: number): ParamTensor {
  if (t === 1) return x;
  if (x.matmul) return { ...x, cols: Math.ceil(x.cols / t) };
  if (x.name === 'embed_tokens') return { ...x, rows: Math.ceil(x.rows / t) };
  return x;
}

/** Stage i's layer range [from, to): layers split evenly, the remainder to the first stages. */
export function stageLayers(layers: number, pp: number, stage: number): { from: number; to: number } {
  const base = Math.floor(layers / pp);
  const extra = layers % pp;
  const from = stage * base + Math.min(stage, extra);
  return { from, to: from + base + (stage < extra ? 1 : 0) };
}

/**
 * Micro-batches of activations stage i holds at its peak, in whole-stage units: 1F1B warms up
 * p − i − 1 micro-batches before its first backward (so min(p − i, m) in flight); GPipe runs
 * all m forwards first; interleaved (Megatron) warms up (p − i − 1)·2 + (v − 1)·p chunks of
 * 1/v of the stage, capped at m·v, which for the first stage is p + (p − 1)/v (Korthikanti
 * et al. 2022, §4.2.3: 1 + (p − 1)/(p·v) times the non-interleaved memory).
 */
export function inFlight(l: ParallelLayout, stage: number): number {
  const { pp: p, microbatches: m, virtualStages: v } = l;
  if (p === 1) return 1;
  if (l.ppSchedule === 'gpipe') return m;
  if (l.ppSchedule === '1f1b') return Math.min(p - stage, m);
  const warmup = (p - stage - 1) * 2 + (v - 1) * p;
  return Math.min(warmup + 1, m * v) / v;
}

/** What one rank (a pipeline stage, any of its TP/CP/DP peers) holds beyond the one-GPU plan. */
export interface RankView {
  stage: number;
  label: string;
  layout: ParallelLayout;
  /** The stage's parameters with tensor-parallel shapes. */
  inventory: Inventory;
  /** The config the stage's units are built from: local sequence (÷ cp), micro-batch, ZeRO group. */
  config: PlanConfig;
  /** Stage units, scaled for tp/sp, from the model's full list of units. */
  units: (all: Unit[]) => Unit[];
  /** Activations of the micro-batches in flight beyond the one the schedule walks, and buffers. */
  extras: (units: Unit[], checkpoint: PlanConfig['checkpoint']) => { persistent: Partial<CategoryBytes>; comm: CommPart[] };
}

/** One communication buffer: bytes and what they assume. */
export interface CommPart {
  what: string;
  bytes: number;
  assumes: string;
}

/** Bytes a unit keeps after its forward under a checkpoint mode (the in-flight micro-batches hold these). */
function keptAfterForward(u: Unit, checkpoint: PlanConfig['checkpoint']): number {
  if (!u.recomputable || checkpoint === 'none') return u.saved;
  if (checkpoint === 'selective') return u.saved - u.selective;
  return u.checkpointInput;
}

/**
 * The view of stage `stage`: tensors of its layers (the embedding on the first stage, the final
 * norm and LM head on the last; a tied head gets its own copy on the last stage when pp > 1, as
 * Megatron keeps it), matmul weights and the vocabulary split by tp, activations scaled by
 * Korthikanti's tp/sp ratio, the sequence split by cp.
 */
export function rankView(cfg: PlanConfig, spec: TransformerSpec, inv: Inventory, l: ParallelLayout, stage: number): RankView {
  const { from, to } = stageLayers(spec.layers, l.pp, stage);
  const first = stage === 0;
  const last = stage === l.pp - 1;
  const t = l.tp;
  const holds = (blk: number) => (blk === -1 ? first : blk === spec.layers ? last : blk >= from && blk < to);
  const split = (x: ParamTensor) => tpShard(x, t);
  const tensors = inv.tensors.filter((x) => holds(x.block)).map(split);
  let tiedHeadElems = inv.tiedHeadElems;
  if (inv.tiedHeadElems > 0 && l.pp > 1) {
    // The tied LM head becomes a separate copy on the last stage, kept in sync by an all-reduce.
    const emb = inv.tensors.find((x) => x.name === 'embed_tokens')!;
    if (last) tensors.push(split({ ...emb, name: 'lm_head (tied copy)', block: spec.layers, matmul: true, loraTarget: false }));
    tiedHeadElems = 0;
  } else if (tiedHeadElems > 0) {
    tiedHeadElems = Math.ceil(tiedHeadElems / t);
  }
  const stageInv: Inventory = { tensors, bufferBytes: inv.bufferBytes, tiedHeadElems };
  const seq = cfg.seq / l.cp;
  const micro = l.pp > 1 ? cfg.batch / l.microbatches : cfg.microBatch;
  const config: PlanConfig = { ...cfg, seq, gpus: l.shard, ...(micro === undefined ? {} : { microBatch: micro }) };
  const b = micro ?? cfg.batch;
  const eager = cfg.attention === 'eager';
  const h = spec.hidden;
  const a = spec.heads;
  // Korthikanti's per-layer ratio for this tp/sp against one GPU, with or without the s² term.
  const base = (o: { selective?: boolean }) => korthikantiTpLayerBytes(seq, 1, h, a, 1, o);
  const ratio = (o: { selective?: boolean }) => korthikantiTpLayerBytes(seq, 1, h, a, t, { ...o, sp: l.sp }) / base(o);
  const layerRatio = ratio({ selective: !eager });
  const coreRatio = ratio({ selective: true });
  const replicated = l.sp ? 1 / t : 1;

  const units = (all: Unit[]): Unit[] => {
    // all = [embeddings, layer 0 … layer L−1, head…]: index 0 the embeddings, 1…L the layers.
    const out: Unit[] = [];
    all.forEach((u, i) => {
      const layer = i - 1;
      if (i === 0) {
        if (first) out.push({ ...u, saved: u.saved * replicated, fwdTransient: u.fwdTransient * replicated, bwdTransient: u.bwdTransient * replicated });
        return;
      }
      if (layer < spec.layers) {
        if (layer < from || layer >= to) return;
        const scores = u.selective / t; // the s² tensors split by heads
        const rest = (u.saved - u.selective) * coreRatio;
        out.push({
          ...u,
          saved: rest + scores,
          selective: scores,
          checkpointInput: u.checkpointInput * replicated,
          fwdTransient: u.fwdTransient * layerRatio,
          bwdTransient: u.bwdTransient * layerRatio,
        });
        return;
      }
      if (!last) return;
      // Head and loss: the norm input is replicated (÷ t with sp); logits are vocabulary-parallel.
      out.push(u.category === 'logits' ? { ...u, saved: u.saved / t, fwdTransient: u.fwdTransient / t, bwdTransient: u.bwdTransient / t } : { ...u, saved: u.saved * replicated });
    });
    return out;
  };

  const extras = (stageUnits: Unit[], checkpoint: PlanConfig['checkpoint']) => {
    const k = inFlight(l, stage);
    const kept = stageUnits.reduce((s, u) => s + keptAfterForward(u, checkpoint), 0);
    const persistent: Partial<CategoryBytes> = { activations: (k - 1) * kept };
    const comm: CommPart[] = [];
    const c = 2; // 16-bit activations on the wire
    const tokens = b * seq;
    if (t > 1 && l.sp) {
      comm.push({
        what: 'TP all-gather buffer',
        bytes: tokens * h * c,
        assumes: 'sequence parallel gathers the b·s·h input of each column-parallel linear into one reused 16-bit buffer (Megatron global memory buffer)',
      });
    }
    if (l.pp > 1) {
      const msg = tokens * h * c * replicated;
      const dirs = (first ? 0 : 1) + (last ? 0 : 1);
      comm.push({
        what: 'PP send/receive',
        bytes: 2 * dirs * msg,
        assumes: `one b·s·h 16-bit activation${l.sp ? ' (÷ tp with sp)' : ''} per neighbour stage each way (activation forward, its gradient back), double-buffered`,
      });
    }
    if (l.cp > 1) {
      const kv = 2 * b * seq * Math.max(1, spec.kvHeads / t) * spec.headDim * c;
      comm.push({
        what: 'CP key/value exchange',
        bytes: 2 * kv,
        assumes: `ring attention: the K and V of one ${seq}-token chunk in flight while the next is received (send + receive), one layer at a time`,
      });
    }
    return { persistent, comm };
  };

  const what = [l.pp > 1 ? `stage ${stage} (layers ${from}–${to - 1}${first ? ', embedding' : ''}${last ? ', LM head' : ''})` : 'every rank'];
  return { stage, label: what[0]!, layout: l, inventory: stageInv, config, units, extras };
}
