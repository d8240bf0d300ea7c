/**
 * What the planner returns. Shared by the UI, the CLI and (later) the engine's report so an
 * estimate and a measurement can be drawn side by side with the same category names.
 */

/** Memory categories of an estimate. Every byte of `Plan.bytes` falls in exactly one. */
export const PLAN_CATEGORIES = [
  'weights',
  'masterWeights',
  'gradients',
  'optimizer',
  'activations',
  'activationGrads',
  'logits',
  'kvCache',
  'inputs',
  'workspace',
] as const;
export type PlanCategory = (typeof PLAN_CATEGORIES)[number];
export type CategoryBytes = Record<PlanCategory, number>;

/** How each category is named on screen and in the CLI. */
export const CATEGORY_LABELS: Record<PlanCategory, string> = {
  weights: 'weights',
  masterWeights: 'master weights',
  gradients: 'gradients',
  optimizer: 'optimizer states',
  activations: 'activations',
  activationGrads: 'activation gradients',
  logits: 'logits',
  kvCache: 'KV cache',
  inputs: 'inputs',
  workspace: 'workspace',
};

export const PHASES = ['forward', 'backward', 'optimizer'] as const;
export type Phase = (typeof PHASES)[number];

/** Moments of an engine op an estimate point describes (Plan.timeline). */
export const OP_MOMENTS = ['max', 'end'] as const;
export type OpMoment = (typeof OP_MOMENTS)[number];

/** One line of the breakdown: which formula gave how many bytes, and where it comes from. */
export interface PlanTerm {
  category: PlanCategory;
  /** Short label, e.g. "attention scores (eager)". */
  label: string;
  bytes: number;
  /** The formula in words and symbols, e.g. "5·a·s²·b × 2 B × L". */
  formula: string;
  /** Citation, e.g. "Korthikanti et al. 2022, arXiv 2205.05198". */
  source: string;
}

export interface GpuFit {
  gpu: string;
  memoryBytes: number;
  fits: boolean;
  /** memoryBytes − (peak + context + allocator overhead); negative when it does not fit. */
  headroomBytes: number;
}

export interface ModelSummary {
  id: string;
  /** Human name, e.g. "GPT-2 small (124M)". */
  name: string;
  family: 'mlp' | 'gpt2' | 'bert' | 'llama' | 'resnet' | 'vit' | 'vlm' | 'efficientnet' | 'diffusion' | 'gan';
  params: number;
  trainableParams: number;
  /** Mixture of experts: parameters a token passes through (routed experts at k / E). */
  activeParams?: number;
  layers: number;
}

export interface Plan {
  model: ModelSummary;
  params: number;
  trainableParams: number;
  /** Per GPU. The most each category holds at any point of the step. */
  bytes: CategoryBytes;
  /** What `torch.cuda.max_memory_allocated()` reports (framework pytorch) or the ledger's peak. */
  peak: { bytes: number; phase: Phase; alive: CategoryBytes; at: string };
  /** params × 4 B × (1 + 1 + 2) + activations: the rule of thumb users already know. */
  textbook: { bytes: number; formula: string };
  /**
   * Live bytes by category at each point of the step, in order (forward, backward, optimizer).
   * With framework vramlab every point names the engine's ledger op it describes (`op`, a
   * label of RunReport.timeline such as 'forward block 0') and which moment of it (`at`):
   * 'max' the most bytes live while the op runs (its start included), 'end' the bytes live
   * when it has finished. Each op has its 'max' point, then its 'end' point.
   */
  timeline: { label: string; phase: Phase; bytes: CategoryBytes; op?: string; at?: OpMoment }[];
  /** Outside `peak`: the CUDA context and the caching allocator's rounding and fragmentation. */
  overhead: { cudaContextBytes: number; allocatorBytes: number };
  /** peak + overhead: what nvidia-smi would show. */
  totalBytes: number;
  fits: GpuFit[];
  terms: PlanTerm[];
  notes: string[];
}

export function zeroCategories(): CategoryBytes {
  return {
    weights: 0,
    masterWeights: 0,
    gradients: 0,
    optimizer: 0,
    activations: 0,
    activationGrads: 0,
    logits: 0,
    kvCache: 0,
    inputs: 0,
    workspace: 0,
  };
}
