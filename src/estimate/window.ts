/**
 * Sliding-window and interleaved local/global attention (Mistral 7B v0.1's sliding_window,
 * Gemma 2's alternating layers, Gemma 3's five local layers per global one, `layer_types`), and
 * the KV cache each layer keeps: a local layer needs only the last `window` tokens' keys and
 * values (transformers' sliding-window cache layers, vLLM), a global layer all of them.
 *
 * Eager attention is not smaller on a local layer: transformers masks the band out of the full
 * s × s scores of a prefill or a training step (the key length is max(s, window)); only a
 * kernel with a window (FlashAttention's window_size, flex attention) skips the masked blocks,
 * and it keeps no s² tensor either way.
 */
import { mlaCacheValues } from './mla.ts';
import type { TransformerSpec } from './specs.ts';

/** Which layers are local, by each family's rule (transformers' config classes). */
export type WindowRule =
  /** Every layer local (Mistral 7B v0.1, Phi-3). */
  | { kind: 'all' }
  /** Gemma 2: even layers local (`not layer_idx % 2`). */
  | { kind: 'even' }
  /** Gemma 3: every layer but each `pattern`-th local (`(layer_idx + 1) % pattern`). */
  | { kind: 'pattern'; pattern: number }
  /** `layer_types`: "sliding_attention" or "full_attention" per layer. */
  | { kind: 'types'; types: readonly string[] };

export function layerWindows(layers: number, window: number, rule: WindowRule): number[] {
  return Array.from({ length: layers }, (_, l) => {
    switch (rule.kind) {
      case 'all':
        return window;
      case 'even':
        return l % 2 === 0 ? window : 0;
      case 'pattern':
        return (l + 1) % rule.pattern !== 0 ? window : 0;
      case 'types':
        return rule.types[l] === 'sliding_attention' ? window : 0;
    }
  });
}

/** Tokens whose keys and values layer `l` keeps for a context of `seq` tokens. */
export function cachedTokens(s: TransformerSpec, l: number, seq: number): number {
  const w = s.windows?.[l] ?? 0;
  return w > 0 ? Math.min(seq, w) : seq;
}

/** Values per token one layer caches: K and V per kv head, or MLA's latent and rotary key. */
export function kvValuesPerToken(s: TransformerSpec): number {
  return s.mla ? mlaCacheValues(s.mla) : 2 * s.kvHeads * s.headDim;
}

export interface KvCache {
  bytes: number;
  formula: string;
}

/** The inference KV cache for `seq` tokens of context and batch `b`, at `bytes` per value. */
export function kvCache(s: TransformerSpec, seq: number, b: number, bytes: number): KvCache {
  const per = kvValuesPerToken(s);
  let tokens = 0;
  for (let l = 0; l < s.layers; l++) tokens += cachedTokens(s, l, seq);
  const what = s.mla
    ? `(${s.mla.kvLoraRank} latent + ${s.mla.qkRopeHeadDim} rotary key) values`
    : `2 × ${s.kvHeads} kv heads × ${s.headDim}`;
  const local = s.windows?.filter((w) => w > 0 && w < seq) ?? [];
  const layers =
    local.length === 0
      ? `${s.layers} layers × ${seq} tokens`
      : `(${s.layers - local.length} layers × ${seq} tokens + ${local.length} local layers × their window of ${[...new Set(local)].join('/')} tokens)`;
  return { bytes: per * tokens * b * bytes, formula: `${what} × ${layers} × ${b} × ${bytes} B` };
}
