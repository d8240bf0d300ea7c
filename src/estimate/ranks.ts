/**
 * One plan from many ranks: a training step split by tensor, pipeline and context parallelism
 * is planned once per pipeline stage (its TP, CP and DP peers hold the same bytes), the worst
 * stage's breakdown is the plan, and every stage is listed with its own figures.
 */
import type { PlanConfig } from '../protocol/config.ts';
import type { DeviceFigures, Plan } from '../protocol/plan.ts';
import { fitList } from './gpus.ts';
import { type Inventory, totalParams } from './params.ts';
import { type ParallelLayout, type RankView, describeLayout, isModelParallel, parallelLayout, rankView, tpShard, PARALLEL_SOURCES } from './parallel.ts';
import type { ModelSpec } from './specs.ts';

type TrainPlan<S extends ModelSpec> = (cfg: PlanConfig, spec: S, inv: Inventory, view?: RankView) => Plan;

/** The training plan for any layout: one GPU, data parallel, or per stage of a model-parallel layout. */
export function planTraining<S extends ModelSpec>(cfg: PlanConfig, spec: S, inv: Inventory, train: TrainPlan<S>): Plan {
  const layout = parallelLayout(cfg, spec);
  if (!isModelParallel(layout) || spec.kind !== 'transformer') {
    const plan = train(cfg, spec, inv);
    return cfg.parallel !== undefined || cfg.gpus > 1 ? { ...plan, layout } : plan;
  }
  const ranks = Array.from({ length: layout.pp }, (_, i) => {
    const view = rankView(cfg, spec, inv, layout, i);
    return { view, plan: train(view.config, spec, view.inventory, view) };
  });
  const perStage = layout.gpus / layout.pp;
  const devices: DeviceFigures[] = ranks
    .map(({ view, plan }) => ({
      rank: view.label,
      stage: view.stage,
      gpus: perStage,
      peakBytes: plan.peak.bytes,
      totalBytes: plan.totalBytes,
      bytes: plan.bytes,
      hostBytes: plan.host?.bytesPerGpu ?? 0,
    }))
    .sort((a, b) => b.totalBytes - a.totalBytes || a.stage - b.stage);
  const worst = ranks[devices[0]!.stage]!.plan;
  const hostWorst = ranks.map((r) => r.plan.host).reduce((a, h) => (h && (!a || h.bytesPerNode > a.bytesPerNode) ? h : a), worst.host);
  const params = totalParams(inv);
  const trainable = cfg.loraRank === 0 ? params : ranks.reduce((a, r) => a + r.plan.trainableParams, 0) * layout.tp;
  const notes = [
    `parallel layout: ${describeLayout(layout)}; the figures are per GPU for ${devices[0]!.rank}, the fullest${layout.pp > 1 ? ' stage' : ''}`,
    ...layoutNotes(layout),
    ...worst.notes,
  ];
  return {
    ...worst,
    model: { ...worst.model, params, trainableParams: trainable },
    params,
    trainableParams: trainable,
    fits: fitList(worst.totalBytes, cfg.gpuMemoryGiB, hostWorst?.fits),
    notes,
    layout,
    devices,
    ...(hostWorst ? { host: hostWorst } : {}),
  };
}

/** What each dimension of the layout does to the figures, in a sentence each. */
function layoutNotes(l: ParallelLayout): string[] {
  const out: string[] = [];
  if (l.tp > 1) {
    out.push(
      `tensor parallel ${l.tp}: attention heads, MLP columns and the vocabulary split ${l.tp} ways; LayerNorms, biases and position embeddings whole on every GPU; activations by Korthikanti et al.'s ratio ${l.sp ? 'sbh(34 + 5as/h)/t (sequence parallel)' : 'sbh(10 + 24/t + 5as/(ht))'} (${PARALLEL_SOURCES.megatron})`,
    );
  }
  if (l.pp > 1) {
    const held =
      l.ppSchedule === 'gpipe'
        ? `all ${l.microbatches} micro-batches' activations on every stage`
        : l.ppSchedule === '1f1b'
          ? `stage i holds min(p − i, m) micro-batches' activations, the first stage ${Math.min(l.pp, l.microbatches)}`
          : `stage i holds (min((p − i − 1)·2 + (v − 1)·p, m·v − 1) + 1)/v micro-batches' worth, the first stage ${l.pp} + ${l.pp - 1}/${l.virtualStages}`;
    out.push(`pipeline ${l.pp} stages, ${l.ppSchedule}: ${held}; the embedding on the first stage, the final norm, LM head and loss on the last (${PARALLEL_SOURCES.pipeline})`);
  }
  if (l.cp > 1) out.push(`context parallel ${l.cp}: each GPU holds 1/${l.cp} of the sequence and exchanges keys and values in a ring (${PARALLEL_SOURCES.ring})`);
  if (l.shard > 1 && l.zero > 0) out.push(`ZeRO-${l.zero} shards over the ${l.shard} GPUs of a data-parallel group${l.cp > 1 ? ' (data × context parallel)' : ''}`);
  return out;
}

/** Inference under tensor parallelism (vLLM, Megatron): the layout and one GPU's tensors. */
export function inferenceLayout(cfg: PlanConfig, spec: ModelSpec, inv: Inventory): { layout: ParallelLayout; inventory: Inventory } {
  const layout = parallelLayout(cfg, spec);
  const t = layout.tp;
  if (t === 1) return { layout, inventory: inv };
  return { layout, inventory: { ...inv, tensors: inv.tensors.map((x) => tpShard(x, t)), tiedHeadElems: Math.ceil(inv.tiedHeadElems / t) } };
}
