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
import { LlamaRunConfigSchema } from '../../src/protocol/run.ts';
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

  it('refuses the GPT shape flags, naming the flag', () => {
    expect(() => parseRunArgs(['--model', 'llama-3.2-1b', '--vocab', '10'])).toThrow(UsageError);
    expect(() => parseRunArgs(['--model', 'llama-3.2-1b', '--vocab', '10'])).toThrow(/--vocab shapes --model gpt only/);
  });
});
