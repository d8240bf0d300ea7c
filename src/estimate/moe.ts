/**
 * Mixture of experts (Mixtral, Qwen2-MoE, Qwen3-MoE, DeepSeek-V2/V3). Every expert's weights
 * are resident and trained, so weights, gradients and optimizer states count all of them; a
 * token passes through its top-k routed experts (and the shared ones), so compute and
 * activations follow k, not the number of experts. Sizing an MoE by its active parameters is
 * the classic calculator error (Mixtral 8x7B: 46.7B resident, 12.9B active per token).
 *
 * Expert parallel (`ep`): each GPU of an expert-parallel group holds experts / ep of every MoE
 * layer; tokens travel to their experts and back through two all-to-alls per layer.
 */
import type { DtypePlan } from './dtypes.ts';
import { EstimateError } from './errors.ts';
import { type Inventory, type ParamTensor, numel } from './params.ts';
import type { TransformerSpec } from './specs.ts';

export interface MoeSpec {
  /** Routed experts per MoE layer (num_local_experts, num_experts, n_routed_experts). */
  experts: number;
  /** Routed experts per token (num_experts_per_tok). */
  topK: number;
  /** Width of one routed expert's gated MLP (moe_intermediate_size; Mixtral's intermediate_size). */
  expertIntermediate: number;
  /**
   * Width of the always-on shared expert, 0 for none: DeepSeek n_shared_experts ×
   * moe_intermediate_size (one MLP in transformers), Qwen2-MoE shared_expert_intermediate_size.
   */
  sharedIntermediate: number;
  /** Qwen2-MoE: a sigmoid gate Linear(hidden, 1) scales the shared expert's output. */
  sharedGate: boolean;
  /** DeepSeek-V3: e_score_correction_bias, a trained value per routed expert. */
  routerBias: boolean;
  /** GPT-OSS: the router Linear has a bias, each expert one fused gate_up matrix with biases on it and on down. */
  gptOss?: boolean;
  /** Per layer: true where the MLP is the MoE block, false for a dense MLP of `intermediate`. */
  layers: readonly boolean[];
}

/** Which layers are MoE, by each family's rule (transformers' modeling code). */
export type MoeLayerRule =
  | { kind: 'all' }
  /** DeepSeek: layer ≥ first_k_dense_replace and layer % moe_layer_freq == 0. */
  | { kind: 'deepseek'; firstDense: number; freq: number }
  /** Qwen2/3-MoE: layer not in mlp_only_layers and (layer + 1) % decoder_sparse_step == 0. */
  | { kind: 'qwen'; step: number; mlpOnly: readonly number[] };

export function moeLayers(layers: number, rule: MoeLayerRule): boolean[] {
  return Array.from({ length: layers }, (_, l) => {
    switch (rule.kind) {
      case 'all':
        return true;
      case 'deepseek':
        return l >= rule.firstDense && l % rule.freq === 0;
      case 'qwen':
        return !rule.mlpOnly.includes(l) && (l + 1) % rule.step === 0;
    }
  });
}

export const isMoeLayer = (s: TransformerSpec, l: number): boolean => s.moe?.layers[l] === true;

/**
 * The MoE block's tensors of layer `l`, in transformers' order: router, routed experts (gate,
 * up, down, each stacked over the experts), the shared expert. The routed experts' tensors
 * carry the share of tokens that pass through them (`active` = k / E).
 */
export function moeTensors(s: TransformerSpec, l: number, p: string): ParamTensor[] {
  const m = s.moe!;
  const h = s.hidden;
  const t: ParamTensor[] = [{ name: `${p}.router`, rows: h, cols: m.experts, block: l, matmul: true, loraTarget: false }];
  if (m.routerBias) t.push({ name: `${p}.router.e_score_correction_bias`, rows: 1, cols: m.experts, block: l, matmul: false, loraTarget: false });
  if (m.gptOss) t.push({ name: `${p}.router.bias`, rows: 1, cols: m.experts, block: l, matmul: false, loraTarget: false });
  const active = m.topK / m.experts;
  const Ie = m.expertIntermediate;
  const experts = m.experts;
  if (m.gptOss) {
    t.push(
      { name: `${p}.experts.gate_up_proj`, rows: h, cols: 2 * Ie, block: l, matmul: true, loraTarget: true, experts, active },
      { name: `${p}.experts.gate_up_proj_bias`, rows: 1, cols: 2 * Ie, block: l, matmul: false, loraTarget: false, experts, active },
      { name: `${p}.experts.down_proj`, rows: Ie, cols: h, block: l, matmul: true, loraTarget: true, experts, active },
      { name: `${p}.experts.down_proj_bias`, rows: 1, cols: h, block: l, matmul: false, loraTarget: false, experts, active },
    );
    return t;
  }
  t.push(
    { name: `${p}.experts.gate_proj`, rows: h, cols: Ie, block: l, matmul: true, loraTarget: true, experts, active },
    { name: `${p}.experts.up_proj`, rows: h, cols: Ie, block: l, matmul: true, loraTarget: true, experts, active },
    { name: `${p}.experts.down_proj`, rows: Ie, cols: h, block: l, matmul: true, loraTarget: true, experts, active },
  );
  const Is = m.sharedIntermediate;
  if (Is > 0) {
    t.push(
      { name: `${p}.shared_expert.gate_proj`, rows: h, cols: Is, block: l, matmul: true, loraTarget: true },
      { name: `${p}.shared_expert.up_proj`, rows: h, cols: Is, block: l, matmul: true, loraTarget: true },
      { name: `${p}.shared_expert.down_proj`, rows: Is, cols: h, block: l, matmul: true, loraTarget: true },
    );
    if (m.sharedGate) t.push({ name: `${p}.shared_expert_gate`, rows: h, cols: 1, block: l, matmul: true, loraTarget: false });
  }
  return t;
}

/**
 * Parameters a token passes through: routed experts count k / E of their weights, everything
 * else in full (the embedding included, as Mistral's 12.9B and Qwen's 3.3B count it; DeepSeek's
 * 37B leaves the input embedding out).
 */
export function activeParams(inv: Inventory): number {
  return Math.round(inv.tensors.reduce((a, t) => a + numel(t) * (t.active ?? 1), 0));
}

/** Checks an expert-parallel degree against the model and the GPUs; 1 always passes. */
export function checkExpertParallel(spec: { name: string; moe?: MoeSpec }, ep: number, gpus: number, zero: number): void {
  if (ep === 1) return;
  if (!spec.moe) throw new EstimateError(`--ep ${ep}: expert parallel splits the experts of a mixture-of-experts model; ${spec.name} has none: use --ep 1`);
  const E = spec.moe.experts;
  if (E % ep !== 0) throw new EstimateError(`--ep ${ep} must divide the ${E} experts per layer of ${spec.name}; try ${largestDivisor(E, ep)}`);
  if (gpus % ep !== 0) throw new EstimateError(`--ep ${ep} needs --gpus to be a multiple of it (expert-parallel groups inside data parallel); got --gpus ${gpus}`);
  if (zero > 0) {
    throw new EstimateError(
      `--ep with --zero ${zero} is not modelled: ZeRO would shard the expert states over the expert-data-parallel group (gpus / ep); use --zero 0 with --ep, or --ep 1 with ZeRO`,
    );
  }
}

function largestDivisor(n: number, atMost: number): number {
  for (let d = Math.min(n, atMost); d > 1; d--) if (n % d === 0) return d;
  return 1;
}

/**
 * What one GPU of an expert-parallel group holds: every non-expert tensor and experts / ep of
 * each MoE layer (its share of the routed experts; shared experts stay replicated).
 * `modelParams` keeps the whole model's count for the report.
 */
export function expertParallelInventory(inv: Inventory, spec: TransformerSpec, ep: number): Inventory {
  if (ep === 1 || !spec.moe) return inv;
  const total = inv.modelParams ?? inv.tensors.reduce((a, t) => a + numel(t), 0);
  return { ...inv, tensors: inv.tensors.map((t) => (t.experts === undefined ? t : { ...t, experts: t.experts / ep })), modelParams: total };
}

/**
 * Rows the experts of one layer process for `tokens` tokens. Dropless routing (transformers,
 * Megablocks) computes exactly tokens × k. A framework with a capacity factor cf pads every
 * expert to C = ⌈cf · tokens · k / E⌉ rows (GShard, Switch, DeepSpeed-MoE, Megatron with a
 * capacity), so E · C rows are computed and kept, dropped tokens or not.
 */
export function routedRows(tokens: number, m: MoeSpec, capacityFactor?: number): number {
  if (capacityFactor === undefined) return tokens * m.topK;
  return m.experts * Math.ceil((capacityFactor * tokens * m.topK) / m.experts);
}

/** Bytes of one MoE block in a PyTorch training step, for `tokens` tokens on this GPU. */
export interface MoeBlockBytes {
  /** Saved for backward: router, the gathered rows through the experts, the shared expert. */
  saved: number;
  /** Forward temporaries: the one-hot expert mask, the output accumulator, all-to-all buffers. */
  fwdTransient: number;
  /** Backward temporaries: the routed rows' gradients, all-to-all buffers. */
  bwdTransient: number;
  /** Parts of `saved`, for the breakdown. */
  router: number;
  routed: number;
  shared: number;
}

/**
 * The MoE block as transformers runs it (MixtralSparseMoeBlock, Qwen3MoeSparseMoeBlock,
 * DeepseekV3MoE), tensor by tensor:
 * - router: gate(x) keeps its input (a 16-bit cast under autocast); softmax in fp32 keeps its
 *   output (E values); top-k keeps k int64 indices; renormalising keeps the k fp32 weights;
 * - per routed row (tokens × k of them, or E·C with a capacity): the row index (int64, kept by
 *   the gather and by index_add_), the expert's input (each of gate/up keeps its own cast under
 *   autocast, one shared 16-bit row otherwise), the gated MLP's four I_e-wide tensors (SiLU
 *   input and output, up, their product), and the expert output and routing weight kept by the
 *   weighting multiply;
 * - the shared expert: a dense gated MLP on every token (plus Qwen2-MoE's sigmoid gate).
 * `normOut` is the per-token bytes of the normed input as its consumers keep it, counted by the
 * caller with the layer's norm.
 */
export function moeBlockBytes(s: TransformerSpec, dt: DtypePlan, tokens: number, ep = 1, capacityFactor?: number): MoeBlockBytes {
  const m = s.moe!;
  const c = dt.compute;
  const h = s.hidden;
  const Ie = m.expertIntermediate;
  const Is = m.sharedIntermediate;
  const rows = routedRows(tokens, m, capacityFactor);
  const castIn = dt.autocast ? c * h : 0;
  const router = tokens * (castIn + 4 * m.experts + 8 * m.topK + 4 * m.topK + 4);
  const expertIn = dt.autocast ? 2 * c * h : c * h;
  const routed = rows * (8 + expertIn + 4 * c * Ie + c * h + c);
  const shared = Is > 0 ? tokens * ((dt.autocast ? 2 * c * h : 0) + 4 * c * Is + (m.sharedGate ? castIn + 2 * c + c * h : 0)) : 0;
  // transformers builds one_hot(selected_experts, E) as int64 (E × k per token) to find each
  // expert's rows; the output accumulator is tokens × h in the compute dtype.
  const mask = tokens * m.experts * m.topK * 8;
  // Expert parallel: rows are sent to their experts' GPUs and back (send and receive buffers
  // of rows × h in each direction).
  const a2a = ep > 1 ? 2 * rows * c * h : 0;
  const fwdTransient = mask + tokens * c * h + a2a;
  const bwdTransient = rows * (c * h + 3 * c * Ie) + tokens * 2 * dt.residual * h + a2a;
  return { saved: router + routed + shared, fwdTransient, bwdTransient, router, routed, shared };
}
