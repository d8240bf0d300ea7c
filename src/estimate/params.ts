/**
 * Parameter inventory: every trainable tensor with its shape and role, in forward order.
 * Counts equal the real models' (tests pin GPT-2, LLaMA, ResNet against published figures).
 */
import { mlaTensors } from './mla.ts';
import { isMoeLayer, moeTensors } from './moe.ts';
import { diffusionInventory } from './diffusion.ts';
import { efficientNetInventory } from './efficientnet.ts';
import { ganInventory } from './gan.ts';
import type { MlpSpec, ModelSpec, ResNetSpec, TransformerSpec } from './specs.ts';
import { vitInventory, vlmInventory } from './vision.ts';

export interface ParamTensor {
  name: string;
  /** rows × cols; a vector has rows = 1. Conv kernels are out × (in·k·k). */
  rows: number;
  cols: number;
  /** Forward position: -1 embeddings/stem, 0…L−1 the blocks, L the final norm and head. */
  block: number;
  /** A matmul/conv weight: autocast makes a 16-bit copy of it, LoRA may adapt it. */
  matmul: boolean;
  /** A projection inside a block (attention or MLP), where LoRA adapters go. */
  loraTarget: boolean;
  /**
   * Routed experts of a MoE layer stacked in one [experts, rows, cols] tensor (as transformers
   * stores them since its fused-experts rewrite); absent: one matrix. Counts and optimizer
   * states are per expert matrix (moe.ts).
   */
  experts?: number;
  /** Share of tokens that pass through it (routed experts: k / E); absent: all. */
  active?: number;
}

export interface Inventory {
  tensors: ParamTensor[];
  /** Non-trainable state the model holds on the GPU (BatchNorm running stats), bytes. */
  bufferBytes: number;
  /** Matmul weight shared with an embedding (tied LM head): its elements per autocast copy. */
  tiedHeadElems: number;
  /** The whole model's parameters when `tensors` is one GPU's share (expert parallel). */
  modelParams?: number;
}

export const numel = (t: ParamTensor): number => t.rows * t.cols * (t.experts ?? 1);

export function totalParams(inv: Inventory): number {
  return inv.tensors.reduce((a, t) => a + numel(t), 0);
}

export function paramsWhere(inv: Inventory, pred: (t: ParamTensor) => boolean): number {
  return inv.tensors.reduce((a, t) => a + (pred(t) ? numel(t) : 0), 0);
}

export function inventory(spec: ModelSpec): Inventory {
  switch (spec.kind) {
    case 'transformer':
      return transformerInventory(spec);
    case 'resnet':
      return resnetInventory(spec);
    case 'mlp':
      return mlpInventory(spec);
    case 'vit':
      return vitInventory(spec);
    case 'vlm':
      return vlmInventory(spec, transformerInventory);
    case 'efficientnet':
      return efficientNetInventory(spec);
    case 'diffusion':
      return diffusionInventory(spec);
    case 'gan':
      return ganInventory(spec);
  }
}

function mlpInventory(s: MlpSpec): Inventory {
  const tensors: ParamTensor[] = [];
  for (let l = 0; l < s.layers; l++) {
    tensors.push(
      { name: `block${l}.fc1.weight`, rows: s.d, cols: s.hidden, block: l, matmul: true, loraTarget: true },
      { name: `block${l}.fc1.bias`, rows: 1, cols: s.hidden, block: l, matmul: false, loraTarget: false },
      { name: `block${l}.fc2.weight`, rows: s.hidden, cols: s.d, block: l, matmul: true, loraTarget: true },
      { name: `block${l}.fc2.bias`, rows: 1, cols: s.d, block: l, matmul: false, loraTarget: false },
    );
  }
  return { tensors, bufferBytes: 0, tiedHeadElems: 0 };
}

function transformerInventory(s: TransformerSpec): Inventory {
  const h = s.hidden;
  const L = s.layers;
  const t: ParamTensor[] = [];
  const vec = (name: string, n: number, block: number) => t.push({ name, rows: 1, cols: n, block, matmul: false, loraTarget: false });
  const mat = (name: string, rows: number, cols: number, block: number, lora = true) =>
    t.push({ name, rows, cols, block, matmul: true, loraTarget: lora });
  const norm = (name: string, block: number) => {
    vec(`${name}.weight`, h, block);
    if (s.norm === 'layernorm') vec(`${name}.bias`, h, block);
  };

  t.push({ name: 'embed_tokens', rows: s.vocab, cols: h, block: -1, matmul: false, loraTarget: false });
  if (s.maxPositions > 0) t.push({ name: 'embed_positions', rows: s.maxPositions, cols: h, block: -1, matmul: false, loraTarget: false });
  if (s.typeVocab > 0) t.push({ name: 'embed_token_types', rows: s.typeVocab, cols: h, block: -1, matmul: false, loraTarget: false });
  if (s.family === 'bert') norm('embeddings.norm', -1);

  const qDim = s.heads * s.headDim;
  const kvDim = s.kvHeads * s.headDim;
  const gated = s.family === 'llama' && s.gatedMlp !== false;
  for (let l = 0; l < L; l++) {
    const p = `layers.${l}`;
    if (s.family !== 'bert') norm(`${p}.attn_norm`, l);
    if (s.mla) t.push(...mlaTensors(s, l, `${p}.self_attn`));
    else if (s.fusedQkv) mat(`${p}.qkv_proj`, h, qDim + 2 * kvDim, l);
    else {
      mat(`${p}.q_proj`, h, qDim, l);
      mat(`${p}.k_proj`, h, kvDim, l);
      mat(`${p}.v_proj`, h, kvDim, l);
    }
    if (s.attnSinks) vec(`${p}.sinks`, s.heads, l);
    if (s.qkNorm) {
      vec(`${p}.q_norm.weight`, s.headDim, l);
      vec(`${p}.k_norm.weight`, s.headDim, l);
    }
    if (s.qkvBias) {
      vec(`${p}.q_proj.bias`, qDim, l);
      vec(`${p}.k_proj.bias`, kvDim, l);
      vec(`${p}.v_proj.bias`, kvDim, l);
    }
    if (!s.mla) mat(`${p}.o_proj`, qDim, h, l);
    if (s.attnOutBias) vec(`${p}.o_proj.bias`, h, l);
    if (s.family === 'bert') norm(`${p}.attn_norm`, l);
    else if (s.normsPerLayer === 4) norm(`${p}.post_attn_norm`, l);
    // Falcon-7B's one norm feeds attention and MLP alike.
    if (s.family !== 'bert' && s.normsPerLayer !== 1) norm(`${p}.mlp_norm`, l);
    if (isMoeLayer(s, l)) {
      t.push(...moeTensors(s, l, `${p}.mlp`));
      if (s.normsPerLayer === 4) norm(`${p}.post_mlp_norm`, l);
      continue;
    }
    if (gated && s.fusedGateUp) mat(`${p}.gate_up_proj`, h, 2 * s.intermediate, l);
    else if (gated) mat(`${p}.gate_proj`, h, s.intermediate, l);
    if (!s.fusedGateUp || !gated) mat(`${p}.up_proj`, h, s.intermediate, l);
    if (s.linearBias) vec(`${p}.up_proj.bias`, s.intermediate, l);
    if (gated && s.linearBias) vec(`${p}.gate_proj.bias`, s.intermediate, l);
    mat(`${p}.down_proj`, s.intermediate, h, l);
    if (s.linearBias) vec(`${p}.down_proj.bias`, h, l);
    if (s.family === 'bert') norm(`${p}.mlp_norm`, l);
    else if (s.normsPerLayer === 4) norm(`${p}.post_mlp_norm`, l);
  }
  if (s.family !== 'bert') norm('final_norm', L);
  if (s.pooler) {
    mat('pooler.dense', h, h, L, false);
    vec('pooler.dense.bias', h, L);
  }
  let tiedHeadElems = 0;
  if (s.head === 'masked-lm') {
    // BertOnlyMLMHead: dense + GELU + LayerNorm, then the decoder (tied to the embedding) + bias.
    mat('mlm.transform.dense', h, h, L, false);
    vec('mlm.transform.dense.bias', h, L);
    norm('mlm.transform.norm', L);
    vec('mlm.decoder.bias', s.vocab, L);
  }
  if (s.head !== 'base') {
    if (s.tiedEmbeddings) tiedHeadElems = s.vocab * h;
    else mat('lm_head', h, s.vocab, L, false);
  }
  // Registered buffers: bert's position_ids and token_type_ids (int64 per position), the
  // rotary inverse frequencies (fp32, head_dim / 2) of llama-style models.
  const bufferBytes = s.family === 'bert' ? 2 * 8 * s.maxPositions : s.family === 'llama' ? 4 * (s.headDim / 2) : 0;
  return { tensors: t, bufferBytes, tiedHeadElems };
}

/** torchvision ResNet v1.5 (stride on the 3×3 conv of a bottleneck). */
export interface ConvLayer {
  name: string;
  inC: number;
  outC: number;
  k: number;
  stride: number;
  block: number;
}

export function resnetConvs(s: ResNetSpec): { convs: ConvLayer[]; fcIn: number } {
  const convs: ConvLayer[] = [{ name: 'conv1', inC: 3, outC: 64, k: 7, stride: 2, block: -1 }];
  const expansion = s.block === 'bottleneck' ? 4 : 1;
  let inC = 64;
  let b = 0;
  s.stages.forEach((n, stage) => {
    const planes = 64 << stage;
    for (let i = 0; i < n; i++, b++) {
      const stride = stage > 0 && i === 0 ? 2 : 1;
      const p = `layer${stage + 1}.${i}`;
      if (s.block === 'bottleneck') {
        convs.push(
          { name: `${p}.conv1`, inC, outC: planes, k: 1, stride: 1, block: b },
          { name: `${p}.conv2`, inC: planes, outC: planes, k: 3, stride, block: b },
          { name: `${p}.conv3`, inC: planes, outC: planes * 4, k: 1, stride: 1, block: b },
        );
      } else {
        convs.push(
          { name: `${p}.conv1`, inC, outC: planes, k: 3, stride, block: b },
          { name: `${p}.conv2`, inC: planes, outC: planes, k: 3, stride: 1, block: b },
        );
      }
      if (stride !== 1 || inC !== planes * expansion) {
        convs.push({ name: `${p}.downsample`, inC, outC: planes * expansion, k: 1, stride, block: b });
      }
      inC = planes * expansion;
    }
  });
  return { convs, fcIn: inC };
}

function resnetInventory(s: ResNetSpec): Inventory {
  const { convs, fcIn } = resnetConvs(s);
  const blocks = s.stages.reduce((a, n) => a + n, 0);
  const t: ParamTensor[] = [];
  let bnChannels = 0;
  for (const c of convs) {
    t.push({ name: `${c.name}.weight`, rows: c.outC, cols: c.inC * c.k * c.k, block: c.block, matmul: true, loraTarget: false });
    // Every conv is followed by a BatchNorm with weight and bias over its output channels.
    t.push({ name: `${c.name}.bn`, rows: 2, cols: c.outC, block: c.block, matmul: false, loraTarget: false });
    bnChannels += c.outC;
  }
  t.push({ name: 'fc.weight', rows: fcIn, cols: s.classes, block: blocks, matmul: true, loraTarget: false });
  t.push({ name: 'fc.bias', rows: 1, cols: s.classes, block: blocks, matmul: false, loraTarget: false });
  // running_mean and running_var (fp32) per channel, and num_batches_tracked (int64) per BN.
  const bufferBytes = bnChannels * 2 * 4 + convs.length * 8;
  return { tensors: t, bufferBytes, tiedHeadElems: 0 };
}
