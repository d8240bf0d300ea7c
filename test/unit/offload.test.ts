/**
 * Offload and host memory: DeepSpeed's published model-state figures, the planner's own
 * per-tensor figures with states on the host, host budgets per node, and llama.cpp's placement
 * of layers and KV cache for inference.
 */
import { describe, expect, it } from 'vitest';
import { estimate } from '../../src/estimate/index.ts';
import { NVME_STAGING_BYTES, deepspeedModelStates } from '../../src/estimate/offload.ts';
import { inventory, totalParams } from '../../src/estimate/params.ts';
import { resolveModel } from '../../src/estimate/presets.ts';
import { ConfigError, DEFAULT_PLAN, type PlanConfig } from '../../src/protocol/config.ts';

const GiB = 2 ** 30;
const plan = (over: Partial<PlanConfig>) => estimate({ ...DEFAULT_PLAN, ...over });

describe("DeepSpeed's memory docs: t5-3b (2,851 M params, 32 M largest layer) on 8 GPUs of one node", () => {
  const t5 = { params: 2851e6, gpus: 8, gpusPerNode: 8, largestLayer: 32e6 };

  it('ZeRO-2 without offload: 4·P + 16·P/N = 15.93 GiB per GPU', () => {
    expect(deepspeedModelStates(2, { ...t5, offloadOptimizer: false }).gpuBytes / GiB).toBeCloseTo(15.93, 2);
  });

  it('ZeRO-2 with the optimizer offloaded: 2·P = 5.31 GiB per GPU', () => {
    expect(deepspeedModelStates(2, { ...t5, offloadOptimizer: true }).gpuBytes / GiB).toBeCloseTo(5.31, 2);
  });

  it('ZeRO-3 without offload: 4·largest layer + 18·P/N = 6.09 GiB per GPU', () => {
    expect(deepspeedModelStates(3, { ...t5, offloadOptimizer: false }).gpuBytes / GiB).toBeCloseTo(6.09, 2);
  });
});

describe('the planner with the optimizer offloaded (ZeRO-Offload)', () => {
  const model = 'llama-3.2-1b';
  const inv = inventory(resolveModel({ ...DEFAULT_PLAN, model }));
  const P = totalParams(inv);
  const base = { model, batch: 1, seq: 512, zero: 2, gpus: 8, hostMemoryGiB: 512 } as const;

  it("keeps only the 16-bit parameters as model states on the GPU: DeepSpeed's 2·P", () => {
    const p = plan({ ...base, offload: { optimizer: true } });
    // + the RoPE frequencies, a module buffer rather than a parameter.
    expect(p.bytes.weights).toBe(deepspeedModelStates(2, { params: P, gpus: 8, gpusPerNode: 8, offloadOptimizer: true }).gpuBytes + inv.bufferBytes);
    expect(p.bytes.masterWeights + p.bytes.optimizer + p.bytes.gradients).toBe(0);
  });

  it('puts master weights, Adam m and v, the fp32 gradients and a 16-bit copy on the host: 18·P/N per GPU, × 8 per node', () => {
    const p = plan({ ...base, offload: { optimizer: true } });
    expect(p.host!.bytesPerGpu).toBe(Math.round((18 * P) / 8));
    expect(p.host!.bytesPerNode).toBe(8 * p.host!.bytesPerGpu);
    expect(p.host!.parts.map((x) => x.what)).toEqual(['fp32 master weights', 'optimizer states', 'fp32 gradients', 'pinned 16-bit parameter copy']);
  });

  it('lowers the GPU peak by at least the master weights and states it moved', () => {
    const on = plan({ ...base, offload: { optimizer: true } });
    const off = plan({ ...base, hostMemoryGiB: undefined });
    expect(on.peak.bytes).toBeLessThanOrEqual(off.peak.bytes - off.bytes.masterWeights - off.bytes.optimizer);
  });

  it('a host budget too small fails every GPU in the fit list and says so', () => {
    const p = plan({ ...base, hostMemoryGiB: 1, offload: { optimizer: true } });
    expect(p.host!.fits).toBe(false);
    expect(p.fits.every((f) => !f.fits && f.hostFits === false)).toBe(true);
  });

  it('NVMe keeps the states on the drive and only the pinned aio staging in host RAM', () => {
    const cpu = plan({ ...base, offload: { optimizer: true } });
    const nvme = plan({ ...base, offload: { optimizer: true, to: 'nvme' } });
    expect(nvme.host!.bytesPerGpu).toBe(NVME_STAGING_BYTES);
    expect(nvme.host!.nvmeBytesPerNode).toBe(cpu.host!.bytesPerNode);
    expect(nvme.peak.bytes).toBe(cpu.peak.bytes);
  });

  it('parameters too, under ZeRO-3: the GPU keeps no parameter shard, only the gather buffers', () => {
    const p = plan({ ...base, zero: 3, offload: { optimizer: true, params: true } });
    expect(p.bytes.weights).toBe(inv.bufferBytes);
    expect(p.host!.parts.find((x) => x.what === '16-bit parameters')!.bytes).toBe(Math.round((2 * P) / 8));
    expect(p.terms.find((t) => t.label === 'communication buffers')!.formula).toMatch(/ZeRO-3 \/ FSDP all-gather/);
  });

  it('checkpointed activations: every layer input on the host, one in flight beside the running layer', () => {
    const off = plan({ ...base, checkpoint: 'full', hostMemoryGiB: undefined });
    const on = plan({ ...base, checkpoint: 'full', offload: { activations: true } });
    const spec = resolveModel({ ...DEFAULT_PLAN, model });
    if (spec.kind !== 'transformer') throw new Error('a transformer');
    // ZeRO runs a DeepSpeed-style 16-bit model: b·s·h × 2 B per layer input.
    const input = 512 * spec.hidden * 2;
    expect(on.host!.parts[0]!.bytes).toBe(spec.layers * input);
    // accelerate issue 4175 (FSDP2 + AC + offload): what is held after forward drops, while the
    // peak, in the backward recompute or the optimizer step, does not rise.
    const afterForward = (p: typeof on) => p.timeline.find((x) => x.label === 'end of forward')!.bytes.activations;
    expect(afterForward(off) - afterForward(on)).toBe(spec.layers * input);
    expect(on.peak.bytes).toBeLessThanOrEqual(off.peak.bytes);
  });

  it.each<[Partial<PlanConfig>, RegExp]>([
    [{ offload: { params: true }, zero: 2 }, /--offload params needs --zero 3/],
    [{ offload: { activations: true } }, /--offload activations .* set --checkpoint full or sqrt/],
  ])('refuses %o', (over, message) => {
    expect(() => plan({ ...base, ...over })).toThrow(message);
  });

  it('offload without --host-memory is a config error naming it', () => {
    expect(() => plan({ ...base, hostMemoryGiB: undefined, offload: { optimizer: true } })).toThrow(ConfigError);
    expect(() => plan({ ...base, hostMemoryGiB: undefined, offload: { optimizer: true } })).toThrow(/add --host-memory/);
  });
});

describe('inference: layers and the KV cache on the host (llama.cpp)', () => {
  const base = { model: 'llama-2-7b', mode: 'inference', precision: 'bf16', seq: 4096, batch: 1, hostMemoryGiB: 64 } as const;
  const spec = resolveModel({ ...DEFAULT_PLAN, model: 'llama-2-7b' });
  if (spec.kind !== 'transformer') throw new Error('a transformer');
  const h = spec.hidden;
  const layer = 4 * h * h + 3 * h * spec.intermediate + 2 * h;

  it('--gpu-layers 16 keeps the last 16 layers and half the KV cache on the GPU', () => {
    const all = plan({ ...base, hostMemoryGiB: undefined });
    const p = plan({ ...base, gpuLayers: 16 });
    // + the RoPE frequencies, a module buffer that stays on the GPU.
    expect(p.bytes.weights).toBe(16 * layer * 2 + inventory(spec).bufferBytes);
    expect(p.bytes.kvCache).toBe(all.bytes.kvCache / 2);
    const host = p.host!.parts;
    expect(host.find((x) => x.what === 'KV cache on the host')!.bytes).toBe(all.bytes.kvCache / 2);
    // Layers 0–15, the embedding and the output layer (and the final norm with it).
    expect(host.find((x) => x.what === 'weights of layers on the host')!.bytes).toBe(2 * (16 * layer + 2 * spec.vocab * h + h));
  });

  it('--kv-on-host moves the whole cache', () => {
    const p = plan({ ...base, kvOnHost: true });
    expect(p.bytes.kvCache).toBe(0);
    expect(p.host!.parts[0]!.bytes).toBe(2 * 32 * 4096 * 4096 * 2);
  });

  it('--gpu-layers past the layers and the output layer is refused', () => {
    expect(() => plan({ ...base, gpuLayers: 34 })).toThrow(/use at most 33/);
  });
});
