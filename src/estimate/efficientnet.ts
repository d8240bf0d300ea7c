/**
 * EfficientNet-B0…B7 as torchvision builds them (Tan & Le 2019, arXiv 1905.11946): a 3×3 stem,
 * MBConv blocks (1×1 expansion, depthwise k×k, squeeze-and-excitation, 1×1 projection, SiLU,
 * BatchNorm after every conv), a 1×1 head conv and a linear classifier. Compound scaling
 * widens the channels (rounded to multiples of 8), deepens the stages (ceil) and raises the
 * resolution. Training keeps, per conv, what BatchNorm and SiLU save for backward; BatchNorm's
 * saved statistics and cuDNN's convolution workspace are lines of their own.
 */
import type { PlanConfig } from '../protocol/config.ts';
import type { PlanTerm } from '../protocol/plan.ts';
import type { DtypePlan } from './dtypes.ts';
import type { Inventory, ParamTensor } from './params.ts';
import type { Unit } from './schedule.ts';

/** One stage of the base network: expand ratio, kernel, stride, in/out channels, blocks. */
export interface MbStage {
  expand: number;
  kernel: number;
  stride: number;
  inC: number;
  outC: number;
  blocks: number;
}

export interface EfficientNetSpec {
  kind: 'efficientnet';
  id: string;
  name: string;
  width: number;
  depth: number;
  /** The resolution the variant was trained at. */
  imageSize: number;
  classes: number;
  stages: readonly MbStage[];
}

/** torchvision's efficientnet base (B0) setting. */
export const B0_STAGES: readonly MbStage[] = [
  { expand: 1, kernel: 3, stride: 1, inC: 32, outC: 16, blocks: 1 },
  { expand: 6, kernel: 3, stride: 2, inC: 16, outC: 24, blocks: 2 },
  { expand: 6, kernel: 5, stride: 2, inC: 24, outC: 40, blocks: 2 },
  { expand: 6, kernel: 3, stride: 2, inC: 40, outC: 80, blocks: 3 },
  { expand: 6, kernel: 5, stride: 1, inC: 80, outC: 112, blocks: 3 },
  { expand: 6, kernel: 5, stride: 2, inC: 112, outC: 192, blocks: 4 },
  { expand: 6, kernel: 3, stride: 1, inC: 192, outC: 320, blocks: 1 },
];

/** torchvision's _make_divisible(v, 8): nearest multiple of 8, never below 90 % of v. */
export function makeDivisible(v: number, divisor = 8): number {
  let n = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (n < 0.9 * v) n += divisor;
  return n;
}

/** One convolution: groups = inC for a depthwise conv; BN after it unless it is an SE conv (those have a bias). */
export interface EffConv {
  name: string;
  inC: number;
  outC: number;
  k: number;
  stride: number;
  groups: number;
  /** Index of its block: −1 stem, 0…n−1 the MBConv blocks, n the head. */
  block: number;
  bn: boolean;
  /** Input side in pixels (square). */
  inSide: number;
  outSide: number;
}

const outSide = (side: number, k: number, stride: number) => Math.floor((side + 2 * Math.floor((k - 1) / 2) - k) / stride) + 1;

/** Every conv in forward order, with its spatial sides at `imageSize`, and the classifier's input width. */
export function efficientNetConvs(s: EfficientNetSpec, imageSize: number): { convs: EffConv[]; blocks: number; headC: number } {
  const ch = (c: number) => makeDivisible(c * s.width);
  const convs: EffConv[] = [];
  let side = imageSize;
  const push = (c: Omit<EffConv, 'outSide' | 'inSide'>) => {
    const o = outSide(side, c.k, c.stride);
    convs.push({ ...c, inSide: side, outSide: o });
    side = o;
  };
  const stem = ch(s.stages[0]!.inC);
  push({ name: 'stem', inC: 3, outC: stem, k: 3, stride: 2, groups: 1, block: -1, bn: true });
  let b = 0;
  for (const st of s.stages) {
    const n = Math.ceil(st.blocks * s.depth);
    for (let i = 0; i < n; i++, b++) {
      const inC = i === 0 ? ch(st.inC) : ch(st.outC);
      const outC = ch(st.outC);
      const stride = i === 0 ? st.stride : 1;
      const expanded = makeDivisible(inC * st.expand);
      const p = `features.${b}`;
      if (expanded !== inC) push({ name: `${p}.expand`, inC, outC: expanded, k: 1, stride: 1, groups: 1, block: b, bn: true });
      push({ name: `${p}.depthwise`, inC: expanded, outC: expanded, k: st.kernel, stride, groups: expanded, block: b, bn: true });
      const squeeze = Math.max(1, Math.floor(inC / 4));
      const here = side;
      convs.push({ name: `${p}.se.fc1`, inC: expanded, outC: squeeze, k: 1, stride: 1, groups: 1, block: b, bn: false, inSide: 1, outSide: 1 });
      convs.push({ name: `${p}.se.fc2`, inC: squeeze, outC: expanded, k: 1, stride: 1, groups: 1, block: b, bn: false, inSide: 1, outSide: 1 });
      side = here;
      push({ name: `${p}.project`, inC: expanded, outC, k: 1, stride: 1, groups: 1, block: b, bn: true });
    }
  }
  const lastIn = ch(s.stages.at(-1)!.outC);
  const headC = 4 * lastIn;
  push({ name: 'head', inC: lastIn, outC: headC, k: 1, stride: 1, groups: 1, block: b, bn: true });
  return { convs, blocks: b, headC };
}

export function efficientNetInventory(s: EfficientNetSpec): Inventory {
  const { convs, blocks, headC } = efficientNetConvs(s, s.imageSize);
  const t: ParamTensor[] = [];
  let bnChannels = 0;
  let bns = 0;
  for (const c of convs) {
    t.push({ name: `${c.name}.weight`, rows: c.outC, cols: (c.inC / c.groups) * c.k * c.k, block: c.block, matmul: true, loraTarget: false });
    if (c.bn) {
      t.push({ name: `${c.name}.bn`, rows: 2, cols: c.outC, block: c.block, matmul: false, loraTarget: false });
      bnChannels += c.outC;
      bns++;
    } else {
      t.push({ name: `${c.name}.bias`, rows: 1, cols: c.outC, block: c.block, matmul: false, loraTarget: false });
    }
  }
  t.push({ name: 'classifier.weight', rows: headC, cols: s.classes, block: blocks, matmul: true, loraTarget: false });
  t.push({ name: 'classifier.bias', rows: 1, cols: s.classes, block: blocks, matmul: false, loraTarget: false });
  // running_mean and running_var (fp32) per channel and num_batches_tracked (int64) per BatchNorm.
  return { tensors: t, bufferBytes: bnChannels * 2 * 4 + bns * 8, tiedHeadElems: 0 };
}

/** save_mean and save_invstd (fp32) per channel of every BatchNorm: per batch, not per sample. */
export function bnSavedStats(s: EfficientNetSpec, imageSize: number): number {
  return efficientNetConvs(s, imageSize).convs.reduce((a, c) => a + (c.bn ? 2 * 4 * c.outC : 0), 0);
}

/**
 * cuDNN workspace of a GEMM-based algorithm: the im2col matrix of the largest dense conv
 * (in/groups · k² · H'·W' per sample). Depthwise convs run without one. cudnn.benchmark may
 * pick an implicit-GEMM algorithm that needs none, so this is an upper bound.
 */
export function convWorkspace(s: EfficientNetSpec, imageSize: number, b: number, c: number): number {
  const { convs } = efficientNetConvs(s, imageSize);
  return b * c * Math.max(...convs.filter((x) => x.groups === 1 && x.outSide > 1).map((x) => (x.inC / x.groups) * x.k * x.k * x.outSide * x.outSide));
}

const unit = (u: Partial<Unit> & Pick<Unit, 'name'>): Unit => ({
  category: 'activations',
  saved: 0,
  selective: 0,
  checkpointInput: 0,
  fwdTransient: 0,
  bwdTransient: 0,
  castBytes: 0,
  gradBytes: 0,
  recomputable: false,
  ...u,
});

/**
 * Units of a torchvision EfficientNet training step, bytes for the micro-batch. Per conv
 * with BatchNorm and SiLU (not in place in torchvision): the conv output (kept by BN), BN's
 * output (kept by SiLU) and SiLU's output (kept by the next conv or SE's multiply); SE keeps
 * its scaled output for the projection; the projection keeps its conv output and the block's
 * output (its BN output, or the residual sum), which the next block's first conv keeps.
 */
export function efficientNetUnits(s: EfficientNetSpec, cfg: PlanConfig, dt: DtypePlan, grads: (b: number) => number, casts: (b: number) => number): Unit[] {
  const b = cfg.microBatch ?? cfg.batch;
  const c = dt.compute;
  const { convs, blocks, headC } = efficientNetConvs(s, cfg.imageSize);
  const units: Unit[] = [];
  const stats = (x: EffConv) => (x.bn ? 2 * 4 * x.outC : 0);
  const out = (x: EffConv) => c * x.outC * x.outSide * x.outSide;
  const stem = convs[0]!;
  const imageCast = dt.autocast ? c * 3 * cfg.imageSize * cfg.imageSize : 0;
  units.push(unit({ name: 'stem', saved: b * (imageCast + 3 * out(stem)) + stats(stem), fwdTransient: b * out(stem), bwdTransient: b * 3 * out(stem), gradBytes: grads(-1), castBytes: casts(-1) }));
  for (let blk = 0; blk <= blocks; blk++) {
    const list = convs.filter((x) => x.block === blk);
    let saved = 0;
    let largest = 0;
    for (const x of list) {
      if (!x.bn) continue; // SE's 1×1 convs on a pooled vector: a few KiB
      largest = Math.max(largest, out(x), c * x.inC * x.inSide * x.inSide);
      // Projection: conv out + block output; others: conv out, BN out, SiLU out (+ SE's product after the depthwise conv).
      if (x.name.endsWith('.project')) saved += 2 * out(x);
      else saved += (x.name.endsWith('.depthwise') ? 4 : 3) * out(x);
    }
    const first = list[0]!;
    const isHead = blk === blocks;
    units.push(
      unit({
        name: isHead ? 'head conv' : `MBConv block ${blk}`,
        saved: b * saved + list.reduce((a, x) => a + stats(x), 0),
        checkpointInput: isHead ? 0 : b * c * first.inC * first.inSide * first.inSide,
        fwdTransient: b * largest,
        bwdTransient: b * 3 * largest,
        gradBytes: grads(blk),
        castBytes: casts(blk),
        recomputable: !isHead,
      }),
    );
  }
  // Pool, dropout (mask + output, kept by the classifier), logits and loss (fp32).
  units.push(unit({ name: 'pool, classifier and loss', category: 'logits', saved: b * (headC + c * headC + 2 * 4 * s.classes), castBytes: 0, gradBytes: 0 }));
  return units;
}

export function efficientNetTerms(s: EfficientNetSpec, cfg: PlanConfig, dt: DtypePlan, workspace: number): PlanTerm[] {
  const b = cfg.microBatch ?? cfg.batch;
  const { convs } = efficientNetConvs(s, cfg.imageSize);
  const bns = convs.filter((x) => x.bn).length;
  const terms: PlanTerm[] = [];
  if (cfg.mode === 'train') {
    terms.push({
      category: 'activations',
      label: 'BatchNorm saved statistics',
      bytes: bnSavedStats(s, cfg.imageSize),
      formula: `save_mean + save_invstd: 2 × 4 B per channel of ${bns} BatchNorms (per batch, not per sample)`,
      source: 'PyTorch native_batch_norm (cuDNN) saved tensors',
    });
  }
  terms.push({
    category: 'workspace',
    label: 'cuDNN convolution workspace',
    bytes: workspace,
    formula: `im2col of the largest dense conv: batch ${b} × in·k²·H′·W′ × ${dt.compute} B (an upper bound: implicit-GEMM algorithms need none)`,
    source: 'cuDNN developer guide, cudnnGetConvolutionForwardWorkspaceSize',
  });
  return terms;
}

/** Inference: the largest conv's input and output (and SE's product) at once, per sample × batch. */
export function efficientNetInference(s: EfficientNetSpec, cfg: PlanConfig, dt: DtypePlan): number {
  const c = dt.compute;
  const { convs } = efficientNetConvs(s, cfg.imageSize);
  return cfg.batch * Math.max(...convs.map((x) => c * (x.inC * x.inSide * x.inSide + 2 * x.outC * x.outSide * x.outSide)));
}

export function efficientNetForwardFlops(s: EfficientNetSpec, cfg: PlanConfig): { body: number; attentionCore: number; other: number } {
  const { convs, headC } = efficientNetConvs(s, cfg.imageSize);
  const body = convs.reduce((a, x) => a + 2 * x.outC * (x.inC / x.groups) * x.k * x.k * x.outSide * x.outSide, 0);
  return { body: body * cfg.batch, attentionCore: 0, other: 2 * headC * s.classes * cfg.batch };
}

/** torchvision's compound coefficients (width, depth, resolution) for B0…B7. */
const SCALING: readonly [number, number, number][] = [
  [1.0, 1.0, 224],
  [1.0, 1.1, 240],
  [1.1, 1.2, 288],
  [1.2, 1.4, 300],
  [1.4, 1.8, 380],
  [1.6, 2.2, 456],
  [1.8, 2.6, 528],
  [2.0, 3.1, 600],
];

const PUBLISHED = ['5.3M', '7.8M', '9.1M', '12.2M', '19.3M', '30.4M', '43.0M', '66.3M'];

export const EFFICIENTNET_PRESETS: Record<string, Omit<EfficientNetSpec, 'kind' | 'id'>> = Object.fromEntries(
  SCALING.map(([width, depth, imageSize], i) => [`efficientnet-b${i}`, { name: `EfficientNet-B${i} (${PUBLISHED[i]})`, width, depth, imageSize, classes: 1000, stages: B0_STAGES }]),
);
