/**
 * Precision and implementation details: KV-cache formats (GGML blocks, FP8), FP8 training and
 * inference, torch.optim's three step implementations and bf16 states, inference logits.
 */
import { describe, expect, it } from 'vitest';
import { estimate } from '../../src/estimate/index.ts';
import { inventory, totalParams } from '../../src/estimate/params.ts';
import { kvCacheBytes } from '../../src/estimate/precision-extras.ts';
import { resolveModel } from '../../src/estimate/presets.ts';
import { DEFAULT_PLAN, type PlanConfig } from '../../src/protocol/config.ts';

const plan = (over: Partial<PlanConfig>) => estimate({ ...DEFAULT_PLAN, ...over });
const shape = { layers: 32, kvHeads: 8, headDim: 128 };

describe('KV-cache storage', () => {
  it('q8_0: 34 bytes per 32 values (an fp16 scale + 32 int8)', () => {
    const kv = kvCacheBytes(shape, 1024, 1, 'q8_0', 2);
    expect(kv.bytes).toBe((2 * 32 * 1024 * 8 * 128 * 34) / 32);
    expect(kv.perValue).toBe(34 / 32);
  });

  it('q4_0: 18 bytes per 32 values (an fp16 scale + 16 bytes of nibbles)', () => {
    expect(kvCacheBytes(shape, 1024, 1, 'q4_0', 2).perValue).toBe(18 / 32);
  });

  it('a row that is not a multiple of 32 pads its last block', () => {
    // 1 head of 40 values: 2 blocks per row.
    expect(kvCacheBytes({ layers: 1, kvHeads: 1, headDim: 40 }, 1, 1, 'q8_0', 2).bytes).toBe(2 * 2 * 34);
  });

  it('fp8: 1 byte per value + an fp32 scale for K and V per layer; fp16/bf16 2 bytes', () => {
    expect(kvCacheBytes(shape, 1024, 1, 'fp8', 2).bytes).toBe(2 * 32 * 1024 * 8 * 128 + 2 * 32 * 4);
    expect(kvCacheBytes(shape, 1024, 1, 'bf16', 4).perValue).toBe(2);
    expect(kvCacheBytes(shape, 1024, 1, undefined, 4).perValue).toBe(4);
  });

  it('the plan takes --kv-dtype: q4_0 holds 18/64 of the bf16 cache', () => {
    const base = { model: 'llama-3.1-8b', mode: 'inference', precision: 'bf16', seq: 8192, batch: 1 } as const;
    const bf16 = plan(base);
    const q4 = plan({ ...base, kvDtype: 'q4_0' });
    expect(q4.bytes.kvCache).toBe((bf16.bytes.kvCache * 18) / 64);
    expect(q4.terms.find((t) => t.category === 'kvCache')!.source).toMatch(/block_q4_0/);
  });
});

describe('FP8', () => {
  it('training: fp8 copies and transposes replace the 16-bit copies, so the total barely moves (torchtitan 77.0 → 76.8 GiB)', () => {
    const base = { model: 'llama-3.1-8b', batch: 2, seq: 8192, checkpoint: 'selective', zero: 3, gpus: 8 } as const;
    const bf16 = plan({ ...base, precision: 'amp-bf16' });
    const fp8 = plan({ ...base, precision: 'fp8' });
    expect(fp8.totalBytes).toBeLessThanOrEqual(bf16.totalBytes);
    expect((bf16.totalBytes - fp8.totalBytes) / bf16.totalBytes).toBeLessThan(0.01);
    // The one saving: matmul weights gathered in fp8 (1 B) instead of 16 bits.
    expect(bf16.totalBytes - fp8.totalBytes).toBeGreaterThan(0);
    expect(fp8.notes.join(' ')).toMatch(/77\.0 → 76\.8 GiB/);
  });

  it('inference: 1 byte per matmul weight + an fp32 scale per tensor, the rest in bf16', () => {
    const spec = resolveModel({ ...DEFAULT_PLAN, model: 'llama-2-7b' });
    const inv = inventory(spec);
    const matmul = inv.tensors.filter((t) => t.matmul);
    const matmulParams = matmul.reduce((a, t) => a + t.rows * t.cols, 0);
    const p = plan({ model: 'llama-2-7b', mode: 'inference', precision: 'fp8' });
    expect(p.bytes.weights).toBe(matmulParams + 4 * matmul.length + 2 * (totalParams(inv) - matmulParams) + inv.bufferBytes);
  });
});

describe('optimizer implementation and state dtype', () => {
  const base = { model: 'gpt2-small', batch: 1, seq: 128, optimizer: 'adamw' } as const;
  const P = 124_439_808;
  const temps = (p: ReturnType<typeof plan>) => p.terms.find((t) => t.label === 'optimizer step temporaries')?.bytes ?? 0;

  it('foreach (the default) keeps a temporary for all states: P × 4 B', () => {
    expect(temps(plan(base))).toBe(P * 4);
    expect(temps(plan({ ...base, optimizerImpl: 'foreach' }))).toBe(P * 4);
  });

  it('fused keeps none; for-loop one tensor: the embedding, 50,257 × 768 × 4 B', () => {
    expect(temps(plan({ ...base, optimizerImpl: 'fused' }))).toBe(0);
    expect(temps(plan({ ...base, optimizerImpl: 'for-loop' }))).toBe(50257 * 768 * 4);
  });

  it('bf16 states halve m and v', () => {
    expect(plan({ ...base, optimizerDtype: 'bf16' }).bytes.optimizer).toBe(plan(base).bytes.optimizer / 2);
  });

  it('refuses a state dtype for an optimizer without states or with its own', () => {
    expect(() => plan({ ...base, optimizer: 'sgd', optimizerDtype: 'bf16' })).toThrow(/sgd keeps none/);
    expect(() => plan({ ...base, optimizer: 'adam-8bit', optimizerDtype: 'bf16' })).toThrow(/8-bit blocks/);
  });
});

describe('inference logits', () => {
  const base = { model: 'gpt2-small', mode: 'inference', precision: 'bf16', batch: 2, seq: 512 } as const;

  it('last (generate): b × V × (2 + 4) B; all (a plain forward): b·s × V × (2 + 4) B', () => {
    // The forward's transient: the larger of one layer's working set and the logits.
    const logits = (p: ReturnType<typeof plan>) => p.terms.find((t) => t.category === 'logits')!.bytes;
    expect(logits(plan(base))).toBe(2 * 50257 * 6);
    const all = plan({ ...base, logits: 'all' });
    expect(logits(all)).toBe(2 * 512 * 50257 * 6);
    expect(all.peak.bytes - plan(base).peak.bytes).toBe(2 * 512 * 50257 * 6 - plan(base).bytes.activations);
  });

  it('inference-only settings are refused for training', () => {
    expect(() => plan({ logits: 'all' })).toThrow(/inference only/);
    expect(() => plan({ kvDtype: 'q8_0' })).toThrow(/inference only/);
  });
});
