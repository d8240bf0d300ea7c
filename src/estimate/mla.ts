/**
 * Multi-head latent attention (DeepSeek-V2/V3; DeepSeek-AI 2024, arXiv 2405.04434 §2.1): the
 * query goes through a low-rank latent (q_a_proj → RMSNorm → q_b_proj), keys and values through
 * one shared latent of kv_lora_rank plus a rotary key part of qk_rope_head_dim shared by all
 * heads (kv_a_proj_with_mqa → RMSNorm → kv_b_proj). A serving engine caches the latent and the
 * rotary key only: (kv_lora_rank + qk_rope_head_dim) values per token per layer, against
 * 2 · heads · head_dim for multi-head attention.
 */
import type { DtypePlan } from './dtypes.ts';
import type { ParamTensor } from './params.ts';
import type { TransformerSpec } from './specs.ts';

export interface MlaSpec {
  /** q_lora_rank; 0 when the query is projected directly (DeepSeek-V2-Lite: q_lora_rank null). */
  qLoraRank: number;
  kvLoraRank: number;
  /** Per-head query/key dims without and with rotary position. */
  qkNopeHeadDim: number;
  qkRopeHeadDim: number;
  vHeadDim: number;
}

/** The attention tensors of layer `l` (transformers' DeepseekV3Attention). */
export function mlaTensors(s: TransformerSpec, l: number, p: string): ParamTensor[] {
  const m = s.mla!;
  const h = s.hidden;
  const H = s.heads;
  const qk = m.qkNopeHeadDim + m.qkRopeHeadDim;
  const mat = (name: string, rows: number, cols: number, lora = true): ParamTensor => ({ name: `${p}.${name}`, rows, cols, block: l, matmul: true, loraTarget: lora });
  const vec = (name: string, n: number): ParamTensor => ({ name: `${p}.${name}`, rows: 1, cols: n, block: l, matmul: false, loraTarget: false });
  const t: ParamTensor[] = [];
  if (m.qLoraRank > 0) t.push(mat('q_a_proj', h, m.qLoraRank), vec('q_a_layernorm.weight', m.qLoraRank), mat('q_b_proj', m.qLoraRank, H * qk));
  else t.push(mat('q_proj', h, H * qk));
  t.push(
    mat('kv_a_proj_with_mqa', h, m.kvLoraRank + m.qkRopeHeadDim),
    vec('kv_a_layernorm.weight', m.kvLoraRank),
    mat('kv_b_proj', m.kvLoraRank, H * (m.qkNopeHeadDim + m.vHeadDim)),
    mat('o_proj', H * m.vHeadDim, h),
  );
  return t;
}

/** Values per token per layer in the cache of the latent and the rotary key. */
export const mlaCacheValues = (m: MlaSpec): number => m.kvLoraRank + m.qkRopeHeadDim;

/** Values per token of one layer's decompressed q, k and v (what attention computes on). */
export const mlaQkvValues = (s: TransformerSpec): number => {
  const m = s.mla!;
  return s.heads * (2 * (m.qkNopeHeadDim + m.qkRopeHeadDim) + m.vHeadDim);
};

/**
 * Bytes per token saved for backward by one MLA block under PyTorch (transformers'
 * DeepseekV3Attention with SDPA), without the layer norm feeding it: the inputs of q_b_proj and
 * kv_b_proj (16-bit), the two latent RMSNorms (fp32 input and normed copy, a statistic), the
 * decompressed q, k, v, SDPA's output and logsumexp, and o_proj's input.
 */
export function mlaSavedPerToken(s: TransformerSpec, dt: DtypePlan, eager: boolean): number {
  const m = s.mla!;
  const c = dt.compute;
  const H = s.heads;
  const latentNorm = (n: number) => 4 * n + 4 * n + 4 + c * n;
  const q = m.qLoraRank > 0 ? latentNorm(m.qLoraRank) + c * m.qLoraRank : 0;
  const kv = latentNorm(m.kvLoraRank) + c * m.kvLoraRank;
  return q + kv + c * mlaQkvValues(s) + 2 * c * H * m.vHeadDim + (eager ? 0 : 4 * H);
}
