/**
 * Closed-form rules from the literature, kept beside the detailed per-tensor model so the UI
 * and tests can show both.
 */

export const SOURCES = {
  korthikanti: 'Korthikanti et al. 2022, "Reducing Activation Recomputation in Large Transformer Models", arXiv 2205.05198',
  chen: 'Chen et al. 2016, "Training Deep Nets with Sublinear Memory Cost", arXiv 1604.06174',
  zero: 'Rajbhandari et al. 2020, "ZeRO: Memory Optimizations Toward Training Trillion Parameter Models", arXiv 1910.02054',
  lora: 'Hu et al. 2021, "LoRA", arXiv 2106.09685',
  qlora: 'Dettmers et al. 2023, "QLoRA", arXiv 2305.14314',
  hfAnatomy: 'Hugging Face, "Model training anatomy" (transformers docs)',
  torchOptim: 'torch.optim foreach implementations (PyTorch ≥ 2.0)',
  bnb8bit: 'Dettmers et al. 2022, "8-bit Optimizers via Block-wise Quantization", arXiv 2110.02861',
  adafactor: 'Shazeer & Stern 2018, "Adafactor", arXiv 1804.04235',
  autocast: 'PyTorch autocast op reference (torch.amp)',
  sdpa: 'PyTorch scaled_dot_product_attention (flash / memory-efficient kernels)',
  kvCache: 'KV cache: 2 · layers · kv_heads · head_dim · context · batch · bytes',
  ddp: 'PyTorch DistributedDataParallel (gradient_as_bucket_view=False)',
  moe: 'Hugging Face transformers MixtralSparseMoeBlock / Qwen3MoeSparseMoeBlock / DeepseekV3MoE (dropless top-k routing)',
  mla: 'DeepSeek-AI 2024, "DeepSeek-V2", arXiv 2405.04434, §2.1 (multi-head latent attention)',
  window: 'Jiang et al. 2023, "Mistral 7B", arXiv 2310.06825 (rolling buffer cache); Gemma Team 2025, "Gemma 3", arXiv 2503.19786',
} as const;

/**
 * Activation bytes of one transformer layer with 16-bit activations and dropout
 * (Korthikanti et al. 2022, eq. 1): s·b·h·(34 + 5·a·s/h).
 */
export function korthikantiLayerBytes(s: number, b: number, h: number, a: number): number {
  return s * b * h * (34 + (5 * a * s) / h);
}

/** The same with selective recompute (attention core recomputed): 34·s·b·h. */
export function korthikantiSelectiveBytes(s: number, b: number, h: number): number {
  return 34 * s * b * h;
}

/** The rule of thumb: params × 4 B × (weights 1 + gradients 1 + Adam 2) + activations. */
export function textbookBytes(params: number, activations: number): number {
  return params * 4 * (1 + 1 + 2) + activations;
}
