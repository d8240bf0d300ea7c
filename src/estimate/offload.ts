/**
 * Offload: states, parameters or checkpointed activations kept in host memory (or on NVMe)
 * instead of the GPU, and for inference the layers and KV cache llama.cpp leaves on the host.
 * The GPU peak drops; host RAM per node becomes a second budget.
 *
 * Sources: Ren et al. 2021, "ZeRO-Offload", arXiv 2101.06840; Rajbhandari et al. 2021,
 * "ZeRO-Infinity", arXiv 2104.07857; DeepSpeed memory docs (estimate_zero2/3_model_states_mem_needs);
 * PyTorch FSDP CPUOffload; llama.cpp --n-gpu-layers and --no-kv-offload.
 */
import type { OffloadTarget, PlanConfig } from '../protocol/config.ts';
import type { CategoryBytes, HostFigures } from '../protocol/plan.ts';
import { EstimateError } from './errors.ts';
import type { Unit } from './schedule.ts';

export const OFFLOAD_SOURCES = {
  zeroOffload: 'Ren et al. 2021, "ZeRO-Offload", arXiv 2101.06840; DeepSpeed offload_optimizer / offload_param',
  infinity: 'Rajbhandari et al. 2021, "ZeRO-Infinity", arXiv 2104.07857 (NVMe, aio staging buffers)',
  deepspeedDocs: 'DeepSpeed memory docs: estimate_zero2_model_states_mem_needs, estimate_zero3_model_states_mem_needs',
  llamaCpp: 'llama.cpp --n-gpu-layers (the last n layers on the GPU, the output layer too once n exceeds the layers) and --no-kv-offload',
} as const;

const GiB = 2 ** 30;

/** DeepSpeed ZeRO-Infinity aio staging for NVMe: buffer_count 5 × buffer_size 1e8 values × 2 B, pinned. */
export const NVME_STAGING_BYTES = 5 * 1e8 * 2;

export interface Offload {
  optimizer: boolean;
  params: boolean;
  activations: boolean;
  to: OffloadTarget;
}

/** The offload a config asks for, checked against the ZeRO stage and checkpointing; null for none. */
export function offloadOf(cfg: PlanConfig): Offload | null {
  const o = cfg.offload;
  if (!o || !(o.optimizer || o.params || o.activations)) return null;
  if (cfg.framework === 'vramlab') throw new EstimateError('framework vramlab keeps everything on the device: drop --offload, or use --framework pytorch');
  if (o.params && cfg.zero !== 3) {
    throw new EstimateError('--offload params needs --zero 3: parameters can leave the GPU only when they are sharded and gathered layer by layer (ZeRO-3 / FSDP)');
  }
  if (o.activations && cfg.checkpoint !== 'full' && cfg.checkpoint !== 'sqrt') {
    throw new EstimateError('--offload activations moves the checkpointed layer inputs to the host; set --checkpoint full or sqrt');
  }
  return { optimizer: o.optimizer === true, params: o.params === true, activations: o.activations === true, to: o.to ?? 'cpu' };
}

/** GPUs whose processes share one host: --gpus-per-node, default 8 (fewer when there are fewer). */
export const gpusPerNode = (cfg: PlanConfig): number => Math.min(cfg.gpus, cfg.gpusPerNode ?? 8);

/** The parts of a training step's state an offload can move. */
export interface StepParts {
  units: Unit[];
  persistent: CategoryBytes;
  gradBytes: number;
  optimizerTemp: number;
  gradsPersist: boolean;
}

export interface HostPart {
  what: string;
  bytes: number;
  assumes: string;
}

/**
 * Moves what `o` names off the GPU, in place, and returns what lands on the host (per GPU
 * process) and the GPU buffers the move needs.
 * - optimizer (ZeRO-Offload): fp32 master weights, optimizer states and the fp32 gradient
 *   partition live on the host, where the optimizer steps; each unit's 16-bit gradients stream
 *   out during its backward; the updated 16-bit parameters come back through a pinned copy.
 * - params (ZeRO-3 offload_param / FSDP offload_params): the 16-bit parameter shard lives on the
 *   host and is gathered layer by layer (the gather buffers stay on the GPU).
 * - activations: each checkpointed layer input goes to the host after its forward and is
 *   fetched back before its backward; two stay on the GPU (the one in use and the next).
 */
export function applyOffload(
  o: Offload,
  step: StepParts,
  info: { fp32GradBytes: number; halfParamBytes: number; bufferBytes: number; checkpoint: PlanConfig['checkpoint']; inFlight: number },
): { host: HostPart[]; gpu: HostPart[] } {
  const host: HostPart[] = [];
  const gpu: HostPart[] = [];
  const p = step.persistent;
  if (o.optimizer) {
    host.push({ what: 'fp32 master weights', bytes: p.masterWeights, assumes: 'the shard of this GPU' });
    host.push({ what: 'optimizer states', bytes: p.optimizer, assumes: 'the shard of this GPU; the step runs on the CPU (DeepSpeedCPUAdam)' });
    host.push({ what: 'fp32 gradients', bytes: info.fp32GradBytes, assumes: 'the shard of this GPU, upcast for the CPU step' });
    host.push({ what: 'pinned 16-bit parameter copy', bytes: info.halfParamBytes, assumes: 'updated parameters copied back to the GPU after the CPU step' });
    p.masterWeights = 0;
    p.optimizer = 0;
    step.optimizerTemp = 0;
    // Each unit's gradients exist on the GPU only during its backward, on their way out.
    step.units = step.units.map((u) => ({ ...u, gradBytes: 0, bwdTransient: u.bwdTransient + u.gradBytes }));
    step.gradBytes = 0;
    step.gradsPersist = false;
  }
  if (o.params) {
    // Module buffers (RoPE frequencies, BatchNorm statistics) are not parameters: they stay.
    host.push({ what: '16-bit parameters', bytes: p.weights - info.bufferBytes, assumes: 'the ZeRO-3 shard of this GPU; gathered into the GPU layer by layer' });
    p.weights = info.bufferBytes;
  }
  if (o.activations && (info.checkpoint === 'full' || info.checkpoint === 'sqrt')) {
    // The kept inputs (every layer's under full, each ⌈√n⌉-segment's first under sqrt, as the
    // schedule keeps them) leave after their forward: one is copied out while the next layer
    // runs forward, and the previous one is fetched back while a segment runs backward.
    const body = step.units.map((u, i) => (u.recomputable ? i : -1)).filter((i) => i >= 0);
    const seg = info.checkpoint === 'full' ? 1 : Math.max(1, Math.ceil(Math.sqrt(body.length)));
    const keeperOf = (k: number) => body[k - (k % seg)]!;
    const total = body.reduce((a, i, k) => a + (k % seg === 0 ? step.units[i]!.checkpointInput : 0), 0);
    host.push({ what: 'checkpointed layer inputs', bytes: total * info.inFlight, assumes: `each kept layer input after its forward${info.inFlight > 1 ? `, × ${info.inFlight} micro-batches in flight` : ''}` });
    const fwd = new Map<number, number>();
    const bwd = new Map<number, number>();
    body.forEach((i, k) => {
      if (k % seg === 0 && k + 1 < body.length) fwd.set(body[k + 1]!, step.units[i]!.checkpointInput);
      if (k >= seg) bwd.set(i, step.units[keeperOf(k - seg)]!.checkpointInput);
    });
    step.units = step.units.map((u, i) =>
      u.recomputable ? { ...u, checkpointInput: 0, fwdTransient: u.fwdTransient + (fwd.get(i) ?? 0), bwdTransient: u.bwdTransient + (bwd.get(i) ?? 0) } : u,
    );
  }
  return { host, gpu };
}

/**
 * Host figures of a node from one GPU process's host parts (the worst rank's: a node is assumed
 * to hold ranks that need as much). NVMe offload keeps the parts on NVMe and only the pinned
 * aio staging buffers in host RAM.
 */
export function hostFigures(cfg: PlanConfig, parts: HostPart[], to: OffloadTarget): HostFigures {
  const perNode = gpusPerNode(cfg);
  const moved = parts.reduce((a, b) => a + b.bytes, 0);
  const shown = to === 'nvme' ? [...parts.map((x) => ({ ...x, what: `${x.what} (on NVMe)` })), { what: 'pinned NVMe staging', bytes: NVME_STAGING_BYTES, assumes: 'aio buffers: buffer_count 5 × buffer_size 1e8 values × 2 B' }] : parts;
  const bytesPerGpu = Math.round(to === 'nvme' ? NVME_STAGING_BYTES : moved);
  const bytesPerNode = bytesPerGpu * perNode;
  const budget = cfg.hostMemoryGiB === undefined ? undefined : Math.round(cfg.hostMemoryGiB * GiB);
  return {
    bytesPerNode,
    bytesPerGpu,
    nvmeBytesPerNode: to === 'nvme' ? Math.round(moved) * perNode : 0,
    gpusPerNode: perNode,
    ...(budget === undefined ? {} : { budgetBytes: budget, fits: bytesPerNode <= budget }),
    parts: shown.map((x) => ({ ...x, bytes: Math.round(x.bytes) })),
  };
}

/**
 * DeepSpeed's published model-state estimates (its memory docs), per GPU and per node, for
 * mixed-precision Adam: ZeRO-2 ≈ 4·P + 16·P/N on the GPU (2·P with the optimizer offloaded,
 * P × max(4·N, 16) × 1.5 on the host); ZeRO-3 ≈ 4·largest layer + 18·P/N (+ 2·P/N when only the
 * optimizer is offloaded, 4·largest layer with the parameters too). N = all GPUs; the host
 * figures are per node with its buffer factor 1.5 (one node). Kept as published, to test the
 * planner's own per-tensor figures against.
 */
export function deepspeedModelStates(
  stage: 2 | 3,
  o: { params: number; gpus: number; gpusPerNode: number; largestLayer?: number; offloadOptimizer: boolean; offloadParams?: boolean },
): { gpuBytes: number; hostBytes: number } {
  const P = o.params;
  const N = o.gpus;
  const nodes = Math.ceil(N / o.gpusPerNode);
  const factor = 1.5;
  if (stage === 2) {
    if (o.offloadOptimizer) return { gpuBytes: 2 * P, hostBytes: P * Math.max(4 * N, 16) * factor };
    return { gpuBytes: 4 * P + Math.floor((16 * P) / N), hostBytes: P * 4 * o.gpusPerNode * factor };
  }
  const largest = 4 * (o.largestLayer ?? 0);
  const perNode = 1 / nodes;
  if (o.offloadParams) return { gpuBytes: largest, hostBytes: P * Math.max(4 * o.gpusPerNode, 18 * perNode) * factor };
  if (o.offloadOptimizer) return { gpuBytes: largest + Math.floor((2 * P) / N), hostBytes: P * Math.max(4 * o.gpusPerNode, 16 * perNode) * factor };
  return { gpuBytes: largest + Math.floor((18 * P) / N), hostBytes: P * 4 * o.gpusPerNode * factor };
}
