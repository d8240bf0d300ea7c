/**
 * The image families: vision towers, VLMs, EfficientNet, diffusion pipelines and DCGAN.
 * Parameter counts against the published (or, for DCGAN, computed) ones; memory terms by
 * exact arithmetic; config.json import with no network; the CLI's flags and errors.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { main, type Io } from '../../src/cli/main.ts';
import { componentParams, DIFFUSION_PRESETS } from '../../src/estimate/diffusion.ts';
import { EFFICIENTNET_PRESETS, efficientNetInventory } from '../../src/estimate/efficientnet.ts';
import { EstimateError, estimate, listModels, MODEL_IDS } from '../../src/estimate/index.ts';
import { inventory, totalParams } from '../../src/estimate/params.ts';
import { resolveModel } from '../../src/estimate/presets.ts';
import { smartResize } from '../../src/estimate/vision.ts';
import { DEFAULT_PLAN, parsePlanConfig, type PlanConfig } from '../../src/protocol/config.ts';
import { decodePlanState, encodePlanState } from '../../src/protocol/url.ts';
import { applies, draftFrom, rawConfig } from '../../src/ui/plan-form-model.ts';
import type { Plan } from '../../src/protocol/plan.ts';

const plan = (over: Partial<PlanConfig>) => estimate({ ...DEFAULT_PLAN, ...over });
const params = (model: string) => totalParams(inventory(resolveModel({ ...DEFAULT_PLAN, model })));
const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8'));
const term = (p: Plan, label: string) => {
  const t = p.terms.find((x) => x.label.startsWith(label));
  if (!t) throw new Error(`no term '${label}' in ${p.terms.map((x) => x.label).join(' | ')}`);
  return t.bytes;
};
const GB = 1e9;

describe('parameter counts equal the published ones', () => {
  it.each([
    // google/vit-base-patch16-224 (ViTForImageClassification): 86.6M.
    ['vit-base-16', 86_567_656],
    // openai/clip-vit-large-patch14 CLIPVisionModel (no projection; 303,966,208 with it).
    ['clip-vit-l-14', 303_179_776],
    // llava-hf/llava-1.5-7b-hf: CLIP ViT-L/14-336 + projector + Vicuna-7B with 32,064 tokens.
    ['llava-1.5-7b', 7_063_427_072],
    // Qwen/Qwen2-VL-7B-Instruct safetensors: 8.29B.
    ['qwen2-vl-7b', 8_291_375_616],
    // torchvision docs, num_params of each EfficientNet_Bn_Weights.IMAGENET1K_V1.
    ['efficientnet-b0', 5_288_548],
    ['efficientnet-b1', 7_794_184],
    ['efficientnet-b2', 9_109_994],
    ['efficientnet-b3', 12_233_232],
    ['efficientnet-b4', 19_341_616],
    ['efficientnet-b5', 30_389_784],
    ['efficientnet-b6', 43_040_704],
    ['efficientnet-b7', 66_347_960],
    // PyTorch DCGAN tutorial (nz 100, ngf = ndf = 64): G 3,576,704 + D 2,765,568, counted by hand.
    ['dcgan', 6_342_272],
    // Whole pipelines: text encoders + denoiser + VAE.
    ['sd-1.5', 123_060_480 + 859_520_964 + 83_653_863],
    ['sdxl', 123_060_480 + 694_659_840 + 2_567_463_684 + 83_653_863],
    ['flux-dev', 123_060_480 + 4_762_310_656 + 11_901_408_320 + 83_819_683],
  ])('%s: %i', (id, n) => {
    expect(params(id)).toBe(n);
  });

  it('each diffusion component equals its published count', () => {
    const p = (id: string) => componentParams({ kind: 'diffusion', id, ...DIFFUSION_PRESETS[id]! });
    // SD 1.5: CLIP ViT-L/14 text 123,060,480; UNet 859,520,964; AutoencoderKL 83,653,863.
    expect(p('sd-1.5')).toEqual({ textEncoders: [123_060_480], denoiser: 859_520_964, vae: 83_653_863 });
    // SDXL: OpenCLIP ViT-bigG text with projection 694,659,840; UNet 2,567,463,684.
    expect(p('sdxl')).toEqual({ textEncoders: [123_060_480, 694_659_840], denoiser: 2_567_463_684, vae: 83_653_863 });
    // Flux.1-dev: T5-v1.1-XXL encoder 4,762,310,656; transformer 11,901,408,320; 16-channel VAE 83,819,683.
    expect(p('flux-dev')).toEqual({ textEncoders: [123_060_480, 4_762_310_656], denoiser: 11_901_408_320, vae: 83_819_683 });
  });

  it('B1…B7 come from B0 by compound scaling: wider (multiples of 8), deeper (ceil), larger', () => {
    const b0 = EFFICIENTNET_PRESETS['efficientnet-b0']!;
    const b7 = EFFICIENTNET_PRESETS['efficientnet-b7']!;
    expect(b7.stages).toBe(b0.stages);
    expect([b7.width, b7.depth, b7.imageSize]).toEqual([2.0, 3.1, 600]);
    const scaled = totalParams(efficientNetInventory({ kind: 'efficientnet', id: 'x', ...b0, width: 2.0, depth: 3.1 }));
    expect(scaled).toBe(66_347_960);
  });
});

describe('config.json import, no network', () => {
  const hf = (config: unknown, over: Partial<PlanConfig> = {}) => plan({ model: 'hf', hfConfig: config, mode: 'inference', precision: 'fp16', batch: 1, seq: 16, ...over });
  it.each([
    ['vit-base-patch16-224.config.json', 86_567_656],
    ['clip-vit-large-patch14-vision.config.json', 303_179_776],
    ['llava-1.5-7b-hf.config.json', 7_063_427_072],
    ['qwen2-vl-7b-instruct.config.json', 8_291_375_616],
    ['efficientnet-b0.config.json', 5_288_548],
  ])('%s has the real count', (file, n) => {
    expect(hf(fixture(file)).params).toBe(n);
  });

  it('a Diffusers model_index.json with its components is the pipeline', () => {
    const dir = 'stable-diffusion-v1-5';
    const config = { ...fixture(`${dir}/model_index.json`), _components: Object.fromEntries(['unet', 'vae', 'text_encoder'].map((k) => [k, fixture(`${dir}/${k}/config.json`)])) };
    const p = hf(config, { imageSize: 512 });
    expect(p.params).toBe(1_066_235_307);
    expect(p.peak.bytes).toBe(plan({ model: 'sd-1.5', mode: 'inference', precision: 'fp16', batch: 1, imageSize: 512 }).peak.bytes);
  });

  it('an unsupported model_type or pipeline names the supported ones', () => {
    expect(() => hf({ model_type: 'mamba' })).toThrow(/model_type 'mamba' is not supported; supported: .*vit, clip_vision_model, siglip_vision_model, llava, qwen2_vl, efficientnet.*StableDiffusionPipeline/);
    expect(() => hf({ _class_name: 'KandinskyPipeline' })).toThrow(/_class_name 'KandinskyPipeline' is not supported; supported: StableDiffusionPipeline, StableDiffusionXLPipeline, FluxPipeline/);
    expect(() => hf({ _class_name: 'StableDiffusionPipeline', _components: {} })).toThrow(/text_encoder component's config is missing/);
    expect(() => hf({ ...fixture('vit-base-patch16-224.config.json'), hidden_act: 'relu6' })).toThrow(EstimateError);
  });
});

describe('vision transformers: patches are tokens, eager attention is O(P²)', () => {
  it('ViT-B/16 at 224: 197 tokens; eager scores = layers × heads × 197² × 4 B in fp32', () => {
    const p = plan({ model: 'vit-base-16', imageSize: 224, batch: 1, precision: 'fp32', attention: 'eager', optimizer: 'sgd' });
    expect(term(p, 'vision attention scores')).toBe(12 * 12 * 197 * 197 * 4);
    // Twice the side: 785 tokens, (785/197)² ≈ 15.9× the scores.
    const big = plan({ model: 'vit-base-16', imageSize: 448, batch: 1, precision: 'fp32', attention: 'eager', optimizer: 'sgd' });
    expect(term(big, 'vision attention scores')).toBe(12 * 12 * 785 * 785 * 4);
    // Fused attention keeps no scores.
    expect(plan({ model: 'vit-base-16', attention: 'fused' }).terms.some((t) => t.label.startsWith('vision attention scores'))).toBe(false);
  });

  it('selective recompute drops exactly the scores of every layer', () => {
    const base = { model: 'vit-base-16', imageSize: 224, batch: 4, precision: 'amp-bf16', attention: 'eager', optimizer: 'sgd' } as const;
    const full = plan(base);
    const sel = plan({ ...base, checkpoint: 'selective' });
    // Under autocast: fp32 softmax output + its 16-bit cast per score.
    expect(term(full, 'vision attention scores')).toBe(12 * 4 * 12 * 197 * 197 * (4 + 2));
    expect(sel.peak.bytes).toBeLessThan(full.peak.bytes);
  });

  it('LLaVA-1.5: 576 image tokens per 336-px image join the text in the KV cache', () => {
    const p = plan({ model: 'llava-1.5-7b', mode: 'inference', precision: 'fp16', batch: 1, seq: 100, imageSize: 336 });
    expect(p.bytes.kvCache).toBe(2 * 32 * 32 * 128 * (100 + 576) * 2);
    const two = plan({ model: 'llava-1.5-7b', mode: 'inference', precision: 'fp16', batch: 1, seq: 100, imageSize: 336, images: 2 });
    expect(two.bytes.kvCache).toBe(2 * 32 * 32 * 128 * (100 + 2 * 576) * 2);
  });

  it('Qwen2-VL: smart_resize to multiples of 28 within max_pixels, 2×2 patches per token', () => {
    expect(smartResize(448, 448, 28, 3136, 12845056)).toEqual([448, 448]);
    // 448² = 200,704 px over a 100,000 budget: β = √2.007, sides ⌊448/β/28⌋·28 = 308.
    expect(smartResize(448, 448, 28, 3136, 100_000)).toEqual([308, 308]);
    const kv = (over: Partial<PlanConfig>) => plan({ model: 'qwen2-vl-7b', mode: 'inference', precision: 'bf16', batch: 1, seq: 10, imageSize: 448, ...over }).bytes.kvCache;
    const perToken = 2 * 28 * 4 * 128 * 2;
    expect(kv({})).toBe(perToken * (10 + (32 * 32) / 4));
    expect(kv({ maxPixels: 100_000 })).toBe(perToken * (10 + (22 * 22) / 4));
  });

  it('VLM LoRA adapts the language model only', () => {
    const p = plan({ model: 'llava-1.5-7b', loraRank: 8, seq: 64, batch: 1, imageSize: 336 });
    // q, k, v, o (4096×4096) and gate, up (4096×11008), down (11008×4096) per layer: r·(in + out) each.
    const perLayer = 4 * 8 * (4096 + 4096) + 3 * 8 * (4096 + 11008);
    expect(p.trainableParams).toBe(32 * perLayer);
  });
});

describe('EfficientNet: BatchNorm statistics and cuDNN workspace as lines of their own', () => {
  it('B0 at 224: the workspace is the im2col of the widest 1×1 projection (144 × 56²)', () => {
    const ws = (batch: number) => term(plan({ model: 'efficientnet-b0', imageSize: 224, batch, precision: 'amp-fp16' }), 'cuDNN convolution workspace');
    expect(ws(1)).toBe(144 * 56 * 56 * 2);
    expect(ws(4)).toBe(4 * 144 * 56 * 56 * 2);
  });

  it('BatchNorm saved statistics: 2 × 4 B per channel of every BatchNorm, independent of the batch', () => {
    const inv = inventory(resolveModel({ ...DEFAULT_PLAN, model: 'efficientnet-b0' }));
    const channels = inv.tensors.filter((t) => t.name.endsWith('.bn')).reduce((a, t) => a + t.cols, 0);
    const stats = (batch: number) => term(plan({ model: 'efficientnet-b0', imageSize: 224, batch }), 'BatchNorm saved statistics');
    expect(stats(1)).toBe(8 * channels);
    expect(stats(32)).toBe(8 * channels);
    // Running mean and var (fp32) per channel, num_batches_tracked (int64) per BatchNorm.
    expect(inv.bufferBytes).toBe(8 * channels + 8 * inv.tensors.filter((t) => t.name.endsWith('.bn')).length);
  });

  it('--image-size defaults to the variant’s resolution in the model list', () => {
    expect(listModels().find((m) => m.id === 'efficientnet-b7')?.imageSize).toBe(600);
    expect(listModels().find((m) => m.id === 'sdxl')?.imageSize).toBe(1024);
    expect(listModels().find((m) => m.id === 'llava-1.5-7b')?.imageSize).toBe(336);
  });
});

describe('diffusion pipelines: the peak is the largest stage with what is resident then', () => {
  const sd = (over: Partial<PlanConfig> = {}) => plan({ model: 'sd-1.5', mode: 'inference', precision: 'fp16', batch: 1, imageSize: 512, ...over });

  it('no offload: every component resident; SD 1.5 at 512 peaks in the VAE decode', () => {
    const p = sd();
    expect(p.peak.alive.weights).toBe(1_066_235_307 * 2);
    expect(p.peak.at).toBe('VAE decode');
    expect(p.notes).toContain('peak stage: VAE decode');
  });

  it('model offload: only the running component; the UNet stage holds the peak with its own weights', () => {
    const p = sd({ pipelineOffload: 'model' });
    expect(p.peak.at).toMatch(/^denoising \(UNet/);
    expect(p.peak.alive.weights).toBe(859_520_964 * 2);
    const flux = plan({ model: 'flux-dev', mode: 'inference', precision: 'bf16', batch: 1, imageSize: 1024, pipelineOffload: 'model' });
    expect(flux.peak.at).toMatch(/^denoising \(transformer/);
    expect(flux.peak.alive.weights).toBe(11_901_408_320 * 2);
  });

  it('sequential offload: only the largest leaf module (the VAE decoder’s 512→512 3×3 conv)', () => {
    const p = sd({ pipelineOffload: 'sequential' });
    expect(p.peak.at).toBe('VAE decode');
    expect(p.peak.alive.weights).toBe((512 * 512 * 9 + 512) * 2);
  });

  it('classifier-free guidance doubles the denoiser’s working set; steps change no byte', () => {
    const stage = (over: Partial<PlanConfig>) => term(sd({ attention: 'eager', ...over }), 'stage: denoising');
    expect(stage({ guidance: 'cfg' })).toBe(2 * stage({ guidance: 'none' }));
    expect(sd({ steps: 20 }).peak.bytes).toBe(sd({ steps: 50 }).peak.bytes);
  });

  it('VAE tiling decodes 512-px tiles: less memory at 2048 px, none saved at 512', () => {
    const full = sd({ imageSize: 2048 });
    const tiled = sd({ imageSize: 2048, vaeDecode: 'tiled' });
    expect(full.peak.at).toBe('VAE decode');
    expect(term(tiled, 'stage: VAE decode')).toBeLessThan(term(full, 'stage: VAE decode') / 4);
    expect(sd({ vaeDecode: 'tiled' }).peak.bytes).toBe(sd().peak.bytes);
    expect(sd({ vaeDecode: 'tiled' }).notes.some((n) => n.includes('no effect at 512 px'))).toBe(true);
  });

  it('an image side the VAE cannot divide is refused with the nearest size', () => {
    expect(() => sd({ imageSize: 500 })).toThrow(/image size 500: Stable Diffusion 1.5 needs a multiple of 8 pixels .*try 504/);
    expect(() => plan({ model: 'flux-dev', mode: 'inference', imageSize: 1000 })).toThrow(/multiple of 16/);
  });

  it('DreamBooth on SD 1.x at 512, fp16 autocast, batch 1: within 10 % of the Diffusers README', () => {
    // examples/dreambooth README (T4): 8-bit Adam + checkpointing 9.92 GB; without 8-bit Adam
    // 15.79 GB; without checkpointing 11.17 GB (prior preservation, text encoder frozen). That
    // AdamW ran one tensor at a time (PyTorch < 2.0); today's foreach AdamW adds a sqrt(v)-sized
    // temporary at the step, 4 B per UNet parameter, counted here.
    const db = (over: Partial<PlanConfig>) => plan({ model: 'sd-1.5', imageSize: 512, batch: 1, precision: 'amp-fp16', priorPreservation: true, optimizer: 'adam-8bit', checkpoint: 'full', ...over }).totalBytes / GB;
    expect(db({})).toBeGreaterThan(9.92 * 0.9);
    expect(db({})).toBeLessThan(9.92 * 1.1);
    const foreachTemp = (859_520_964 * 4 * 1.06) / GB; // with the allocator's share
    expect(db({ optimizer: 'adamw' }) - foreachTemp).toBeGreaterThan(15.79 * 0.9);
    expect(db({ optimizer: 'adamw' }) - foreachTemp).toBeLessThan(15.79 * 1.1);
    expect(db({ checkpoint: 'none' })).toBeGreaterThan(11.17 * 0.9);
    expect(db({ checkpoint: 'none' })).toBeLessThan(11.17 * 1.1);
  });

  it('prior preservation is the batch doubled; LoRA trains only adapters on the attention projections', () => {
    const train = (over: Partial<PlanConfig>) => plan({ model: 'sd-1.5', imageSize: 512, precision: 'amp-fp16', ...over });
    expect(train({ batch: 1, priorPreservation: true }).peak.bytes).toBe(train({ batch: 2 }).peak.bytes);
    const lora = train({ batch: 1, loraRank: 4 });
    // to_q/k/v/out of attn1 (C→C) and attn2 (C→C, 768→C, 768→C, C→C) in 16 transformer blocks.
    const blocks = [320, 320, 640, 640, 1280, 1280, 1280, 1280, 1280, 1280, 640, 640, 640, 320, 320, 320];
    const adapters = blocks.reduce((a, C) => a + 4 * 4 * (C + C) + 4 * ((C + C) * 2 + (768 + C) * 2), 0);
    expect(lora.trainableParams).toBe(adapters);
    expect(train({ batch: 1, trainTextEncoder: true }).trainableParams).toBe(859_520_964 + 123_060_480);
  });
});

describe('DCGAN: two optimizers, alternating steps', () => {
  it('G keeps 1,040,272 B per sample for the G step (fp32): conv-T and ReLU outputs, BN statistics, the fakes', () => {
    const p = plan({ model: 'dcgan', imageSize: 64, batch: 1, precision: 'fp32', optimizer: 'adam' });
    expect(term(p, 'G activations kept')).toBe(1_040_272);
    // Two Adams: m and v for all of G and D.
    expect(p.bytes.optimizer).toBe(6_342_272 * 8);
  });

  it('names the step that holds the peak', () => {
    const p = plan({ model: 'dcgan', imageSize: 64, batch: 128, precision: 'fp32', optimizer: 'adam' });
    expect(p.peak.at).toMatch(/^D step \(fake\): backward D\.main\.0$/);
    expect(p.notes[0]).toBe('peak in the D step (fake): backward D.main.0');
  });

  it('under autocast counts BCEWithLogitsLoss (BCELoss refuses autocast) and the 16-bit weight copies; refuses another image size', () => {
    const amp = plan({ model: 'dcgan', imageSize: 64, batch: 1, precision: 'amp-fp16', optimizer: 'adam' });
    expect(amp.notes.some((n) => n.includes('BCEWithLogitsLoss'))).toBe(true);
    expect(amp.bytes.weights).toBe(plan({ model: 'dcgan', imageSize: 64, batch: 1, precision: 'fp32', optimizer: 'adam' }).bytes.weights + 2 * 6_342_272);
    expect(() => plan({ model: 'dcgan', imageSize: 128, precision: 'fp32' })).toThrow(/use --image-size 64/);
  });
});

function capture(): Io & { stdout: string; stderr: string } {
  const io = { stdout: '', stderr: '', env: {}, out: (t: string) => void (io.stdout += t), err: (t: string) => void (io.stderr += t) };
  return io;
}
const cli = async (args: string[]) => {
  const io = capture();
  const status = await main(args, io);
  return { status, ...io };
};

describe('vramlab estimate with the image families', () => {
  const families = ['vit-base-16', 'clip-vit-l-14', 'llava-1.5-7b', 'qwen2-vl-7b', 'efficientnet-b0', 'efficientnet-b7', 'sd-1.5', 'sdxl', 'flux-dev', 'dcgan'];

  it('offers every preset', async () => {
    for (const id of families) expect(MODEL_IDS).toContain(id);
    const help = await cli(['estimate', '--help']);
    for (const id of families) expect(help.stdout).toContain(id);
  });

  it.each(families)('%s estimates for inference at its own resolution', async (id) => {
    const r = await cli(['estimate', '--model', id, '--mode', 'inference', '--precision', 'fp16', '--batch', '1', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const p = JSON.parse(r.stdout) as Plan;
    expect(p.params).toBe(params(id));
  });

  it('a diffusers model_index.json brings its components from the folders beside it', async () => {
    const path = new URL('../fixtures/stable-diffusion-v1-5/model_index.json', import.meta.url).pathname;
    const r = await cli(['estimate', '--hf-config', path, '--mode', 'inference', '--precision', 'fp16', '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as Plan).params).toBe(1_066_235_307);
  });

  it.each([
    [['--model', 'gpt2-small', '--images', '2'], /^vramlab estimate: --images applies to vision-language models .* only; model 'gpt2-small' is not a vision-language model$/],
    [['--model', 'vit-base-16', '--seq', '64'], /^vramlab estimate: --seq applies to .* only; model 'vit-base-16' has no sequence of text tokens$/],
    [['--model', 'sd-1.5', '--steps', '30'], /^vramlab estimate: --steps applies to sampling only; add --mode inference/],
    [['--model', 'sd-1.5', '--mode', 'inference', '--prior-preservation'], /^vramlab estimate: --prior-preservation applies to training only/],
    [['--model', 'sd-1.5', '--mode', 'inference', '--image-size', '500'], /^vramlab estimate: image size 500: .*try 504$/],
    [['--model', 'sd-1.5', '--mode', 'inference', '--pipeline-offload', 'disk'], /^vramlab estimate: --pipeline-offload/],
    [['--model', 'dcgan', '--image-size', '32'], /^vramlab estimate: dcgan makes 64×64 images .*use --image-size 64$/],
  ])('%j is refused: status 2, one line', async (args, line) => {
    const r = await cli(['estimate', ...args]);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr.trimEnd()).toMatch(line);
  });
});

describe('the page offers the families and the inputs that matter for each', () => {
  const draft = draftFrom({ ...DEFAULT_PLAN, model: 'sd-1.5' });

  it('the model list groups every preset under its family', () => {
    const by = (f: string) => listModels().filter((m) => m.family === f).map((m) => m.id);
    expect(by('vit')).toEqual(['vit-base-16', 'clip-vit-l-14']);
    expect(by('vlm')).toEqual(['llava-1.5-7b', 'qwen2-vl-7b']);
    expect(by('efficientnet')).toHaveLength(8);
    expect(by('diffusion')).toEqual(['sd-1.5', 'sdxl', 'flux-dev']);
    expect(by('gan')).toEqual(['dcgan']);
  });

  it.each([
    ['diffusion', { image: true, diffusion: true, vlm: false, seq: false, attention: true, lora: true, qlora: false }],
    ['vlm', { image: true, diffusion: false, vlm: true, seq: true, attention: true, lora: true, qlora: true }],
    ['vit', { image: true, diffusion: false, vlm: false, seq: false, attention: true, lora: true, qlora: false }],
    ['efficientnet', { image: true, diffusion: false, vlm: false, seq: false, attention: false, lora: false, qlora: false }],
    ['gan', { image: true, diffusion: false, vlm: false, seq: false, attention: false, lora: false, qlora: false }],
    ['gpt2', { image: false, diffusion: false, vlm: false, seq: true, attention: true, lora: true, qlora: true }],
  ] as const)('%s shows %j', (family, shown) => {
    expect(applies(family, draft)).toMatchObject(shown);
  });

  it('the new fields survive the form draft and the URL', () => {
    const config: PlanConfig = { ...DEFAULT_PLAN, model: 'sd-1.5', mode: 'inference', imageSize: 768, steps: 30, guidance: 'none', vaeDecode: 'tiled', pipelineOffload: 'model' };
    expect(parsePlanConfig(rawConfig(draftFrom(config), undefined))).toEqual(config);
    expect(decodePlanState(encodePlanState(config))).toEqual({ config, problems: [] });
    const vlm: PlanConfig = { ...DEFAULT_PLAN, model: 'qwen2-vl-7b', images: 3, maxPixels: 401408 };
    expect(decodePlanState(encodePlanState(vlm)).config).toEqual(vlm);
    // An empty box is the model's default, not an error.
    expect(parsePlanConfig(rawConfig({ ...draftFrom(vlm), images: '' }, undefined)).images).toBeUndefined();
  });
});
