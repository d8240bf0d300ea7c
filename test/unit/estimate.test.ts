import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EstimateError, estimate, listModels } from '../../src/estimate/index.ts';
import { korthikantiLayerBytes } from '../../src/estimate/formulas.ts';
import { dtypePlan } from '../../src/estimate/dtypes.ts';
import { inventory, totalParams } from '../../src/estimate/params.ts';
import { resolveModel } from '../../src/estimate/presets.ts';
import { transformerLayerBytes } from '../../src/estimate/pytorch.ts';
import type { TransformerSpec } from '../../src/estimate/specs.ts';
import { ConfigError, DEFAULT_PLAN, type PlanConfig } from '../../src/protocol/config.ts';
import { PLAN_CATEGORIES, type CategoryBytes } from '../../src/protocol/plan.ts';
import { DEFAULT_RUN, GPT_NANO_RUN, planConfigOf, planConfigOfGpt } from '../../src/protocol/run.ts';

const sum = (b: CategoryBytes) => Object.values(b).reduce((a, x) => a + x, 0);
const MiB = 2 ** 20;
const GiB = 2 ** 30;
const plan = (over: Partial<PlanConfig>) => estimate({ ...DEFAULT_PLAN, ...over });
const params = (model: string) => totalParams(inventory(resolveModel({ ...DEFAULT_PLAN, model })));
const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8'));

describe('parameter counts equal the published ones', () => {
  // Hugging Face model cards / torchvision docs; GPT-2 and LLaMA-3.2-1B tie the LM head.
  it.each([
    ['gpt2-small', 124_439_808],
    ['gpt2-medium', 354_823_168],
    ['gpt2-large', 774_030_080],
    ['gpt2-xl', 1_557_611_200],
    ['bert-base', 109_514_298],
    ['bert-large', 335_174_458],
    ['llama-2-7b', 6_738_415_616],
    ['llama-2-13b', 13_015_864_320],
    ['llama-3.2-1b', 1_235_814_400],
    ['llama-3.2-3b', 3_212_749_824],
    ['llama-3.1-8b', 8_030_261_248],
    ['mistral-7b', 7_241_732_096],
    ['qwen2.5-0.5b', 494_032_768],
    ['qwen2.5-7b', 7_615_616_512],
    ['resnet18', 11_689_512],
    ['resnet50', 25_557_032],
    ['resnet101', 44_549_160],
  ])('%s has %i parameters', (model, n) => {
    expect(params(model)).toBe(n);
    expect(plan({ model, mode: 'inference', precision: 'fp32' }).params).toBe(n);
  });

  it('every listed model estimates without error', () => {
    for (const m of listModels()) {
      const p = plan({ model: m.id, batch: 1, seq: 128, imageSize: 64 });
      expect(p.peak.bytes).toBeGreaterThan(0);
    }
  });
});

describe('published figures', () => {
  it('Korthikanti et al.: one layer at h 768, a 12, s 1024, b 1 holds 85.5 MiB', () => {
    expect(korthikantiLayerBytes(1024, 1, 768, 12) / MiB).toBeCloseTo(85.5, 2);
  });

  it('the detailed model differs from sbh(34 + 5as/h) only by the head-merge copy and norm statistics', () => {
    // Korthikanti's setting: 16-bit storage, dropout, eager attention, a fused GELU.
    const spec = { ...(resolveModel({ ...DEFAULT_PLAN, model: 'gpt2-small' }) as TransformerSpec), act: 'gelu' as const };
    const [s, b, h, a] = [1024, 1, 768, 12];
    const lb = transformerLayerBytes(spec, dtypePlan('fp16', false), true, s);
    const detailed = s * b * (lb.attention + lb.mlp + lb.scores);
    // Hugging Face copies the attention output when merging heads (2·sbh) and each of the two
    // norms keeps fp32 statistics (2 × 8 B per token).
    expect(detailed).toBe(korthikantiLayerBytes(s, b, h, a) + s * b * (2 * h + 16));
  });

  it('GPT-2 under autocast: NewGELU keeps fp32 tensors because pow runs in fp32', () => {
    const spec = resolveModel({ ...DEFAULT_PLAN, model: 'gpt2-small' }) as TransformerSpec;
    const [h, I] = [768, 3072];
    const amp = transformerLayerBytes(spec, dtypePlan('amp-bf16', false), false, 1024);
    // LN input (fp32) + stats + c_fc's 16-bit cast; pow's fp32 copy, tanh, 1 + tanh (fp32),
    // 0.5·x (16-bit), c_proj's cast; the dropout mask.
    expect(amp.mlp).toBe(4 * h + 8 + 2 * h + (4 + 4 + 4 + 2 + 2) * I + h);
    const fp32 = transformerLayerBytes(spec, dtypePlan('fp32', false), false, 1024);
    expect(fp32.mlp).toBe(4 * h + 8 + 4 * h + 5 * 4 * I + h);
  });

  it('accelerate estimate-memory: bert-base-cased loads in 413.18 MiB (fp32), "training with Adam" 1.61 GiB', () => {
    const config = { ...fixture('bert-base-cased.config.json'), architectures: ['BertModel'] };
    const p = plan({ model: 'hf', hfConfig: config, mode: 'inference', precision: 'fp32', seq: 128, batch: 1 });
    expect(p.params).toBe(108_310_272);
    expect(p.bytes.weights / MiB).toBeCloseTo(413.18, 2);
    // accelerate prints 4 × the fp32 load, which is the textbook rule without activations.
    expect((p.params * 16) / GiB).toBeCloseTo(1.61, 2);
  });

  it('LLaMA-2-7B in fp16 needs 13.48 GB (12.55 GiB) for its weights', () => {
    const p = plan({ model: 'llama-2-7b', mode: 'inference', precision: 'fp16', batch: 1, seq: 1 });
    expect(p.bytes.weights / 1e9).toBeCloseTo(13.48, 2);
    expect(p.bytes.weights / GiB).toBeCloseTo(12.55, 2);
  });
});

describe('Hugging Face config.json import', () => {
  it('reads llama, gpt2, qwen2 and gemma configs with the real parameter counts', () => {
    const count = (f: string, over: object = {}) => plan({ model: 'hf', hfConfig: { ...fixture(f), ...over }, mode: 'inference', batch: 1, seq: 8 }).params;
    expect(count('llama-3.2-1b.config.json')).toBe(1_235_814_400);
    expect(count('gpt2.config.json')).toBe(124_439_808);
    expect(count('qwen2.5-0.5b.config.json')).toBe(494_032_768);
    expect(count('gemma-2b.config.json')).toBe(2_506_172_416);
    // Untying the head adds a vocab × hidden matrix.
    expect(count('llama-3.2-1b.config.json', { tie_word_embeddings: false })).toBe(1_235_814_400 + 128256 * 2048);
  });

  it.each([
    [{ model_type: 'llama' }, /vocab_size/],
    [{ ...{ model_type: 'llama', vocab_size: 10, hidden_size: 'big' } }, /config\.json: /],
    [{ model_type: 't5' }, /model_type 't5' is not supported/],
    [{}, /model_type/],
    [[1, 2], /JSON object/],
    ['text', /JSON object/],
    [{ model_type: 'gpt2', vocab_size: 100, n_embd: 100, n_layer: 2, n_head: 3 }, /n_head \(3\) must divide/],
    [{ model_type: 'gpt2', vocab_size: -1, n_embd: 64, n_layer: 2, n_head: 2 }, /vocab_size/],
    [{ ...{ model_type: 'bert', architectures: ['BertForSequenceClassification'] } }, /architectures\[0\]|vocab_size/],
  ])('rejects %j with a message naming the field', (cfg, msg) => {
    expect(() => plan({ model: 'hf', hfConfig: cfg })).toThrow(EstimateError);
    expect(() => plan({ model: 'hf', hfConfig: cfg })).toThrow(msg);
  });
});

describe('the breakdown responds to every setting', () => {
  const base = { model: 'gpt2-small', batch: 4, seq: 512, precision: 'amp-bf16', optimizer: 'adamw' } as const;

  it('reports every category as a whole, non-negative number and the peak as their sum', () => {
    const p = plan(base);
    for (const k of PLAN_CATEGORIES) {
      expect(Number.isInteger(p.bytes[k])).toBe(true);
      expect(p.bytes[k]).toBeGreaterThanOrEqual(0);
    }
    const alive = Object.values(p.peak.alive).reduce((a, b) => a + b, 0);
    expect(Math.abs(alive - p.peak.bytes)).toBeLessThanOrEqual(PLAN_CATEGORIES.length);
    expect(p.totalBytes).toBe(p.peak.bytes + p.overhead.allocatorBytes + p.overhead.cudaContextBytes);
  });

  it('fp32 Adam keeps 4 B weights, 4 B gradients and 8 B of states per parameter', () => {
    const p = plan({ ...base, precision: 'fp32' });
    expect(p.bytes.weights).toBe(p.params * 4);
    expect(p.bytes.gradients).toBe(p.params * 4);
    expect(p.bytes.optimizer).toBe(p.params * 8);
    expect(p.bytes.masterWeights).toBe(0);
  });

  it('autocast keeps fp32 master weights and 16-bit copies of the matmul weights only while they are needed', () => {
    const p = plan(base);
    expect(p.bytes.masterWeights).toBe(p.params * 4);
    // The tied LM head is cast too: every weight but the position table, norms and biases.
    const matmul = 124_439_808 - 1024 * 768 - 12 * (4 * 768 + 3 * 768 + 768 + 4 * 768 + 768) - 2 * 768;
    expect(p.bytes.weights).toBe(2 * matmul);
    // Saved by the matmuls for backward, the copies are all alive when backward starts and
    // gone by the optimizer step.
    const at = (label: string) => p.timeline.find((t) => t.label === label)!.bytes;
    expect(at('end of forward').weights).toBe(2 * matmul);
    expect(at('optimizer step').weights).toBe(0);
    expect(at('start of step').weights).toBe(0);
  });

  it('eager attention adds s² tensors that grow 4× when the sequence doubles; fused attention keeps none', () => {
    const scores = (seq: number) => {
      const p = plan({ ...base, seq, attention: 'eager' });
      return p.terms.find((t) => t.label.startsWith('attention scores'))!.bytes;
    };
    expect(scores(1024) / scores(512)).toBe(4);
    expect(plan({ ...base, attention: 'fused' }).terms.some((t) => t.label.startsWith('attention scores'))).toBe(false);
    expect(plan({ ...base, attention: 'eager' }).peak.bytes).toBeGreaterThan(plan({ ...base, attention: 'fused' }).peak.bytes);
  });

  it('checkpointing: full < sqrt < none in activation bytes, selective drops only the s² part', () => {
    const act = (checkpoint: PlanConfig['checkpoint'], attention: PlanConfig['attention'] = 'fused') =>
      plan({ ...base, model: 'gpt2-medium', checkpoint, attention }).bytes.activations;
    expect(act('full')).toBeLessThan(act('sqrt'));
    expect(act('sqrt')).toBeLessThan(act('none'));
    expect(act('selective', 'eager')).toBeLessThan(act('none', 'eager'));
    expect(act('selective', 'fused')).toBe(act('none', 'fused'));
    expect(plan({ ...base, checkpoint: 'full' }).peak.bytes).toBeLessThan(plan(base).peak.bytes);
  });

  it('more batch, sequence or layers never needs less memory', () => {
    let prev = 0;
    for (const batch of [1, 2, 4, 8, 16]) {
      const p = plan({ ...base, batch }).peak.bytes;
      expect(p).toBeGreaterThan(prev);
      prev = p;
    }
    expect(plan({ ...base, model: 'mlp', mlp: { d: 256, hidden: 1024, layers: 8, activation: 'gelu' } }).peak.bytes).toBeGreaterThan(
      plan({ ...base, model: 'mlp', mlp: { d: 256, hidden: 1024, layers: 4, activation: 'gelu' } }).peak.bytes,
    );
  });

  it('gradient accumulation shrinks activations but keeps gradients through forward', () => {
    const full = plan({ ...base, batch: 16 });
    const micro = plan({ ...base, batch: 16, microBatch: 4 });
    expect(micro.bytes.activations).toBeLessThan(full.bytes.activations);
    expect(micro.bytes.activations).toBe(plan({ ...base, batch: 4 }).bytes.activations);
    expect(micro.peak.alive.gradients).toBe(micro.params * 4);
    expect(micro.notes.some((n) => n.includes('gradient accumulation'))).toBe(true);
  });

  it('optimizers: sgd < momentum < adam states; adafactor and 8-bit Adam are far smaller than Adam', () => {
    const opt = (optimizer: PlanConfig['optimizer']) => plan({ ...base, precision: 'fp32', optimizer }).bytes.optimizer;
    const P = 124_439_808;
    expect(opt('sgd')).toBe(0);
    expect(opt('sgd-momentum')).toBe(4 * P);
    expect(opt('adam')).toBe(8 * P);
    expect(opt('adamw')).toBe(8 * P);
    expect(opt('adam-8bit')).toBeLessThan(2.1 * P);
    expect(opt('adam-8bit')).toBeGreaterThan(2 * P);
    expect(opt('adafactor')).toBeLessThan(0.1 * P);
  });

  it('ZeRO shards optimizer states, then gradients, then weights across GPUs', () => {
    const z = (zero: 0 | 1 | 2 | 3) => plan({ ...base, model: 'llama-3.2-1b', gpus: 8, zero });
    const [z0, z1, z2, z3] = [z(0), z(1), z(2), z(3)];
    expect(z1.bytes.optimizer).toBeLessThan(z0.bytes.optimizer / 7);
    expect(z2.bytes.gradients).toBeLessThan(z1.bytes.gradients / 7);
    expect(z3.bytes.weights).toBeLessThan(z2.bytes.weights / 4);
    expect(z3.peak.bytes).toBeLessThan(z2.peak.bytes);
    expect(z2.peak.bytes).toBeLessThanOrEqual(z1.peak.bytes);
    expect(z1.peak.bytes).toBeLessThan(z0.peak.bytes);
  });

  it('LoRA trains 2·r·(in + out) per adapted matrix; QLoRA stores the base in ~4.13 bits', () => {
    const lora = plan({ ...base, model: 'llama-2-7b', loraRank: 8, batch: 1, seq: 256 });
    // 7 adapted projections per layer: q, k, v, o (4096×4096), gate, up (4096×11008), down (11008×4096).
    const perLayer = 8 * (4 * (4096 + 4096) + 3 * (4096 + 11008));
    expect(lora.trainableParams).toBe(32 * perLayer);
    expect(lora.bytes.optimizer).toBe(lora.trainableParams * 8);
    const q = plan({ ...base, model: 'llama-2-7b', loraRank: 8, qlora: true, precision: 'bf16', batch: 1, seq: 256 });
    expect(q.bytes.weights).toBeLessThan(lora.bytes.weights / 4);
    expect(q.peak.bytes).toBeLessThan(lora.peak.bytes);
    // Over an NF4 base the adapters stay fp32; over a bf16 base they are bf16, as are their
    // gradients and Adam states.
    expect(q.bytes.gradients).toBe(q.trainableParams * 4);
    expect(q.bytes.optimizer).toBe(q.trainableParams * 8);
    const half = plan({ ...base, model: 'llama-2-7b', loraRank: 8, precision: 'bf16', batch: 1, seq: 256 });
    expect(half.bytes.gradients).toBe(half.trainableParams * 2);
    expect(half.bytes.optimizer).toBe(half.trainableParams * 4);
  });

  it('inference holds weights and the KV cache: 2 · L · kv_heads · head_dim · context · batch · bytes', () => {
    const p = plan({ model: 'llama-3.1-8b', mode: 'inference', precision: 'bf16', batch: 4, seq: 8192 });
    expect(p.bytes.kvCache).toBe(2 * 32 * 8 * 128 * 8192 * 4 * 2);
    expect(p.bytes.gradients).toBe(0);
    expect(p.bytes.optimizer).toBe(0);
    const w = (precision: PlanConfig['precision']) => plan({ model: 'llama-3.1-8b', mode: 'inference', precision, batch: 1, seq: 16 }).bytes.weights;
    expect(w('int4')).toBeLessThan(w('int8'));
    expect(w('int8')).toBeLessThan(w('bf16'));
    expect(w('bf16')).toBeLessThan(w('fp32'));
  });

  it('ResNet activations scale with the image area and halve under autocast (bar the fp32 input)', () => {
    const r = (imageSize: number, precision: PlanConfig['precision'] = 'fp32') =>
      plan({ model: 'resnet50', batch: 16, imageSize, precision, optimizer: 'sgd-momentum' }).bytes.activations;
    expect(r(448) / r(224)).toBeGreaterThan(3.9);
    expect(r(448) / r(224)).toBeLessThan(4.1);
    expect(r(224, 'amp-fp16') / r(224)).toBeGreaterThan(0.45);
    expect(r(224, 'amp-fp16') / r(224)).toBeLessThan(0.55);
  });

  it('the textbook rule is params × 16 B + Korthikanti activations', () => {
    const p = plan({ ...base, precision: 'fp32' });
    expect(p.textbook.bytes).toBe(Math.round(p.params * 16 + 12 * korthikantiLayerBytes(512, 4, 768, 12)));
  });

  it('the peak moves to the optimizer step when the batch is small and the model large', () => {
    expect(plan({ ...base, model: 'llama-2-7b', batch: 1, seq: 128, checkpoint: 'full' }).peak.phase).toBe('optimizer');
    expect(plan({ ...base, batch: 16, seq: 1024 }).peak.phase).toBe('backward');
  });
});

describe('fit list', () => {
  it('covers the catalog and a user-given size, and says what fits', () => {
    const p = plan({ model: 'llama-2-7b', mode: 'inference', precision: 'fp16', batch: 1, seq: 2048, gpuMemoryGiB: 14 });
    const names = p.fits.map((f) => f.gpu);
    for (const g of ['T4 16 GB', 'RTX 3060 12 GB', 'RTX 3090 24 GB', 'RTX 4090 24 GB', 'RTX 5090 32 GB', 'L4 24 GB', 'A100 40 GB', 'A100 80 GB', 'H100 80 GB', 'H200 141 GB', 'MI300X 192 GB']) {
      expect(names).toContain(g);
    }
    const fit = Object.fromEntries(p.fits.map((f) => [f.gpu, f.fits]));
    expect(fit['RTX 3060 12 GB']).toBe(false);
    expect(fit['RTX 4090 24 GB']).toBe(true);
    expect(fit['your GPU (14 GiB)']).toBe(false);
    for (const f of p.fits) expect(f.headroomBytes).toBe(f.memoryBytes - p.totalBytes);
  });
});

describe('framework vramlab: the engine’s own buffers', () => {
  const mlp = { d: 64, hidden: 256, layers: 3, activation: 'gelu' as const };
  const cfg = { model: 'mlp', framework: 'vramlab', mlp, batch: 32, optimizer: 'adam', precision: 'fp32', checkpoint: 'none' } as const;

  it('counts weights, states, activations and gradients buffer by buffer', () => {
    const p = plan(cfg);
    const P = 3 * (64 * 256 * 2 + 256 + 64);
    expect(p.params).toBe(P);
    expect(p.bytes.weights).toBe(4 * P);
    expect(p.bytes.optimizer).toBe(8 * P);
    expect(p.bytes.gradients).toBe(4 * P);
    expect(p.bytes.inputs).toBe(4 * 32 * 64);
    // Blocks 1 and 2 keep their input; every block keeps pre and act; the loss keeps the output.
    expect(p.bytes.activations).toBe(4 * 32 * (2 * 64 + 3 * 2 * 256 + 64));
  });

  it('amp halves the 16-bit buffers (packed two per u32) and adds fp32 master weights', () => {
    const f = plan(cfg);
    const a = plan({ ...cfg, precision: 'amp-bf16' });
    expect(a.bytes.activations * 2).toBe(f.bytes.activations);
    expect(a.bytes.inputs * 2).toBe(f.bytes.inputs);
    expect(a.bytes.masterWeights).toBe(f.bytes.weights);
    expect(a.bytes.weights).toBe(2 * 3 * 64 * 256 * 2);
  });

  it('full checkpointing keeps block inputs only and lowers the peak when activations dominate', () => {
    const big = { ...cfg, batch: 512 };
    const none = plan(big);
    const full = plan({ ...big, checkpoint: 'full' });
    // Kept: the inputs of blocks 1 and 2 and the loss's input; one block recomputed at a time.
    expect(full.timeline.find((t) => t.op === 'forward block 2' && t.at === 'end')!.bytes.activations).toBe(4 * 512 * 3 * 64);
    expect(full.bytes.activations).toBeLessThan(none.bytes.activations);
    expect(full.peak.bytes).toBeLessThan(none.peak.bytes);
  });

  it.each([
    ...(['none', 'full', 'sqrt'] as const).map((checkpoint) => planConfigOf({ ...DEFAULT_RUN, layers: 5, checkpoint })),
    ...(['none', 'full', 'selective', 'sqrt'] as const).flatMap((checkpoint) =>
      (['eager', 'fused'] as const).map((attention) => planConfigOfGpt({ ...GPT_NANO_RUN, layers: 3, checkpoint, attention, precision: 'amp-bf16' })),
    ),
  ])('its timeline is the engine’s ops, a most and an end point each, whose largest is the peak (%#)', (c) => {
    const p = estimate(c);
    const ops = p.timeline.map((t) => t.op);
    expect(ops.every((o) => typeof o === 'string')).toBe(true);
    expect(p.timeline.map((t) => t.at)).toEqual(p.timeline.map((_, i) => (i % 2 === 0 ? 'max' : 'end')));
    for (let i = 0; i < p.timeline.length; i += 2) {
      expect(ops[i + 1]).toBe(ops[i]);
      expect(sum(p.timeline[i]!.bytes)).toBeGreaterThanOrEqual(sum(p.timeline[i + 1]!.bytes));
    }
    expect(Math.max(...p.timeline.map((t) => sum(t.bytes)))).toBe(p.peak.bytes);
    expect(ops[0]).toMatch(/^forward /);
    expect(ops.at(-1)).toBe('optimizer');
    // The step ends with only what lives across steps: no activations, activation gradients or gradients.
    const end = p.timeline.at(-1)!.bytes;
    expect([end.activations, end.activationGrads, end.gradients]).toEqual([0, 0, 0]);
  });

  it.each([
    [{ model: 'resnet50' }, /mlp model, GPT-style and Llama-style decoders/],
    [{ model: 'bert-base' }, /GPT-style decoders/],
    [{ model: 'gpt-nano', seq: 128 }, /over the model's 64 positions/],
    [{ optimizer: 'adafactor' }, /optimizer must be one of/],
    [{ precision: 'bf16' }, /precision must be one of/],
    [{ mode: 'inference' }, /training steps/],
  ] as const)('refuses what the engine cannot run: %j', (over, msg) => {
    expect(() => plan({ ...cfg, ...over })).toThrow(msg);
  });
});

describe('framework vramlab: LoRA and QLoRA', () => {
  const gpt = (over: Partial<typeof GPT_NANO_RUN>) => estimate(planConfigOfGpt({ ...GPT_NANO_RUN, precision: 'amp-bf16', ...over }));
  it('the base keeps no gradients, states or masters; QLoRA stores the projections at 0.5625 B per value', () => {
    const full = gpt({});
    const lora = gpt({ loraRank: 8 });
    const qlora = gpt({ loraRank: 8, qlora: true });
    const d = 64;
    const L = 2;
    const adapters = L * 8 * (d + 3 * d + d + d + d + 4 * d + 4 * d + d);
    const proj = L * 12 * d * d;
    expect(lora.bytes.masterWeights).toBe(0);
    expect(lora.bytes.gradients).toBe(4 * adapters);
    expect(lora.bytes.optimizer).toBe(8 * adapters);
    // The projections: packed 16-bit (2 B) under LoRA, NF4 codes and scales under QLoRA.
    expect(lora.bytes.weights - qlora.bytes.weights).toBe(2 * proj - 0.5625 * proj);
    expect(lora.bytes.activations).toBeGreaterThan(full.bytes.activations);
    expect(qlora.bytes.activations).toBe(lora.bytes.activations);
  });

  it('refuses LoRA for the mlp, and a rank above the width', () => {
    expect(() => estimate({ ...planConfigOf(DEFAULT_RUN), loraRank: 4 })).toThrow(/runs LoRA on its decoders \(GPT- and Llama-style\) only/);
    expect(() => estimate({ ...planConfigOfGpt(GPT_NANO_RUN), loraRank: 65 })).toThrow(/LoRA rank 65 is over the model's width 64/);
  });
});

describe('bad configurations', () => {
  it.each([
    [{ model: 'gpt5' }, EstimateError, /unknown model 'gpt5'; choose one of: mlp, gpt-nano, gpt2-small/],
    [{ batch: 0 }, ConfigError, /batch: batch must be at least 1/],
    [{ batch: 1.5 }, ConfigError, /whole number/],
    [{ batch: Number.NaN }, ConfigError, /batch/],
    [{ seq: 1e12 }, ConfigError, /seq must be at most/],
    [{ batch: 8, microBatch: 3 }, ConfigError, /micro-batch must divide batch \(8\); try 2/],
    [{ qlora: true }, ConfigError, /qlora needs a LoRA rank/],
    [{ precision: 'int4' }, ConfigError, /for training use/],
    [{ model: 'resnet50', checkpoint: 'selective' }, EstimateError, /selective/],
    [{ model: 'resnet50', loraRank: 8 }, EstimateError, /LoRA/],
    [{ model: 'hf' }, EstimateError, /--hf-config/],
  ] as const)('%j is refused with a sentence', (over, kind, msg) => {
    expect(() => plan(over as Partial<PlanConfig>)).toThrow(kind);
    expect(() => plan(over as Partial<PlanConfig>)).toThrow(msg);
  });
});
