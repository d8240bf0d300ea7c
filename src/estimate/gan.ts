/**
 * DCGAN (Radford et al. 2015, arXiv 1511.06434) as the PyTorch tutorial trains it: a generator
 * of transposed convs (BatchNorm, in-place ReLU, Tanh) and a discriminator of strided convs
 * (BatchNorm, in-place LeakyReLU, Sigmoid), each with its own Adam. One iteration alternates:
 * the D step (D on real images, backward; G makes fakes, kept with their graph; D on the
 * detached fakes, backward; D's optimizer step), then the G step (D on the fakes again,
 * backward through D into G; G's optimizer step). G's gradients from the last iteration live
 * through the D step and D's through the G step (zero_grad sets them to None only at the start
 * of each step). The peak is the largest point of either step, and the plan names the step.
 */
import type { PlanConfig } from '../protocol/config.ts';
import { type CategoryBytes, type PlanTerm, zeroCategories } from '../protocol/plan.ts';
import type { DtypePlan } from './dtypes.ts';
import { EstimateError } from './errors.ts';
import type { Inventory, ParamTensor } from './params.ts';
import { type Schedule, type TimelinePoint, type Unit, schedule, sumBytes } from './schedule.ts';
import type { DiffusionResult, TrainHelpers } from './diffusion.ts';

export interface GanSpec {
  kind: 'gan';
  id: string;
  name: string;
  /** Latent vector length, generator and discriminator feature widths, image channels. */
  nz: number;
  ngf: number;
  ndf: number;
  nc: number;
  imageSize: number;
}

interface GanLayer {
  name: string;
  net: 'G' | 'D';
  inC: number;
  outC: number;
  /** Output side in pixels. */
  side: number;
  bn: boolean;
}

/** The tutorial's layers: 4×4 kernels, ×2 per layer from 4 to 64 pixels (G) and back (D). */
export function ganLayers(s: GanSpec): GanLayer[] {
  const g = [s.ngf * 8, s.ngf * 4, s.ngf * 2, s.ngf];
  const d = [s.ndf, s.ndf * 2, s.ndf * 4, s.ndf * 8];
  const G: GanLayer[] = [];
  let inC = s.nz;
  g.forEach((c, i) => {
    G.push({ name: `G.main.${i}`, net: 'G', inC, outC: c, side: 4 << i, bn: true });
    inC = c;
  });
  G.push({ name: 'G.main.out', net: 'G', inC, outC: s.nc, side: 64, bn: false });
  const D: GanLayer[] = [];
  inC = s.nc;
  d.forEach((c, i) => {
    D.push({ name: `D.main.${i}`, net: 'D', inC, outC: c, side: 32 >> i, bn: i > 0 });
    inC = c;
  });
  D.push({ name: 'D.main.out', net: 'D', inC, outC: 1, side: 1, bn: false });
  return [...G, ...D];
}

export function ganInventory(s: GanSpec): Inventory {
  const t: ParamTensor[] = [];
  let bnC = 0;
  let bns = 0;
  ganLayers(s).forEach((l, i) => {
    // ConvTranspose2d weights are in × out × 4 × 4, Conv2d out × in × 4 × 4; no biases (BatchNorm follows).
    t.push({ name: `${l.name}.weight`, rows: l.outC, cols: l.inC * 16, block: i, matmul: true, loraTarget: false });
    if (l.bn) {
      t.push({ name: `${l.name}.bn`, rows: 2, cols: l.outC, block: i, matmul: false, loraTarget: false });
      bnC += l.outC;
      bns++;
    }
  });
  return { tensors: t, bufferBytes: bnC * 8 + bns * 8, tiedHeadElems: 0 };
}

const unit = (u: Partial<Unit> & Pick<Unit, 'name'>): Unit => ({ category: 'activations', saved: 0, selective: 0, checkpointInput: 0, fwdTransient: 0, bwdTransient: 0, castBytes: 0, gradBytes: 0, recomputable: false, ...u });

/**
 * Per layer, for the batch: BatchNorm keeps the conv output, the in-place ReLU/LeakyReLU its
 * output (the next conv's input); the last G layer's Tanh keeps its output (the fakes), D's
 * Sigmoid and BCELoss keep a value per sample; save_mean/save_invstd per BatchNorm channel.
 */
function unitsOf(layers: GanLayer[], b: number, dt: DtypePlan, grads: (l: GanLayer) => number, first: number): Unit[] {
  const c = dt.compute;
  return layers.map((l, i) => {
    const out = c * l.outC * l.side * l.side;
    const isOut = l.name.endsWith('.out');
    const saved = b * (isOut ? (l.net === 'G' ? out : 3 * 4) : (l.bn ? 2 : 1) * out) + (l.bn ? 8 * l.outC : 0) + (i === 0 ? b * first : 0);
    return unit({ name: l.name, saved, fwdTransient: b * out, bwdTransient: b * 3 * out, gradBytes: grads(l) });
  });
}

export function ganTrain(s: GanSpec, cfg: PlanConfig, dt: DtypePlan, h: TrainHelpers): DiffusionResult {
  if (cfg.loraRank > 0) throw new EstimateError('dcgan trains both networks in full: use --lora-rank 0');
  if (cfg.checkpoint !== 'none') throw new EstimateError('dcgan: checkpointing a 5-layer network saves next to nothing; use --checkpoint none');
  if (cfg.imageSize !== s.imageSize) throw new EstimateError(`dcgan makes ${s.imageSize}×${s.imageSize} images (its layers fix the size): use --image-size ${s.imageSize}`);
  const b = cfg.microBatch ?? cfg.batch;
  const inv = ganInventory(s);
  const layers = ganLayers(s);
  const numelOf = (net: 'G' | 'D') => inv.tensors.filter((t) => t.name.startsWith(`${net}.`)).reduce((a, t) => a + t.rows * t.cols, 0);
  const P = { G: numelOf('G'), D: numelOf('D') };
  const gradPer = dt.grad;
  const layerGrad = (l: GanLayer) => inv.tensors.filter((t) => t.name.startsWith(`${l.name}.`)).reduce((a, t) => a + t.rows * t.cols, 0) * gradPer;
  const stateBytes = dt.autocast ? 4 : dt.param;
  const tensorsOf = (net: 'G' | 'D') => inv.tensors.filter((t) => t.name.startsWith(`${net}.`)).map((t) => ({ numel: t.rows * t.cols, rows: t.rows, cols: t.cols, block: t.block }));
  const optG = h.optimizer(tensorsOf('G'), stateBytes);
  const optD = h.optimizer(tensorsOf('D'), stateBytes);
  const c = dt.compute;
  const G = layers.filter((l) => l.net === 'G');
  const D = layers.filter((l) => l.net === 'D');
  const noise = c * s.nz;
  const base = zeroCategories();
  // Autocast's 16-bit weight copies live for the step (its cache is cleared when the region ends).
  base.weights = (P.G + P.D) * dt.param + inv.bufferBytes + (dt.autocast ? 2 * (P.G + P.D) : 0);
  base.masterWeights = 0;
  base.optimizer = optG.bytes + optD.bytes;
  base.inputs = b * (s.nc * s.imageSize * s.imageSize * 4 + s.nz * 4 + 4);
  const gUnits = unitsOf(G, b, dt, layerGrad, noise);
  const gSaved = gUnits.reduce((a, u) => a + u.saved, 0);

  // D step, real batch: G's gradients from the last G step are still allocated.
  const real = schedule({ units: unitsOf(D, b, dt, layerGrad, 0), persistent: { ...base, gradients: P.G * gradPer }, checkpoint: 'none', gradsPersist: false, gradBytes: P.D * gradPer, optimizerTemp: 0, castCachedUntilForwardEnd: false });
  // D's first conv keeps its input: the real batch (an input) or the fakes (G's Tanh output), never a copy.
  // D step, fakes: G's forward graph is kept for the G step; D's gradients exist and accumulate.
  const fake = schedule({ units: unitsOf(D, b, dt, () => 0, 0), persistent: { ...base, gradients: P.G * gradPer + P.D * gradPer, activations: gSaved }, checkpoint: 'none', gradsPersist: false, gradBytes: 0, optimizerTemp: optD.temp, castCachedUntilForwardEnd: false });
  // G step: D on the fakes again and backward through D into G; D's gradients are still allocated.
  const gStep = schedule({ units: [...gUnits, ...unitsOf(D, b, dt, () => 0, 0)], persistent: { ...base, gradients: P.D * gradPer }, checkpoint: 'none', gradsPersist: false, gradBytes: P.G * gradPer, optimizerTemp: optG.temp, castCachedUntilForwardEnd: false });

  const tag = (label: string, sc: Schedule): TimelinePoint[] => sc.points.map((p) => ({ ...p, label: `${label}: ${p.label}` }));
  const points = [...tag('D step (real)', real), ...tag('D step (fake)', fake), ...tag('G step', gStep)];
  const peak = points.reduce((a, p) => (sumBytes(p.live) > sumBytes(a.live) ? p : a));
  const max = zeroCategories();
  for (const p of points) for (const k of Object.keys(max) as (keyof CategoryBytes)[]) max[k] = Math.max(max[k], p.live[k]);
  const sched: Schedule = { points, peak: { ...peak, bytes: sumBytes(peak.live) }, max, recomputedUnits: 0 };
  const step = peak.label.split(':')[0]!;
  const terms: PlanTerm[] = [
    { category: 'weights', label: 'weights (G and D)', bytes: max.weights, formula: `G ${P.G.toLocaleString('en-US')} + D ${P.D.toLocaleString('en-US')} params × ${dt.param} B + BatchNorm running stats`, source: 'PyTorch DCGAN tutorial' },
    { category: 'gradients', label: 'gradients (G and D)', bytes: max.gradients, formula: `each network's gradients live until its next zero_grad: up to (G + D) × ${gradPer} B`, source: 'torch.optim.Optimizer.zero_grad(set_to_none=True)' },
    { category: 'optimizer', label: `two ${cfg.optimizer} optimizers`, bytes: max.optimizer, formula: `${optG.formula}, for G and for D`, source: optG.source },
    { category: 'activations', label: 'G activations kept for the G step', bytes: gSaved, formula: `batch ${b}: per layer the conv-transpose output (BatchNorm) and the ReLU output; Tanh's output (the fakes)`, source: 'PyTorch DCGAN tutorial (fake = netG(noise) reused in the G step)' },
    { category: 'activationGrads', label: 'activation gradients (backward, transient)', bytes: max.activationGrads, formula: 'largest set alive in one layer’s backward', source: 'PyTorch autocast op reference (torch.amp)' },
  ];
  const notes = [
    `peak in the ${step}: ${peak.label.slice(step.length + 2)}`, 'one iteration: D on real (backward), G forward, D on fakes (backward), D optimizer step, then D on fakes again (backward into G), G optimizer step',
  ];
  if (dt.autocast) notes.push('autocast: BCELoss refuses it (PyTorch raises "unsafe to autocast"), so this counts the usual fix, BCEWithLogitsLoss on D\'s logits (no Sigmoid)');
  return { sched, terms, notes, trainable: P.G + P.D, activations: max.activations };
}

/** Inference: the generator alone makes a batch of images, one layer at a time. */
export function ganInference(s: GanSpec, cfg: PlanConfig, dt: DtypePlan): number {
  const c = dt.compute;
  return cfg.batch * Math.max(...ganLayers(s).filter((l) => l.net === 'G').map((l) => c * (l.inC * (l.side / 2) ** 2 + 2 * l.outC * l.side * l.side)));
}

export function ganForwardFlops(s: GanSpec, cfg: PlanConfig): { body: number; attentionCore: number; other: number } {
  // A 4×4 conv (or transposed conv) costs 2·in·out·16 per output (input) pixel.
  const f = ganLayers(s).reduce((a, l) => a + 2 * l.inC * l.outC * 16 * (l.net === 'G' ? Math.max(1, l.side / 2) ** 2 : l.side * l.side), 0);
  return { body: f * cfg.batch, attentionCore: 0, other: 0 };
}

export const GAN_PRESETS: Record<string, Omit<GanSpec, 'kind' | 'id'>> = {
  dcgan: { name: 'DCGAN (64×64, PyTorch tutorial)', nz: 100, ngf: 64, ndf: 64, nc: 3, imageSize: 64 },
};
