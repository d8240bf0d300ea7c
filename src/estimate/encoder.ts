/**
 * One pre-norm transformer encoder layer under PyTorch eager (Hugging Face ViT, CLIP, SigLIP,
 * Qwen2-VL's vision blocks, T5's encoder): what autograd keeps per token, and the working set
 * of an inference forward. Shared by the vision towers and the diffusion pipelines' text
 * encoders. The rules are pytorch.ts's (autocast casts an activation anew per consuming op;
 * norms run in fp32 under autocast; SDPA keeps q, k, v, out and a logsumexp per row).
 */
import type { DtypePlan } from './dtypes.ts';
import type { ParamTensor } from './params.ts';

export interface EncoderShape {
  hidden: number;
  heads: number;
  headDim: number;
  intermediate: number;
  /** gelu: fc1 → GELU → fc2; quick-gelu: x·σ(1.702x) (CLIP); gated-gelu: T5 v1.1's wi_0/wi_1. */
  act: 'gelu' | 'quick-gelu' | 'gated-gelu';
  norm: 'layernorm' | 'rmsnorm';
  /** One qkv Linear (Qwen2-VL's vision blocks) instead of three (ViT, CLIP, T5). */
  fusedQkv: boolean;
  /** Biases on the projections (ViT, CLIP: yes; T5: none). */
  bias: boolean;
}

/** Per token: attention and MLP saved bytes, eager scores per key position, the layer input. */
export interface EncoderLayerBytes {
  attention: number;
  mlp: number;
  /** Per token per key position (eager only): softmax output and the cast the value matmul keeps. */
  scoresPerKey: number;
  input: number;
}

export function encoderLayerBytes(s: EncoderShape, dt: DtypePlan, eager: boolean): EncoderLayerBytes {
  const c = dt.compute;
  const r = dt.residual;
  const h = s.hidden;
  const q = s.heads * s.headDim;
  const I = s.intermediate;
  const stats = 8;
  // A norm feeding `consumers` projections: its input (fp32 copy or the residual), its
  // statistics, and either one shared output or one 16-bit cast per consumer under autocast.
  const norm = (consumers: number) => r * h + (s.norm === 'rmsnorm' ? 4 * h : 0) + stats + (dt.autocast ? consumers : 1) * c * h;
  const lse = eager ? 0 : 4 * s.heads;
  const attention = norm(s.fusedQkv ? 1 : 3) + 3 * c * q /* q, k, v as SDPA keeps them */ + c * q /* out */ + c * q /* merged heads, out-proj input */ + lse;
  // gelu: fc1 out (kept by GELU), GELU out (kept by fc2); quick-gelu adds σ's output;
  // gated: wi_0 out, its GELU, wi_1 out, the product.
  const act = s.act === 'gelu' ? 2 * c * I : s.act === 'quick-gelu' ? 3 * c * I : 4 * c * I;
  const mlp = norm(s.act === 'gated-gelu' ? 2 : 1) + act;
  const scoresPerKey = eager ? s.heads * (dt.autocast ? 4 + c : c) : 0;
  return { attention, mlp, scoresPerKey, input: r * h };
}

/**
 * Bytes alive at once in one layer's inference forward, for `tokens` tokens in sequences of
 * `seq`: the residual and its normed copy, q/k/v and the attention output, the MLP hidden
 * (twice for its activation's output; three times gated), eager's s² scores and softmax.
 */
export function encoderWorkingSet(s: EncoderShape, dt: DtypePlan, eager: boolean, tokens: number, seq: number): number {
  const c = dt.compute;
  const mlpHidden = s.act === 'gated-gelu' ? 3 : 2;
  const q = s.heads * s.headDim;
  const layer = tokens * (2 * dt.residual * s.hidden + c * (4 * q) + mlpHidden * c * s.intermediate);
  const scores = eager ? tokens * seq * s.heads * (c + (dt.autocast ? 4 : c)) : 0;
  return layer + scores;
}

/** Parameter tensors of one encoder layer (block `block`, names under `prefix`). */
export function encoderLayerTensors(s: EncoderShape, prefix: string, block: number, lora = true): ParamTensor[] {
  const h = s.hidden;
  const q = s.heads * s.headDim;
  const I = s.intermediate;
  const t: ParamTensor[] = [];
  const vec = (name: string, n: number) => t.push({ name: `${prefix}.${name}`, rows: 1, cols: n, block, matmul: false, loraTarget: false });
  const mat = (name: string, rows: number, cols: number, target = lora) => t.push({ name: `${prefix}.${name}`, rows, cols, block, matmul: true, loraTarget: target });
  const norm = (name: string) => {
    vec(`${name}.weight`, h);
    if (s.norm === 'layernorm') vec(`${name}.bias`, h);
  };
  norm('norm1');
  if (s.fusedQkv) {
    mat('attn.qkv', h, 3 * q);
    if (s.bias) vec('attn.qkv.bias', 3 * q);
  } else {
    for (const p of ['q', 'k', 'v']) {
      mat(`attn.${p}_proj`, h, q);
      if (s.bias) vec(`attn.${p}_proj.bias`, q);
    }
  }
  mat('attn.out_proj', q, h);
  if (s.bias) vec('attn.out_proj.bias', h);
  norm('norm2');
  if (s.act === 'gated-gelu') {
    mat('mlp.wi_0', h, I);
    mat('mlp.wi_1', h, I);
  } else {
    mat('mlp.fc1', h, I);
    if (s.bias) vec('mlp.fc1.bias', I);
  }
  mat('mlp.fc2', I, h);
  if (s.bias) vec('mlp.fc2.bias', h);
  return t;
}
