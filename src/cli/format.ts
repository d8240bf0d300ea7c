/** The human-readable `vramlab estimate`, `run` and `bench` reports: plain text, columns aligned with padEnd. */
import { formatBytesBoth, scaledBytes } from '../protocol/format.ts';
import type { PlanConfig } from '../protocol/config.ts';
import { DEFAULT_CNN_LR, type CnnRunConfig, type CnnRunReport } from '../protocol/cnn.ts';
import { describeCost, type FitResult, type LargestFit, type PlanPatch } from '../estimate/fit.ts';
import type { AbLine, BenchLine, EngineOutcome } from './bench.ts';
import type { AdapterSummary } from '../protocol/engine-api.ts';
import { describeExtras, formatManyGpus } from './format-parallel.ts';
import { CATEGORY_LABELS, PLAN_CATEGORIES, type CategoryBytes, type Plan, type PlanCategory } from '../protocol/plan.ts';
import {
  DEFAULT_GPT_LR,
  DEFAULT_LR,
  PHASE_NAMES,
  type GptRunConfig,
  type GptRunReport,
  type LlamaRunConfig,
  type LlamaRunReport,
  type RunConfig,
  type RunProgress,
  type RunReport,
} from '../protocol/run.ts';

/** GiB for memory (what the driver counts), GB alongside because datasheets use it (the page's rounding: protocol/format.ts). */
export const formatBytes = formatBytesBoth;

/** Binary only, two digits: for lines that list many sizes. */
const binary = (n: number) => scaledBytes(n, 1024, 2);

/** 124439808 → "124.4 M": parameter counts as people say them. */
export function formatCount(n: number): string {
  const units: [number, string][] = [
    [1e12, 'T'],
    [1e9, 'B'],
    [1e6, 'M'],
    [1e3, 'k'],
  ];
  for (const [size, unit] of units) if (Math.abs(n) >= size) return `${(n / size).toFixed(1)} ${unit}`;
  return String(n);
}

function table(rows: string[][], indent = '  '): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => (indent + r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ')).trimEnd());
}

/** Joins items with ", " into lines of at most `width`, continuation lines indented under the first item. */
function wrapList(head: string, items: string[], width: number): string[] {
  const lines: string[] = [];
  let line = head;
  for (const [i, item] of items.entries()) {
    const piece = i < items.length - 1 ? `${item},` : item;
    if (line.trim() !== head.trim() && line.length + 1 + piece.length > width) {
      lines.push(line);
      line = ' '.repeat(head.length) + piece;
    } else {
      line = line === head ? head + piece : `${line} ${piece}`;
    }
  }
  lines.push(line);
  return lines;
}

function nonZero(bytes: CategoryBytes): [PlanCategory, number][] {
  return PLAN_CATEGORIES.filter((c) => bytes[c] !== 0).map((c) => [c, bytes[c]]);
}

/** Only the settings that shape this model's estimate: seq and attention mean nothing to a ResNet. */
function describeConfig(c: PlanConfig, family: Plan['model']['family']): string {
  const images = family === 'resnet' || family === 'vit' || family === 'vlm' || family === 'efficientnet' || family === 'diffusion' || family === 'gan';
  const transformer = family !== 'mlp' && family !== 'cnn' && !images;
  const attention = transformer || family === 'vit' || family === 'vlm' || family === 'diffusion';
  const parts: string[] = [c.mode, `batch ${c.batch}`];
  if (c.microBatch !== undefined && c.microBatch !== c.batch) parts.push(`micro-batch ${c.microBatch}`);
  if (transformer) parts.push(`seq ${c.seq}`);
  if (family === 'vlm') parts.push(`${c.seq} text tokens`, `${c.images ?? 1} image${(c.images ?? 1) === 1 ? '' : 's'}`);
  if (images) parts.push(`${c.imageSize}×${c.imageSize} ${family === 'diffusion' ? 'px' : 'images'}`);
  if (family === 'diffusion' && c.mode === 'inference') {
    if (c.steps !== undefined) parts.push(`${c.steps} steps`);
    if (c.guidance !== undefined) parts.push(`guidance ${c.guidance}`);
    if (c.vaeDecode !== undefined) parts.push(`VAE ${c.vaeDecode}`);
    if (c.pipelineOffload !== undefined) parts.push(`offload ${c.pipelineOffload}`);
  }
  if (family === 'diffusion' && c.priorPreservation) parts.push('DreamBooth prior preservation');
  if (family === 'diffusion' && c.trainTextEncoder) parts.push('text encoder trained');
  if (family === 'cnn') parts.push(c.model === 'cnn-mnist' ? '1×28×28 images' : '3×32×32 images');
  parts.push(c.precision);
  if (c.mode === 'train') parts.push(c.optimizer, `checkpoint ${c.checkpoint}`);
  if (attention) parts.push(`attention ${c.attention}`);
  if (c.loraRank > 0) parts.push(`${c.qlora ? 'QLoRA' : 'LoRA'} rank ${c.loraRank}`);
  if (c.zero > 0) parts.push(`ZeRO-${c.zero}`);
  parts.push(...describeExtras(c));
  parts.push(`${c.gpus} GPU${c.gpus === 1 ? '' : 's'}${(c.ep ?? 1) > 1 ? ` (expert parallel ${c.ep})` : ''}`, `framework ${c.framework}`);
  return parts.join(' · ');
}

export function formatPlan(plan: Plan, config?: PlanConfig): string {
  const out: string[] = [];
  const m = plan.model;
  out.push(`Model   ${m.name} [${m.id}], ${m.layers} layers`);
  const trainable =
    plan.trainableParams === plan.params
      ? 'all trainable'
      : plan.trainableParams === 0
        ? 'none trainable'
        : `${plan.trainableParams.toLocaleString('en-US')} (${formatCount(plan.trainableParams)}) trainable${(config?.ep ?? 1) > 1 ? ' on each GPU' : ''}`;
  // A mixture of experts: memory holds every expert, a token passes through the active ones.
  const active = m.activeParams === undefined ? '' : ` total, ${m.activeParams.toLocaleString('en-US')} (${formatCount(m.activeParams)}) active per token`;
  out.push(`Params  ${plan.params.toLocaleString('en-US')} (${formatCount(plan.params)})${active}, ${trainable}`);
  if (config) out.push(`Setup   ${describeConfig(config, m.family)}`);

  out.push('', 'Memory per GPU, the most each category holds during the step:');
  const cats = nonZero(plan.bytes);
  out.push(...table(cats.map(([c, b]) => [CATEGORY_LABELS[c], formatBytes(b)])));

  out.push('');
  // GiB only: this line lists up to nine categories and must stay readable.
  const alive = nonZero(plan.peak.alive).map(([c, b]) => `${CATEGORY_LABELS[c]} ${binary(b)}`);
  const lead: string[][] = [
    ['Peak', formatBytes(plan.peak.bytes), `in ${plan.peak.phase}${plan.peak.at ? `, at ${plan.peak.at}` : ''}`],
    ['CUDA context', formatBytes(plan.overhead.cudaContextBytes), 'outside the allocator, once per process'],
    ['Allocator overhead', formatBytes(plan.overhead.allocatorBytes), 'caching allocator rounding and fragmentation'],
    ['Total', formatBytes(plan.totalBytes), 'what nvidia-smi would show'],
    ['Textbook rule of thumb', formatBytes(plan.textbook.bytes), plan.textbook.formula],
  ];
  const summary = table(lead, '');
  out.push(summary[0]!, ...wrapList('  alive at the peak: ', alive.length > 0 ? alive : ['nothing'], 100));
  out.push(...summary.slice(1, -1), '', summary.at(-1)!);
  out.push(...formatManyGpus(plan, formatBytes, table));

  out.push('', `Fits (total against the memory the driver exposes${plan.host?.budgetBytes !== undefined ? `; the host budget ${plan.host.fits ? 'holds' : 'does not hold'}` : ''}):`);
  out.push(
    ...table(
      plan.fits.map((f) => [
        f.fits ? '✓' : '✗',
        f.gpu,
        formatBytes(f.memoryBytes),
        f.fits ? `${formatBytes(f.headroomBytes)} headroom` : `${formatBytes(-f.headroomBytes)} short`,
      ]),
    ),
  );

  if (plan.terms.length > 0) {
    out.push('', 'How each term is computed:');
    const rows = plan.terms.map((t) => [CATEGORY_LABELS[t.category], t.label, formatBytes(t.bytes), t.formula]);
    const lines = table(rows);
    plan.terms.forEach((t, i) => {
      out.push(lines[i]!);
      if (t.source) out.push(`${' '.repeat(lines[i]!.length - t.formula.length)}source: ${t.source}`);
    });
  }

  if (plan.notes.length > 0) {
    out.push('', 'Notes:');
    for (const n of plan.notes) out.push(`  - ${n}`);
  }
  return `${out.join('\n')}\n`;
}

/** "+1.50 KiB (+3.1%)", "−512 B (−0.4%)" or "exact": measured minus estimated. */
function difference(measured: number, estimated: number): string {
  const d = measured - estimated;
  if (d === 0) return 'exact';
  const sign = d > 0 ? '+' : '−';
  const pct = estimated === 0 ? '' : ` (${sign}${Math.abs((100 * d) / estimated).toFixed(1)}%)`;
  // GiB only: the GB twin would put a third pair of parentheses on the line.
  return `${sign}${binary(Math.abs(d))}${pct}`;
}

/** Milliseconds with three significant digits: 0.0123 ms, 1.23 ms, 123 ms. */
function ms(x: number): string {
  return `${x === 0 ? '0' : x >= 100 ? x.toFixed(0) : x.toPrecision(3)} ms`;
}

/** One stderr line per event of a run, for people watching a terminal. */
export function formatProgress(p: RunProgress): string {
  if (p.stage === 'allocating') return 'allocating the model, its states and the data…\n';
  if (p.stage === 'compiling') return "compiling the step's shaders…\n";
  if (p.stage === 'step') return `step ${String(p.step).padStart(String(p.steps).length)}/${p.steps}  loss ${p.loss === undefined ? '?' : p.loss.toPrecision(6)}\n`;
  return '';
}

function adapterLine(a: AdapterSummary): string {
  const name = [a.description || a.device, a.vendor, a.architecture].filter((x) => x !== '').join(' · ') || 'unnamed adapter';
  return `Adapter ${name}${a.isFallbackAdapter ? ' (fallback / software)' : ''}`;
}

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;

/**
 * The model's shape; `swept` names the field a sweep varies, shown as its values instead. The
 * gpt line lists what moves the activations: seq (linear, or s² with eager attention), heads
 * (the s² term's multiplier), vocab (the logits).
 */
function modelLine(c: RunConfig | GptRunConfig | LlamaRunConfig | CnnRunConfig, swept?: { key: string; values: number[] }): string {
  const v = (key: string, x: number) => (swept?.key === key ? `{${swept.values.join(', ')}}` : String(x));
  if ('blocks' in c) {
    if (c.model === 'cnn-mnist') return 'cnn-mnist LeNet-5, 1×28×28 images, 10 classes';
    return `cnn-cifar ResNet-${6 * c.blocks + 2} (blocks per stage ${v('blocks', c.blocks)}, width ${c.width}), 3×32×32 images, 10 classes`;
  }
  const layers = swept?.key === 'layers' ? `layers ${v('layers', c.layers)}` : plural(c.layers, 'layer');
  if (c.model === 'mlp') return `mlp d ${c.d}, hidden ${c.hidden}, ${layers}, ${c.activation}`;
  if (c.model === 'llama') {
    return `llama vocab ${c.vocab}, d-model ${c.dModel}, ${c.heads} heads (${c.kvHeads} kv, size ${c.headDim}), inner ${c.inner}, ${layers}, ${c.tied ? 'tied' : 'untied'} head, seq ${v('seq', c.seq)}, attention ${c.attention}`;
  }
  const r = c.loraRank ?? 0;
  const lora = r > 0 ? `, ${c.qlora ? 'QLoRA (NF4 base)' : 'LoRA'} rank ${r} alpha ${c.loraAlpha ?? 2 * r}` : '';
  return `gpt vocab ${c.vocab}, d-model ${c.dModel}, ${c.heads} heads, ${layers}, seq ${v('seq', c.seq)}, attention ${c.attention}${lora}`;
}

function setupLine(c: RunConfig | GptRunConfig | LlamaRunConfig | CnnRunConfig, swept?: { key: string; values: number[] }): string {
  const lr = c.lr ?? (c.model === 'mlp' ? DEFAULT_LR : c.model === 'cnn-mnist' || c.model === 'cnn-cifar' ? DEFAULT_CNN_LR : DEFAULT_GPT_LR)[c.optimizer];
  const batch = swept?.key === 'batch' ? `{${swept.values.join(', ')}}` : String(c.batch);
  return `batch ${batch} · ${c.precision} · ${c.optimizer} (lr ${lr}) · checkpoint ${c.checkpoint} · ${plural(c.steps, 'step')} · seed ${c.seed}`;
}

/** The human-readable `vramlab run` report: the ledger's measurement beside the estimate. */
export function formatRunReport(r: RunReport | GptRunReport | LlamaRunReport | CnnRunReport): string {
  const out: string[] = [];
  out.push(adapterLine(r.adapter));
  out.push(`Model   ${modelLine(r.config)}: ${r.estimate.params.toLocaleString('en-US')} params (${formatCount(r.estimate.params)})`);
  out.push(`Setup   ${setupLine(r.config)}`);

  out.push('', 'Memory, the most each category held during the last step:');
  const cats = PLAN_CATEGORIES.filter((k) => r.estimate.bytes[k] !== 0 || r.actual.bytes[k] !== 0);
  const rows = [['', 'estimate', 'measured', 'difference']];
  for (const k of cats) rows.push([CATEGORY_LABELS[k], formatBytes(r.estimate.bytes[k]), formatBytes(r.actual.bytes[k]), difference(r.actual.bytes[k], r.estimate.bytes[k])]);
  rows.push(['peak', formatBytes(r.estimate.peak.bytes), formatBytes(r.actual.peakBytes), difference(r.actual.peakBytes, r.estimate.peak.bytes)]);
  const lines = table(rows);
  out.push(...lines.slice(0, -1), '', lines.at(-1)!);
  out.push(`  estimated peak in ${r.estimate.peak.phase}${r.estimate.peak.at ? `, at ${r.estimate.peak.at}` : ''}`);
  const alive = nonZero(r.actual.aliveAtPeak).map(([k, b]) => `${CATEGORY_LABELS[k]} ${binary(b)}`);
  out.push(...wrapList('  alive at the measured peak: ', alive.length > 0 ? alive : ['nothing'], 100));
  out.push(
    '',
    ...table(
      [
        ['Allocated peak', formatBytes(r.actual.allocatedPeakBytes), 'the same peak in 4-byte aligned buffer sizes'],
        ['Physical peak', formatBytes(r.actual.physicalPeakBytes), 'allocated, plus released buffers the GPU had not yet freed'],
        ['Readback staging', formatBytes(r.actual.stagingBytes), 'timestamps and loss, outside the step'],
        ['Live after dispose', formatBytes(r.actual.liveAfterDisposeBytes), r.actual.liveAfterDisposeBytes === 0 ? 'everything released' : 'LEAKED: please report'],
      ],
      '',
    ),
  );

  const steady = r.loss.length > 1 ? 'median of the steps after the first' : 'one step, its bind groups and buffers made';
  out.push('', `Warm-up ${ms(r.timing.warmupMs)}: ${r.timing.warmupPipelines} compute pipelines created before the first step`);
  out.push(`Time per step ${ms(r.timing.stepMs)} (wall clock, ${steady}); recording its commands ${ms(r.timing.recordMs)} of CPU`);
  out.push(...table(PHASE_NAMES.map((p) => [p, ms(r.timing.phasesMs[p])])));
  out.push(
    `  by ${r.timing.source === 'timestamp-query' ? 'GPU timestamp queries' : 'the wall clock around each phase (no timestamp-query on this device, or --wall-clock)'}`,
  );

  const first = r.loss[0];
  const last = r.loss.at(-1);
  if (first !== undefined && last !== undefined) {
    out.push('', `Loss    ${first.toPrecision(6)} → ${last.toPrecision(6)} over ${r.loss.length} step${r.loss.length === 1 ? '' : 's'}`);
  }
  out.push(`Skipped ${r.skippedSteps} step${r.skippedSteps === 1 ? '' : 's'} (non-finite gradients under loss scaling)`);
  return `${out.join('\n')}\n`;
}

/** One point of `vramlab run --sweep`, as its `--json` line: what it ran with and what it measured, or why it could not run. */
export type SweepLine =
  | {
      point: Record<string, number>;
      estimate: { peakBytes: number; bytes: CategoryBytes };
      actual: { peakBytes: number; bytes: CategoryBytes; allocatedPeakBytes: number; liveAfterDisposeBytes: number };
      timing: RunReport['timing'];
      /** First and last step. */
      loss: [number, number];
    }
  | { point: Record<string, number>; error: { name: string; message: string } };

export function sweepLine(key: string, value: number, r: RunReport | GptRunReport | LlamaRunReport | CnnRunReport): SweepLine {
  const a = r.actual;
  return {
    point: { [key]: value },
    estimate: { peakBytes: r.estimate.peak.bytes, bytes: r.estimate.bytes },
    actual: { peakBytes: a.peakBytes, bytes: a.bytes, allocatedPeakBytes: a.allocatedPeakBytes, liveAfterDisposeBytes: a.liveAfterDisposeBytes },
    timing: r.timing,
    loss: [r.loss[0] ?? Number.NaN, r.loss.at(-1) ?? Number.NaN],
  };
}

/** The stderr line that opens each point of a sweep, before its step lines. */
export function formatSweepProgress(key: string, value: number, index: number, count: number): string {
  return `${key} ${value} (point ${index + 1}/${count})\n`;
}

/**
 * `vramlab run --sweep` without --json: one row per point, estimate beside measurement, so the
 * terms that grow with the swept size can be read off (eager attention's s² probabilities
 * against the linear rest). A point the device refused has its reason on its row.
 */
export function formatSweep(adapter: AdapterSummary, base: RunConfig | GptRunConfig | LlamaRunConfig | CnnRunConfig, key: string, lines: readonly SweepLine[]): string {
  const swept = { key, values: lines.map((l) => l.point[key]!) };
  const out = [adapterLine(adapter), `Model   ${modelLine(base, swept)}`, `Setup   ${setupLine(base, swept)}`, ''];
  const rows = [[key, 'estimated activations', 'measured activations', 'estimated peak', 'measured peak', 'step ms']];
  const refused: [number, string][] = [];
  for (const l of lines) {
    const v = String(l.point[key]);
    if ('error' in l) {
      refused.push([rows.length, `${v.padEnd(key.length)}  cannot run: ${l.error.message}`]);
      rows.push([v]);
      continue;
    }
    const b = binary;
    rows.push([v, b(l.estimate.bytes.activations), b(l.actual.bytes.activations), b(l.estimate.peakBytes), b(l.actual.peakBytes), ms(l.timing.stepMs).replace(/ ms$/, '')]);
  }
  const text = table(rows);
  // A refused row holds only its reason, which must not stretch the table's columns.
  for (const [i, line] of refused) text[i] = `  ${line}`;
  out.push(...text);
  out.push('', '  activations: the most that category held during the last step; measured by the ledger, estimated by framework vramlab');
  return `${out.join('\n')}\n`;
}

/** GFLOP/s with three significant digits, TFLOP/s from 1000 up. */
function flops(gflops: number): string {
  return gflops >= 1000 ? `${(gflops / 1000).toPrecision(3)} TFLOP/s` : `${gflops.toPrecision(3)} GFLOP/s`;
}

/** The `vramlab bench` table: one row per work item, vramlab and TF.js side by side. */
export function formatBench(lines: readonly BenchLine[], adapter: AdapterSummary, tiles: string): string {
  const out = [adapterLine(adapter), `Features ${adapter.features.join(', ') || 'none'}`, `Matmul tiles ${tiles}`, ''];
  const cell = (o: EngineOutcome | null, what: 'time' | 'mem') => {
    if (o === null) return '—';
    if ('error' in o) return what === 'time' ? `failed: ${o.error.slice(0, 60)}` : '';
    return what === 'time' ? `${ms(o.ms)} · ${flops(o.gflops)}${o.recordMs === undefined ? '' : ` (record ${ms(o.recordMs)})`}` : `${binary(o.peakBytes)} / ${binary(o.allocatedBytes)} (${o.allocatedOverPeak.toFixed(2)}×)`;
  };
  const x = (v: number) => v.toFixed(2);
  const ratio = (l: BenchLine) => {
    const r = l.pairRatio;
    if (r) return `${x(r.median)}× [${x(r.q1)}–${x(r.q3)}] (${x(r.min)}–${x(r.max)})`;
    return l.vramlabOverTfjs === null ? '—' : `${x(l.vramlabOverTfjs)}×`;
  };
  const rows = [['work', 'vramlab', 'TF.js', 'TF.js ÷ vramlab', 'vramlab peak / allocated', 'TF.js peak / allocated']];
  for (const l of lines) rows.push([l.work, cell(l.vramlab, 'time'), cell(l.tfjs, 'time'), ratio(l), cell(l.vramlab, 'mem'), cell(l.tfjs, 'mem')]);
  out.push(...table(rows));
  const driver = lines.flatMap((l) => (l.driver && 'ratio' in l.driver ? [`${l.work}: nvidia-smi +${binary(l.driver.driverBytes)} for ${binary(l.driver.ledgerBytes)} in the ledger (${l.driver.ratio.toFixed(3)}×)`] : []));
  if (driver.length > 0) out.push('', 'Driver check (memory.used while the buffers were held):', ...driver.map((d) => `  ${d}`));
  const plain = lines.flatMap((l) => {
    if (!l.againstPlain) return [];
    if ('error' in l.againstPlain) return [`${l.work}: failed: ${l.againstPlain.error.slice(0, 60)}`];
    const c = l.againstPlain;
    return [`${l.work}: tiled ${ms(c.tiledMs)}, plain ${ms(c.plainMs)}: ${c.speedup.median.toFixed(2)}× (${c.speedup.min.toFixed(2)}–${c.speedup.max.toFixed(2)}× over ${c.rounds} rounds)`];
  });
  if (plain.length > 0) out.push('', 'Tiled matmul against the plain kernel (alternated; plain ms ÷ tiled ms, median and range):', ...plain.map((p) => `  ${p}`));
  const variant = (c: { rounds: number; aMs: number; bMs: number; speedup: { median: number; min: number; max: number } }, a: string, b: string) =>
    `${a} ${ms(c.aMs)}, ${b} ${ms(c.bMs)}: ${c.speedup.median.toFixed(2)}× (${c.speedup.min.toFixed(2)}–${c.speedup.max.toFixed(2)}× over ${c.rounds} rounds)`;
  const variants = lines.flatMap((l) => {
    const rows: string[] = [];
    if (l.splitK) rows.push('error' in l.splitK ? `${l.work} split-K: failed: ${l.splitK.error.slice(0, 60)}` : `${l.splitK.M}×${l.splitK.N}×${l.splitK.K} Xᵀ·dY: ${variant(l.splitK, 'unsplit', `split ${l.splitK.slices}`)} (this adapter's choice: ${l.splitK.autoSlices})`);
    const p = l.prefetch;
    if (p) rows.push(...('error' in p ? [`${l.work} prefetch: failed: ${p.error.slice(0, 60)}`] : (['f32', 'bf16'] as const).map((s) => `${l.shape.n}³ ${s}: ${variant(p[s], 'no prefetch', 'prefetch')}`)));
    return rows;
  });
  if (variants.length > 0) out.push('', 'Matmul variants (alternated; a ms ÷ b ms, median and range):', ...variants.map((v) => `  ${v}`));
  const pairs = lines.find((l) => l.pairRatio)?.pairRatio?.pairs;
  out.push(
    '',
    'Time: median wall clock of an iteration from its start until its GPU work is done (a training step: until its loss is read back), after warm-up.',
    `vramlab and TF.js alternate iteration by iteration (vramlab then TF.js, then TF.js then vramlab, …); TF.js ÷ vramlab: TF.js ms over vramlab ms in each pair, median [q1–q3] (min–max)${pairs ? ` over ${pairs} pairs` : ''}; above 1, vramlab is faster.`,
    'Peak: bytes of live tensors; allocated: bytes held from the GPU.',
    '',
  );
  return out.join('\n');
}

/** `bench --ab`: per work, both launches' CPU and wall time per step and their counts, and the b/a ratio with its spread. */
export function formatAb(lines: readonly AbLine[]): string {
  if (lines.length === 0) return '';
  const first = lines[0]!;
  const out = [
    `Adapter ${first.adapter}, ${first.cpus} CPUs, load average ${first.loadAverage.map((x) => x.toFixed(2)).join(' ')}`,
    `a = optimizer launched ${first.launches.a}, b = ${first.launches.b}; alternated step by step, ${first.iters} timed steps each after 2 warm-up steps`,
    '',
  ];
  const rows = [['work', 'CPU a', 'CPU b', 'b/a median', 'b/a q1–q3', 'b/a min–max', 'wall a', 'wall b', 'dispatches a → b', 'passes a → b']];
  for (const l of lines) {
    rows.push([
      l.work,
      ms(l.cpuMsPerStep.a),
      ms(l.cpuMsPerStep.b),
      l.ratio.median.toFixed(3),
      `${l.ratio.q1.toFixed(3)}–${l.ratio.q3.toFixed(3)}`,
      `${l.ratio.min.toFixed(3)}–${l.ratio.max.toFixed(3)}`,
      ms(l.wallMsPerStep.a),
      ms(l.wallMsPerStep.b),
      `${l.counts.a.dispatches} → ${l.counts.b.dispatches}`,
      `${l.counts.a.computePasses} → ${l.counts.b.computePasses}`,
    ]);
  }
  out.push(...table(rows), '', 'CPU: the process\'s user + system time per step (on a CPU adapter the device\'s work included), median over the timed steps.', '');
  return out.join('\n');
}

/** A suggestion's patch as the estimate flags that make it: `--checkpoint full --zero 3 --gpus 8`. */
export function patchFlags(patch: PlanPatch): string {
  const flags: Record<keyof PlanPatch, string> = {
    attention: '--attention',
    optimizer: '--optimizer',
    checkpoint: '--checkpoint',
    precision: '--precision',
    batch: '--batch',
    microBatch: '--micro-batch',
    seq: '--seq',
    loraRank: '--lora-rank',
    qlora: '--qlora',
    zero: '--zero',
    gpus: '--gpus',
  };
  return (Object.entries(patch) as [keyof PlanPatch, unknown][])
    .map(([k, v]) => (v === true ? flags[k] : `${flags[k]} ${String(v)}`))
    .join(' ');
}

function wrapWords(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  return line === '' ? lines : [...lines, line];
}

function largestLine(what: string, l: LargestFit | null): string {
  if (l === null) return `Largest ${what} that fits: none, even 1 does not`;
  const bound = l.atLimit ? ' (the upper bound searched)' : '';
  return `Largest ${what} that fits: ${l.value.toLocaleString('en-US')}${bound}, ${binary(l.totalBytes)} in total  [${patchFlags(l.patch)}]`;
}

/** The human-readable `vramlab fit`: the verdict, the suggestions cheapest first with the flags that apply them, the largest sizes. */
export function formatFit(r: FitResult, plan: Plan, config: PlanConfig): string {
  const m = plan.model;
  const out: string[] = [
    `Model   ${m.name} [${m.id}], ${m.layers} layers`,
    `Setup   ${describeConfig(config, m.family)}`,
    `GPU     ${formatBytes(r.capacityBytes)}; needs ${formatBytes(r.current.totalBytes)} (peak ${formatBytes(r.current.peakBytes)} + CUDA context + allocator)`,
    '',
    r.message,
  ];
  if (r.suggestions.length > 0) {
    out.push('', r.combined ? 'Combinations that fit, cheapest first:' : 'Changes that fit, cheapest first:', '(under each, the flags to set in the estimate command: each replaces the flag of that name)');
    const rows = r.suggestions.map((s, i) => [`${i + 1}.`, s.change, binary(s.totalBytes), describeCost(s.cost)]);
    const lines = table(rows);
    r.suggestions.forEach((s, i) => {
      out.push(lines[i]!);
      const indent = ' '.repeat(2 + rows[i]![0]!.length + 2);
      out.push(`${indent}${patchFlags(s.patch)}`, ...wrapWords(s.cost.note, 100 - indent.length).map((l) => indent + l));
    });
  }
  const accumulating = config.microBatch !== undefined && config.microBatch !== config.batch;
  out.push('', largestLine(accumulating ? 'micro-batch' : 'batch', r.largestBatch));
  if (r.largestSeq !== undefined) out.push(largestLine('seq', r.largestSeq));
  return `${out.join('\n')}\n`;
}
