/**
 * The Llama-style decoder's model description and what is built on it without a GPU: its
 * parameters against the planner's own parameter count (params.ts, an independent formula),
 * the framework-vramlab estimate and its refusals, scaling to a device, the CLI's run flags.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseRunArgs, UsageError } from '../../src/cli/args.ts';
import { describedLayout } from '../../src/estimate/describe.ts';
import { estimate } from '../../src/estimate/index.ts';
import { resolveModel } from '../../src/estimate/presets.ts';
import type { TransformerSpec } from '../../src/estimate/specs.ts';
import { LLAMA_RUN_MODELS, llamaDescriptionOf } from '../../src/estimate/vramlab-llama.ts';
import { DEFAULT_PLAN, type PlanConfig } from '../../src/protocol/config.ts';
import { LlamaRunConfigSchema, type LlamaRunConfig } from '../../src/protocol/run.ts';
import { deviceBudget, planForDevice } from '../../src/ui/scale.ts';
import { runConfigFor } from '../../src/ui/run-config.ts';

const MiB = 2 ** 20;
const plan = (over: Partial<PlanConfig>): PlanConfig => ({ ...DEFAULT_PLAN, mode: 'train', batch: 2, seq: 16, precision: 'fp32', optimizer: 'adam', checkpoint: 'none', framework: 'vramlab', ...over });
const spec = (id: string) => resolveModel(plan({ model: id })) as TransformerSpec;

describe('Llama: the model description', () => {
  it.each(LLAMA_RUN_MODELS)('%s: its parameters are the planner’s parameter count', (id) => {
    const desc = llamaDescriptionOf(spec(id), plan({ model: id }));
    const n = desc.params.reduce((a, p) => a + p.n, 0);
    expect(n).toBe(estimate(plan({ model: id, framework: 'pytorch' })).params);
    // Every gradient is created by exactly one unit.
    expect(desc.units.flatMap((u) => u.grads.map((p) => p.name)).sort()).toEqual(desc.params.map((p) => p.name).sort());
  });

  it('derives the schedule’s units: eager attention keeps b·heads·s² probabilities that selective recompute drops', () => {
    const eager = describedLayout(llamaDescriptionOf(spec('llama-3.2-1b'), plan({ model: 'llama-3.2-1b', attention: 'eager' })), { amp: false, optimizer: 'adam' });
    const fused = describedLayout(llamaDescriptionOf(spec('llama-3.2-1b'), plan({ model: 'llama-3.2-1b', attention: 'fused' })), { amp: false, optimizer: 'adam' });
    const block = (l: typeof eager) => l.units[1]!;
    expect(block(eager).selective).toBe(4 * 2 * 32 * 16 * 16);
    expect(block(fused).selective).toBe(0);
    expect(block(eager).saved - block(fused).saved).toBe(4 * 2 * 32 * 16 * 16 - 4 * 2 * 32 * 16);
    // Under amp only the matmul weights have 16-bit copies: the tied embedding is one of them.
    const amp = describedLayout(llamaDescriptionOf(spec('llama-3.2-1b'), plan({ model: 'llama-3.2-1b' })), { amp: true, optimizer: 'adam' });
    // fp32 master of everything; packed copies (2 B each) of all but the 2·16 + 1 RMSNorm gains of 2048.
    expect(amp.weightsBytes).toBe(amp.masterBytes / 2 - 2 * (2 * 16 + 1) * 2048);
  });

  it('the framework-vramlab estimate of a llama preset names the description as its source', () => {
    const p = estimate(plan({ model: 'mistral-7b', precision: 'amp-bf16', checkpoint: 'full' }));
    expect(p.terms.find((t) => t.category === 'activations')!.source).toMatch(/vramlab-llama\.ts/);
    expect(p.peak.bytes).toBeGreaterThan(p.bytes.masterWeights);
  });

  it('refuses a gemma config.json (GELU, scaled embeddings): the engine builds llama, mistral and qwen2', () => {
    const gemma = JSON.parse(readFileSync('test/fixtures/gemma-2b.config.json', 'utf8')) as Record<string, unknown>;
    expect(() => estimate(plan({ model: 'hf', hfConfig: gemma }))).toThrow(/Llama-style decoders .* --framework pytorch/);
  });
});

describe('Llama: the description under LoRA and QLoRA', () => {
  it('only the adapters train; the projections are frozen in their storage, everything else fp32; the estimate says so', () => {
    const id = 'qwen2.5-0.5b';
    const cfg = (over: Partial<PlanConfig>) => plan({ model: id, precision: 'amp-bf16', ...over });
    const desc = llamaDescriptionOf(spec(id), cfg({ loraRank: 8 }));
    const adapters = desc.params.filter((p) => p.role === 'adapter');
    const s = spec(id);
    const W = (s.heads + 2 * s.kvHeads) * s.headDim;
    // Per block: Wqkv d→W, Wo heads·headDim→d, Wgu d→2I, Wd I→d, each r·(in + out).
    const perBlock = 8 * (s.hidden + W + s.heads * s.headDim + s.hidden + s.hidden + 2 * s.intermediate + s.intermediate + s.hidden);
    expect(adapters.reduce((a, p) => a + p.n, 0)).toBe(s.layers * perBlock);
    expect(desc.units.flatMap((u) => u.grads)).toEqual(adapters);
    const bases = desc.params.filter((p) => p.role === 'frozen' && p.stored === 'packed16');
    expect(bases.map((p) => p.name.replace(/^h\d+\./, '')).slice(0, 4)).toEqual(['attn.Wqkv', 'attn.Wo', 'mlp.Wgu', 'mlp.Wd']);
    expect(desc.params.filter((p) => p.role === undefined)).toEqual([]);
    // The same parameters as full fine-tuning, plus the adapters.
    expect(desc.params.filter((p) => p.role !== 'adapter').reduce((a, p) => a + p.n, 0)).toBe(estimate(plan({ model: id, framework: 'pytorch' })).params);
    const full = estimate(cfg({}));
    const lora = estimate(cfg({ loraRank: 8 }));
    const qlora = estimate(cfg({ loraRank: 8, qlora: true }));
    expect(lora.bytes.gradients).toBe(4 * s.layers * perBlock);
    expect(lora.bytes.masterWeights).toBe(0);
    expect(qlora.bytes.weights).toBeLessThan(lora.bytes.weights);
    expect(lora.bytes.activations).toBeGreaterThan(full.bytes.activations);
    expect(() => estimate(cfg({ loraRank: 1000 }))).toThrow(/LoRA rank 1000 is over the model's width 896; lower --lora-rank/);
  });
});

describe('Llama: scaled to a device as a GPT is', () => {
  const software = deviceBudget({ isFallbackAdapter: true, limits: { maxBufferSize: 256 * MiB, maxStorageBufferBindingSize: 128 * MiB } });
  it.each(LLAMA_RUN_MODELS)('%s fits a software adapter once scaled, with an even head size and whole kv groups', (id) => {
    const made = runConfigFor(plan({ model: id, framework: 'pytorch' }), 5, 1);
    if ('error' in made) throw new Error(made.error);
    expect(made.config.model).toBe('llama');
    const p = planForDevice(made.config as Extract<typeof made.config, { model: 'llama' }>, software);
    expect(p.kind).toBe('scaled');
    if (p.kind !== 'scaled') return;
    const c = p.config;
    expect(LlamaRunConfigSchema.safeParse(c).success).toBe(true);
    expect(c.headDim % 2).toBe(0);
    expect(c.heads % c.kvHeads).toBe(0);
    expect(c.heads * c.headDim).toBe(c.dModel);
    expect(p.check.over).toEqual([]);
    expect(p.message).toMatch(/^Scaled down ×\d+ to fit this device: d \d+→\d+/);
  });
});

describe('vramlab run --model <llama preset>', () => {
  it('starts from the preset’s shape and takes the step flags', () => {
    const a = parseRunArgs(['--model', 'llama-3.2-1b', '--seq', '16', '--attention', 'eager', '--checkpoint', 'selective']);
    expect(a.config).toMatchObject({ model: 'llama', vocab: 128256, dModel: 2048, heads: 32, kvHeads: 8, headDim: 64, layers: 16, inner: 8192, tied: true, qkvBias: false, seq: 16, attention: 'eager', checkpoint: 'selective' });
    expect(parseRunArgs(['--model', 'qwen2.5-7b']).config).toMatchObject({ model: 'llama', tied: false, qkvBias: true, kvHeads: 4 });
  });

  it('--lora-rank, --lora-alpha and --qlora reach the Llama; nonsense is refused with the flag named', () => {
    expect(parseRunArgs(['--model', 'llama-3.2-1b', '--lora-rank', '8', '--qlora', '--lora-alpha', '32']).config).toMatchObject({ model: 'llama', loraRank: 8, qlora: true, loraAlpha: 32 });
    expect(() => parseRunArgs(['--model', 'llama-3.2-1b', '--qlora'])).toThrow(/--qlora.*needs a LoRA rank/);
    expect(() => parseRunArgs(['--model', 'llama-3.2-1b', '--lora-alpha', '4'])).toThrow(/--lora-alpha.*needs a LoRA rank/);
    expect(() => parseRunArgs(['--model', 'llama-3.2-1b', '--lora-rank', '2049'])).toThrow(/--lora-rank.*at most d-model \(2048\)/);
  });

  it('scaled to a device, a LoRA rank stays within the scaled width', () => {
    const c = { ...parseRunArgs(['--model', 'llama-3.2-1b', '--lora-rank', '2048']).config } as LlamaRunConfig;
    const p = planForDevice(c, deviceBudget({ isFallbackAdapter: true, limits: { maxBufferSize: 256 * MiB, maxStorageBufferBindingSize: 128 * MiB } }));
    expect(p.kind).toBe('scaled');
    if (p.kind !== 'scaled') return;
    expect(p.config.loraRank).toBe(p.config.dModel);
    expect(p.message).toMatch(/LoRA rank 2048→\d+/);
  });

  it('refuses the GPT shape flags, naming the flag', () => {
    expect(() => parseRunArgs(['--model', 'llama-3.2-1b', '--vocab', '10'])).toThrow(UsageError);
    expect(() => parseRunArgs(['--model', 'llama-3.2-1b', '--vocab', '10'])).toThrow(/--vocab shapes --model gpt only/);
  });
});
