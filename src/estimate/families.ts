/**
 * The image families (vision towers, VLMs, EfficientNet, diffusion pipelines, GANs) as the
 * planner's shared code reaches them: one entry point per question plan.ts and flops.ts ask,
 * each answered by the family's own module.
 */
import type { PlanConfig } from '../protocol/config.ts';
import type { PlanTerm } from '../protocol/plan.ts';
import { type DiffusionResult, type TrainHelpers, diffusionForwardFlops, diffusionInference, diffusionTrain } from './diffusion.ts';
import { type DtypePlan, dtypePlan } from './dtypes.ts';
import { convWorkspace, efficientNetConvs, efficientNetForwardFlops, efficientNetInference, efficientNetTerms, efficientNetUnits } from './efficientnet.ts';
import { EstimateError } from './errors.ts';
import { ganForwardFlops, ganInference, ganTrain } from './gan.ts';
import { inventory } from './params.ts';
import type { Unit } from './schedule.ts';
import type { DiffusionSpec, EfficientNetSpec, GanSpec, ModelSpec, VitSpec, VlmSpec } from './specs.ts';
import { visionForwardFlops, visionInference, visionInputs, visionTrainTerms, vitUnits, vlmUnits } from './vision.ts';

/** Families that go through the planner's one-network training and inference paths. */
export type ImageNet = VitSpec | VlmSpec | EfficientNetSpec;

export function isImageFamily(spec: ModelSpec): spec is ImageNet {
  return spec.kind === 'vit' || spec.kind === 'vlm' || spec.kind === 'efficientnet';
}

/** Selective recompute drops attention scores: only models with attention have them. */
export function hasAttention(spec: ModelSpec): boolean {
  return spec.kind === 'transformer' || spec.kind === 'vit' || spec.kind === 'vlm';
}

export function layersOf(spec: ModelSpec): number {
  switch (spec.kind) {
    case 'transformer':
    case 'mlp':
      return spec.layers;
    case 'resnet':
      return spec.stages.reduce((a, b) => a + b, 0);
    case 'vit':
      return spec.layers;
    case 'vlm':
      return spec.vision.layers + spec.lm.layers;
    case 'efficientnet':
      return efficientNetConvs(spec, spec.imageSize).blocks;
    case 'diffusion':
      return spec.denoiser.kind === 'unet' ? spec.denoiser.shape.blockOut.length : spec.denoiser.shape.double + spec.denoiser.shape.single;
    case 'gan':
      return 10;
  }
}

export function familyInputs(spec: ImageNet, cfg: PlanConfig, b: number, _dt: DtypePlan): number {
  if (spec.kind === 'efficientnet') return b * (3 * cfg.imageSize * cfg.imageSize * 4 + 8);
  return visionInputs(spec, cfg, b);
}

/** cuDNN's convolution workspace (EfficientNet); transformers need none here. */
export function familyWorkspace(spec: ImageNet, cfg: PlanConfig, b: number, dt: DtypePlan): number {
  return spec.kind === 'efficientnet' ? convWorkspace(spec, cfg.imageSize, b, dt.compute) : 0;
}

export function familyUnits(spec: ImageNet, cfg: PlanConfig, dt: DtypePlan, grads: (b: number) => number, casts: (b: number) => number): Unit[] {
  if (spec.kind === 'efficientnet') return efficientNetUnits(spec, cfg, dt, grads, casts);
  if (spec.kind === 'vit') return vitUnits(spec, cfg, dt, grads, casts);
  return vlmUnits(spec, cfg, dt, grads, casts);
}

export function familyTerms(spec: ImageNet, cfg: PlanConfig, dt: DtypePlan, workspace: number): PlanTerm[] {
  if (spec.kind === 'efficientnet') return efficientNetTerms(spec, cfg, dt, workspace);
  return visionTrainTerms(spec, cfg, dt);
}

export function familyInference(spec: ImageNet, cfg: PlanConfig, dt: DtypePlan): { transient: number; at: string; kvCache: number; workspace: number; terms: PlanTerm[] } {
  if (spec.kind === 'efficientnet') {
    const transient = efficientNetInference(spec, cfg, dt);
    const workspace = convWorkspace(spec, cfg.imageSize, cfg.batch, dt.compute);
    const terms: PlanTerm[] = [
      { category: 'activations', label: 'largest conv input + output', bytes: transient, formula: 'no autograd: only the tensors of the running conv (input, output, the activation’s output)', source: 'PyTorch autocast op reference (torch.amp)' },
      ...efficientNetTerms(spec, cfg, dt, workspace),
    ];
    return { transient, at: 'largest conv', kvCache: 0, workspace, terms };
  }
  return { ...visionInference(spec, cfg, dt), workspace: 0 };
}

/** Diffusion pipelines and GANs: a plan of stages or alternating steps, not one network's step. */
export function pipelinePlan(spec: DiffusionSpec | GanSpec, cfg: PlanConfig, h: TrainHelpers): DiffusionResult {
  if (cfg.zero > 0 || cfg.gpus > 1) throw new EstimateError(`${spec.name}: the planner sizes one GPU for this family; use --gpus 1 --zero 0`);
  if (cfg.qlora) throw new EstimateError(`${spec.name}: QLoRA is for language models; use --lora-rank with a 16-bit base`);
  const dt = dtypePlan(cfg.precision, false);
  if (spec.kind === 'gan') {
    if (cfg.imageSize !== spec.imageSize) throw new EstimateError(`${spec.id} makes ${spec.imageSize}×${spec.imageSize} images (its layers fix the size): use --image-size ${spec.imageSize}`);
    if (cfg.mode === 'train') return ganTrain(spec, cfg, dt, h);
    const transient = ganInference(spec, cfg, dt);
    const inv = inventory(spec);
    const weights = inv.tensors.filter((t) => t.name.startsWith('G.')).reduce((a, t) => a + t.rows * t.cols, 0) * dt.param;
    const live = { weights, masterWeights: 0, gradients: 0, optimizer: 0, activations: transient, activationGrads: 0, logits: 0, kvCache: 0, inputs: cfg.batch * spec.nz * 4, workspace: 0 };
    const point = { label: 'generator forward', phase: 'forward' as const, live };
    const bytes = Object.values(live).reduce((a, x) => a + x, 0);
    return {
      sched: { points: [point], peak: { ...point, bytes }, max: live, recomputedUnits: 0 },
      terms: [
        { category: 'weights', label: 'generator weights', bytes: weights, formula: `G params × ${dt.param} B (the discriminator is not needed to sample)`, source: 'PyTorch DCGAN tutorial' },
        { category: 'activations', label: 'largest layer input + output', bytes: transient, formula: 'no autograd: the running layer’s input, output and BatchNorm output', source: 'PyTorch DCGAN tutorial' },
      ],
      notes: ['inference: the generator alone makes the batch'],
      trainable: 0,
      activations: transient,
    };
  }
  return cfg.mode === 'train' ? diffusionTrain(spec, cfg, dt, h) : diffusionInference(spec, cfg, dt);
}

export function familyForwardFlops(spec: ImageNet | DiffusionSpec | GanSpec, cfg: PlanConfig): { body: number; attentionCore: number; other: number } {
  switch (spec.kind) {
    case 'vit':
    case 'vlm':
      return visionForwardFlops(spec, cfg, inventory(spec));
    case 'efficientnet':
      return efficientNetForwardFlops(spec, cfg);
    case 'diffusion':
      return diffusionForwardFlops(spec, cfg);
    case 'gan':
      return ganForwardFlops(spec, cfg);
  }
}
