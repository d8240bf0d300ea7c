/**
 * Today's decoder families: mixture of experts, multi-head latent attention, sliding-window and
 * local/global attention, MQA/GQA variants and fused projections. Parameter counts against the
 * published ones, memory terms to the byte, config.json import and its refusals, the CLI.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main, type Io } from '../../src/cli/main.ts';
import { dtypePlan } from '../../src/estimate/dtypes.ts';
import { EstimateError, estimate, listModels } from '../../src/estimate/index.ts';
import { parseHfConfig } from '../../src/estimate/hf.ts';
import { activeParams, moeBlockBytes, moeLayers, routedRows } from '../../src/estimate/moe.ts';
import { inventory, totalParams } from '../../src/estimate/params.ts';
import { resolveModel } from '../../src/estimate/presets.ts';
import { transformerLayerBytes } from '../../src/estimate/pytorch.ts';
import type { TransformerSpec } from '../../src/estimate/specs.ts';
import { kvCache, layerWindows } from '../../src/estimate/window.ts';
import { DEFAULT_PLAN, type PlanConfig } from '../../src/protocol/config.ts';

const fixture = (name: string): Record<string, unknown> => JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8'));
const spec = (model: string) => resolveModel({ ...DEFAULT_PLAN, model }) as TransformerSpec;
const plan = (over: Partial<PlanConfig>) => estimate({ ...DEFAULT_PLAN, ...over });
const inference = (model: string, seq: number, over: Partial<PlanConfig> = {}) => plan({ model, mode: 'inference', precision: 'bf16', batch: 1, seq, ...over });

// Published counts: model cards and the counts computable from each config.json (every tensor
// of the transformers class; embeddings tied where the model ties them). DeepSeek-V3's 671B is
// the main model (the multi-token-prediction module, 14B more, is a separate file).
const COUNTS: [string, string, number][] = [
  ['mixtral-8x7b', 'mixtral-8x7b.config.json', 46_702_792_704],
  ['qwen3-30b-a3b', 'qwen3-30b-a3b.config.json', 30_532_122_624],
  ['deepseek-v3', 'deepseek-v3.config.json', 671_026_419_200],
  ['gpt-oss-20b', 'gpt-oss-20b.config.json', 20_914_757_184],
  ['gemma-3-4b', 'gemma-3-4b-it.config.json', 3_880_263_168],
  ['falcon-7b', 'falcon-7b.config.json', 6_921_720_704],
  ['falcon-40b', 'falcon-40b.config.json', 41_303_293_952],
  ['phi-3-mini', 'phi-3-mini-4k.config.json', 3_821_079_552],
  ['mistral-7b', 'mistral-7b-v0.1.config.json', 7_241_732_096],
];

describe('parameter counts of the new families equal the published ones', () => {
  it.each(COUNTS)('%s: the preset and its config.json both have %s… parameters', (model, file, n) => {
    expect(totalParams(inventory(spec(model)))).toBe(n);
    expect(totalParams(inventory(parseHfConfig(fixture(file))))).toBe(n);
    expect(inference(model, 128).params).toBe(n);
  });

  it('the preset and the imported config.json describe the same model, windows and experts included', () => {
    const shape = (s: TransformerSpec) => ({ ...s, name: '', id: '' });
    for (const [model, file] of COUNTS) expect(shape(parseHfConfig(fixture(file))), model).toEqual(shape(spec(model)));
  });

  it('Mixtral 8x7B: 46.7B resident, 12.9B active per token (Mistral AI: "46.7B total, 12.9B active")', () => {
    const inv = inventory(spec('mixtral-8x7b'));
    // 32 layers × (attention 41,943,040 + 2 of 8 experts × 176,160,768 + router 32,768 + norms 8,192) + embedding and head.
    expect(activeParams(inv)).toBe(12_879_925_248);
    expect(totalParams(inv) / 1e9).toBeCloseTo(46.7, 1);
    expect(activeParams(inv) / 1e9).toBeCloseTo(12.9, 1);
  });

  it('Qwen3-30B-A3B: 3.3B active (Qwen: "30.5B total, 3.3B activated")', () => {
    expect(activeParams(inventory(spec('qwen3-30b-a3b')))).toBe(3_353_032_704);
  });

  it('DeepSeek-V3: 37.6B active with the input embedding, 36.6B without it as DeepSeek counts', () => {
    const s = spec('deepseek-v3');
    const active = activeParams(inventory(s));
    expect(active).toBe(37_552_297_472);
    // README_WEIGHTS.md: "Activation parameters: 36.6B (including 0.9B for the output Head)".
    expect(((active - s.vocab * s.hidden) / 1e9).toFixed(1)).toBe('36.6');
  });

  it('gpt-oss-20b: 20.91B total, 3.61B active without the input embedding (OpenAI model card)', () => {
    const s = spec('gpt-oss-20b');
    const inv = inventory(s);
    expect((totalParams(inv) / 1e9).toFixed(2)).toBe('20.91');
    expect(((activeParams(inv) - s.vocab * s.hidden) / 1e9).toFixed(2)).toBe('3.61');
    // Per layer: 64 attention-sink logits, router bias and per-expert biases on gate_up and down.
    const layer0 = inv.tensors.filter((t) => t.block === 0).map((t) => t.name);
    expect(layer0).toEqual(expect.arrayContaining(['layers.0.sinks', 'layers.0.mlp.router.bias', 'layers.0.mlp.experts.gate_up_proj_bias', 'layers.0.mlp.experts.down_proj_bias']));
  });

  it('DeepSeek-V2-Lite (no q latent, 2 shared experts, 1 dense layer): 15.7B total, 2.4B active (its model card)', () => {
    // The shape fields of deepseek-ai/DeepSeek-V2-Lite's config.json.
    const lite = parseHfConfig({
      architectures: ['DeepseekV2ForCausalLM'], model_type: 'deepseek_v2', vocab_size: 102400, hidden_size: 2048, intermediate_size: 10944,
      moe_intermediate_size: 1408, num_hidden_layers: 27, num_attention_heads: 16, num_key_value_heads: 16, n_shared_experts: 2,
      n_routed_experts: 64, num_experts_per_tok: 6, first_k_dense_replace: 1, moe_layer_freq: 1, q_lora_rank: null, kv_lora_rank: 512,
      qk_rope_head_dim: 64, qk_nope_head_dim: 128, v_head_dim: 128, tie_word_embeddings: false,
    });
    const inv = inventory(lite);
    expect(totalParams(inv)).toBe(15_706_484_224);
    // Without the input embedding 2,451,435,008: the card's 2.4B, truncated.
    expect(activeParams(inv) - lite.vocab * lite.hidden).toBe(2_451_435_008);
    expect(inv.tensors.map((t) => t.name)).toContain('layers.0.self_attn.q_proj');
  });

  it('Qwen1.5-MoE-A2.7B (qwen2_moe, gated shared expert): 14.3B total, 2.7B active (its model card)', () => {
    const q = parseHfConfig({
      architectures: ['Qwen2MoeForCausalLM'], model_type: 'qwen2_moe', vocab_size: 151936, hidden_size: 2048, intermediate_size: 5632,
      moe_intermediate_size: 1408, shared_expert_intermediate_size: 5632, num_experts: 60, num_experts_per_tok: 4, decoder_sparse_step: 1,
      num_hidden_layers: 24, num_attention_heads: 16, num_key_value_heads: 16, tie_word_embeddings: false, use_sliding_window: false,
    });
    const inv = inventory(q);
    expect(totalParams(inv)).toBe(14_315_784_192);
    expect((activeParams(inv) / 1e9).toFixed(1)).toBe('2.7');
  });

  it('a MoE plan reports total and active parameters; a dense one only the total', () => {
    const p = inference('mixtral-8x7b', 128);
    expect(p.model.activeParams).toBe(12_879_925_248);
    expect(inference('mistral-7b', 128).model.activeParams).toBeUndefined();
  });
});

describe('mixture of experts', () => {
  it('weights, gradients and optimizer states count every expert, not the active ones', () => {
    const P = 46_702_792_704;
    // bf16 inference: every weight at 2 B, plus the rotary inv_freq buffer (64 fp32 values).
    expect(inference('mixtral-8x7b', 128).bytes.weights).toBe(2 * P + 4 * 64);
    const t = plan({ model: 'mixtral-8x7b', batch: 1, seq: 128, precision: 'amp-bf16', optimizer: 'adamw' });
    expect(t.bytes.optimizer).toBe(8 * P);
    expect(t.bytes.masterWeights).toBe(4 * P);
    expect(t.bytes.gradients).toBe(4 * P);
  });

  it('dense-first and sparse-step layer rules follow transformers', () => {
    const ds = moeLayers(61, { kind: 'deepseek', firstDense: 3, freq: 1 });
    expect(ds.slice(0, 4)).toEqual([false, false, false, true]);
    expect(ds.filter(Boolean)).toHaveLength(58);
    expect(moeLayers(6, { kind: 'deepseek', firstDense: 1, freq: 2 })).toEqual([false, false, true, false, true, false]);
    // Qwen2-MoE: (layer + 1) % decoder_sparse_step == 0 and not in mlp_only_layers.
    expect(moeLayers(6, { kind: 'qwen', step: 2, mlpOnly: [3] })).toEqual([false, true, false, false, false, true]);
    // DeepSeek-V3's 3 dense layers hold an 18432-wide MLP, its 58 MoE layers 256 stacked experts.
    const names = inventory(spec('deepseek-v3')).tensors.map((t) => t.name);
    expect(names).toContain('layers.2.down_proj');
    expect(names).not.toContain('layers.3.down_proj');
    expect(names).toContain('layers.3.mlp.experts.down_proj');
    expect(names).toContain('layers.3.mlp.shared_expert.down_proj');
  });

  it('dropless routing sends exactly b·s × k rows to the experts; a capacity factor pads every expert', () => {
    const m = spec('mixtral-8x7b').moe!;
    expect(routedRows(4096, m)).toBe(8192);
    // C = ⌈1.25 × 4096 × 2 / 8⌉ = 1280 rows per expert, × 8 experts.
    expect(routedRows(4096, m, 1.25)).toBe(10240);
    expect(routedRows(1000, m, 1)).toBe(8 * Math.ceil(2000 / 8));
  });

  it('one Mixtral MoE block under autocast bf16 keeps its router, k rows per token and their expert hiddens', () => {
    const s = spec('mixtral-8x7b');
    const [h, E, k, Ie, T] = [4096, 8, 2, 14336, 2048];
    const b = moeBlockBytes(s, dtypePlan('amp-bf16', false), T);
    // Router: its input cast (2h), fp32 softmax over E, k int64 indices, k fp32 weights and their sum.
    expect(b.router).toBe(T * (2 * h + 4 * E + 8 * k + 4 * k + 4));
    // Per routed row: int64 row index, gate and up casts (2 × 2h), the gated MLP (4 × 2 B × I_e),
    // the expert output and its routing weight kept by the weighting multiply.
    expect(b.routed).toBe(T * k * (8 + 4 * h + 8 * Ie + 2 * h + 2));
    expect(b.shared).toBe(0);
    // The one-hot expert mask is int64, E × k per token.
    expect(b.fwdTransient).toBe(T * E * k * 8 + T * 2 * h);
  });

  it('a MoE layer keeps k experts’ hiddens per token where the dense layer of the same width keeps one', () => {
    const s = spec('mixtral-8x7b');
    const dense = { ...s, moe: undefined };
    const dt = dtypePlan('amp-bf16', false);
    const moe = transformerLayerBytes(s, dt, false, 1024, 0).mlp;
    const one = transformerLayerBytes(dense, dt, false, 1024, 0).mlp;
    expect(moe).toBeGreaterThan(1.9 * one);
    expect(moe).toBeLessThan(2.2 * one);
  });

  it('expert parallel: each GPU holds experts / ep; non-expert tensors stay whole', () => {
    const experts = 32 * 3 * 8 * 4096 * 14336;
    const local = 46_702_792_704 - (experts * 7) / 8;
    const p = plan({ model: 'mixtral-8x7b', batch: 1, seq: 128, gpus: 8, ep: 8 });
    expect(p.params).toBe(46_702_792_704);
    expect(p.trainableParams).toBe(local);
    expect(p.bytes.optimizer).toBe(8 * local);
    expect(p.notes.some((n) => n.startsWith('expert parallel 8'))).toBe(true);
    // Half the experts' states per GPU with ep 2; the all-to-all buffers of the routed rows
    // (2 × b·s·k × h × 2 B in a layer's forward) add to the activations.
    const ep1 = plan({ model: 'qwen3-30b-a3b', batch: 1, seq: 256, gpus: 2 });
    const ep2 = plan({ model: 'qwen3-30b-a3b', batch: 1, seq: 256, gpus: 2, ep: 2 });
    const expertStates = 8 * 48 * 3 * 2048 * 768 * 128;
    expect(ep1.bytes.optimizer - ep2.bytes.optimizer).toBe(expertStates / 2);
    expect(ep2.bytes.activations).toBeGreaterThan(ep1.bytes.activations);
  });

  it.each([
    [{ model: 'mixtral-8x7b', gpus: 3, ep: 3 }, '--ep 3 must divide the 8 experts per layer'],
    [{ model: 'mixtral-8x7b', gpus: 2, ep: 4 }, '--ep 4 needs --gpus to be a multiple of it'],
    [{ model: 'llama-2-7b', gpus: 2, ep: 2 }, 'Llama 2 7B has none: use --ep 1'],
    [{ model: 'mixtral-8x7b', gpus: 8, ep: 8, zero: 2 as const }, '--ep with --zero 2 is not modelled'],
  ])('refuses %o', (over, message) => {
    expect(() => plan({ batch: 1, seq: 128, ...over })).toThrow(EstimateError);
    expect(() => plan({ batch: 1, seq: 128, ...over })).toThrow(message);
  });
});

describe('KV cache per token, to the byte (bf16)', () => {
  const perToken = (model: string) => inference(model, 1024).bytes.kvCache / 1024;

  it('falcon-7b, multi-query: 2 × 32 layers × 1 kv head × 64 × 2 B = 8,192 B', () => {
    expect(perToken('falcon-7b')).toBe(8192);
  });

  it('falcon-40b, 8 kv heads: 2 × 60 × 8 × 64 × 2 B = 122,880 B', () => {
    expect(perToken('falcon-40b')).toBe(122_880);
  });

  it('deepseek-v3, MLA: (512 latent + 64 rotary key) × 61 layers × 2 B = 70,272 B, 71× less than its decompressed K/V', () => {
    expect(perToken('deepseek-v3')).toBe(70_272);
    const mha = 2 * 61 * 128 * (192 + 128) / 2 * 2;
    expect(Math.round(mha / 70_272)).toBe(71);
    expect(inference('deepseek-v3', 1024).notes.some((n) => n.startsWith('MLA: the KV cache holds the 512-value latent'))).toBe(true);
  });

  it('a Gemma 3 local layer caches 2 × 4 kv heads × 256 × 2 B = 4,096 B per token, for its last 1,024 tokens only', () => {
    const s = spec('gemma-3-4b');
    const one = { ...s, layers: 1 };
    expect(kvCache({ ...one, windows: [1024] }, 512, 1, 2).bytes).toBe(4096 * 512);
    expect(kvCache({ ...one, windows: [1024] }, 8192, 1, 2).bytes).toBe(4096 * 1024);
    expect(kvCache({ ...one, windows: [0] }, 8192, 1, 2).bytes).toBe(4096 * 8192);
    // The whole model at 8k: 29 local layers (window 1024) and 5 global ones.
    expect(s.windows!.filter((w) => w === 1024)).toHaveLength(29);
    expect(inference('gemma-3-4b', 8192).bytes.kvCache).toBe(4096 * (29 * 1024 + 5 * 8192));
  });

  it('gpt-oss-20b: 12 layers with a 128-token window, 12 global, 2 × 8 kv heads × 64 × 2 B = 2,048 B per token and layer', () => {
    expect(inference('gpt-oss-20b', 8192).bytes.kvCache).toBe(2048 * (12 * 128 + 12 * 8192));
  });

  it("mistral-7b v0.1's 4,096-token window caps its cache; below the window nothing changes", () => {
    const perLayerToken = 2 * 8 * 128 * 2;
    expect(inference('mistral-7b', 2048).bytes.kvCache).toBe(32 * 2048 * perLayerToken);
    expect(inference('mistral-7b', 16384).bytes.kvCache).toBe(32 * 4096 * perLayerToken);
    expect(inference('llama-3.1-8b', 16384).bytes.kvCache).toBe(32 * 16384 * perLayerToken);
  });

  it('eager attention still holds s × s scores on a local layer (transformers masks the band)', () => {
    const dt = dtypePlan('amp-bf16', false);
    const s = spec('mistral-7b');
    expect(transformerLayerBytes(s, dt, true, 8192).scores).toBe(transformerLayerBytes({ ...s, windows: undefined }, dt, true, 8192).scores);
  });
});

describe('local/global layer rules', () => {
  it('Gemma 2 alternates from a local first layer; Gemma 3 makes every sixth layer global', () => {
    expect(layerWindows(4, 4096, { kind: 'even' })).toEqual([4096, 0, 4096, 0]);
    expect(layerWindows(12, 1024, { kind: 'pattern', pattern: 6 })).toEqual([1024, 1024, 1024, 1024, 1024, 0, 1024, 1024, 1024, 1024, 1024, 0]);
  });

  it('layer_types, a Gemma 2 config and Qwen2 use_sliding_window are read', () => {
    const base = { model_type: 'llama', vocab_size: 100, hidden_size: 64, num_hidden_layers: 3, num_attention_heads: 4, intermediate_size: 128 };
    const typed = parseHfConfig({ ...base, sliding_window: 16, layer_types: ['sliding_attention', 'full_attention', 'sliding_attention'] });
    expect(typed.windows).toEqual([16, 0, 16]);
    expect(parseHfConfig({ ...base, model_type: 'gemma2' }).windows).toEqual([4096, 0, 4096]);
    expect(parseHfConfig({ ...base, model_type: 'qwen2', sliding_window: 32, use_sliding_window: true, max_window_layers: 2 }).windows).toEqual([0, 0, 32]);
    expect(parseHfConfig({ ...base, model_type: 'qwen2', sliding_window: 32, use_sliding_window: false }).windows).toBeUndefined();
    expect(parseHfConfig(base).windows).toBeUndefined();
  });
});

describe('MQA/GQA variants and fused projections', () => {
  it('Falcon: one fused query_key_value of (heads + 2 kv heads) × 64 columns, one LayerNorm per layer in 7B, two in 40B', () => {
    const names7 = inventory(spec('falcon-7b')).tensors.filter((t) => t.block === 0);
    expect(names7.find((t) => t.name === 'layers.0.qkv_proj')).toMatchObject({ rows: 4544, cols: (71 + 2) * 64 });
    expect(names7.filter((t) => t.name.endsWith('norm.weight') || t.name.endsWith('norm.bias')).map((t) => t.name)).toEqual(['layers.0.attn_norm.weight', 'layers.0.attn_norm.bias']);
    const names40 = inventory(spec('falcon-40b')).tensors.filter((t) => t.block === 0 && t.name.includes('norm'));
    expect(names40).toHaveLength(4);
  });

  it("phi-3's fused qkv keeps one cast of the normed input where three projections keep three", () => {
    const s = spec('phi-3-mini');
    const dt = dtypePlan('amp-bf16', false);
    const fused = transformerLayerBytes(s, dt, false, 1024);
    const split = transformerLayerBytes({ ...s, fusedQkv: false, fusedGateUp: false }, dt, false, 1024);
    expect(split.attention - fused.attention).toBe(2 * 2 * 3072);
    expect(split.mlp - fused.mlp).toBe(2 * 3072);
    expect(totalParams(inventory({ ...s, fusedQkv: false, fusedGateUp: false }))).toBe(totalParams(inventory(s)));
  });

  it('a head_dim that is not hidden / heads is kept (Gemma 3: 8 heads × 256 over a 2560-wide stream)', () => {
    const s = parseHfConfig(fixture('gemma-3-4b-it.config.json'));
    expect([s.hidden, s.heads, s.headDim]).toEqual([2560, 8, 256]);
    expect(inventory(s).tensors.find((t) => t.name === 'layers.0.q_proj')).toMatchObject({ rows: 2560, cols: 2048 });
  });
});

describe('config.json refusals', () => {
  const ok = fixture('qwen3-30b-a3b.config.json');
  it.each([
    [{ ...ok, model_type: 'jamba' }, /model_type 'jamba' is not supported; supported: .*mixtral.*qwen3_moe.*deepseek_v3.*gemma3.*falcon.*phi3/],
    [{ ...ok, num_experts: undefined }, /num_experts is missing/],
    [{ ...ok, num_experts_per_tok: 256 }, /num_experts_per_tok \(256\) is more than the 128 experts/],
    [{ ...ok, mlp_only_layers: [48] }, /mlp_only_layers names layer 48, past the last layer \(47\)/],
    [{ ...ok, architectures: ['MixtralForCausalLM'] }, /'MixtralForCausalLM' is not a qwen3_moe class; a qwen3_moe config names Qwen3MoeForCausalLM/],
    [{ ...fixture('falcon-40b.config.json'), num_kv_heads: 7 }, /num_kv_heads \(7\) must divide num_attention_heads \(128\)/],
    [{ ...fixture('deepseek-v3.config.json'), kv_lora_rank: undefined }, /kv_lora_rank/],
    [{ ...ok, sliding_window: 8, layer_types: ['sliding_attention'] }, /layer_types has 1 entries for 48 layers/],
    [{ ...ok, sliding_window: 8, layer_types: Array(48).fill('chunked_attention') }, /layer_types entries must be one of: full_attention, sliding_attention/],
    [{ ...fixture('gemma-3-4b-it.config.json'), text_config: [] }, /text_config must be an object/],
    [{ ...fixture('falcon-7b.config.json'), activation: 'relu2' }, /activation 'relu2' is not an activation vramlab knows/],
  ])('%#: one sentence naming the field', (json, message) => {
    expect(() => parseHfConfig(json)).toThrow(EstimateError);
    expect(() => parseHfConfig(json)).toThrow(message);
  });
});

describe('the CLI and the page offer every new preset', () => {
  const NEW = ['mixtral-8x7b', 'qwen3-30b-a3b', 'deepseek-v3', 'gpt-oss-20b', 'gemma-3-4b', 'falcon-7b', 'falcon-40b', 'phi-3-mini'];
  const dir = mkdtempSync(join(tmpdir(), 'vramlab-llm-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const capture = () => {
    const io = { stdout: '', stderr: '', env: {}, out: (t: string) => void (io.stdout += t), err: (t: string) => void (io.stderr += t) };
    return io as Io & { stdout: string; stderr: string };
  };

  it('the model list (the page’s select) holds each', () => {
    const ids = listModels().map((m) => m.id);
    for (const id of NEW) expect(ids).toContain(id);
  });

  it.each(NEW)('vramlab estimate --model %s --json', async (model) => {
    const io = capture();
    expect(await main(['estimate', '--model', model, '--batch', '1', '--seq', '256', '--json'], io)).toBe(0);
    expect(JSON.parse(io.stdout).params).toBe(COUNTS.find(([m]) => m === model)![2]);
  });

  it('the text report says total and active for a MoE', async () => {
    const io = capture();
    expect(await main(['estimate', '--model', 'mixtral-8x7b', '--mode', 'inference', '--seq', '512'], io)).toBe(0);
    expect(io.stdout).toContain('Params  46,702,792,704 (46.7 B) total, 12,879,925,248 (12.9 B) active per token');
  });

  it.each([
    ['a bad expert count', { ...fixture('mixtral-8x7b.config.json'), num_local_experts: 0 }, /num_local_experts/],
    ['an unknown model_type', { ...fixture('mixtral-8x7b.config.json'), model_type: 'dbrx' }, /model_type 'dbrx' is not supported/],
  ])('%s: exit 2 with one line', async (_, json, message) => {
    const path = join(dir, 'bad.config.json');
    writeFileSync(path, JSON.stringify(json));
    const io = capture();
    expect(await main(['estimate', '--hf-config', path], io)).toBe(2);
    expect(io.stdout).toBe('');
    expect(io.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(io.stderr).toMatch(message);
  });

  it('--ep that does not divide the experts: exit 2 with one line', async () => {
    const io = capture();
    expect(await main(['estimate', '--model', 'mixtral-8x7b', '--gpus', '6', '--ep', '3'], io)).toBe(2);
    expect(io.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(io.stderr).toContain('--ep 3 must divide the 8 experts per layer');
  });
});
