/** The Llama-style decoder the GPU tests train: tiny, with grouped-query attention. */
import type { LlamaRunConfig } from '../../src/protocol/run.ts';

/** 4 query heads over 2 kv heads of 4 lanes, SwiGLU width 24, 2 blocks, 2 sequences of 8. */
export const tinyLlama = (over: Partial<LlamaRunConfig> = {}): LlamaRunConfig => ({
  model: 'llama',
  vocab: 32,
  dModel: 16,
  heads: 4,
  kvHeads: 2,
  headDim: 4,
  layers: 2,
  inner: 24,
  tied: true,
  qkvBias: false,
  ropeTheta: 10000,
  seq: 8,
  batch: 2,
  attention: 'fused',
  precision: 'fp32',
  optimizer: 'adam',
  checkpoint: 'none',
  steps: 2,
  seed: 1,
  ...over,
});
