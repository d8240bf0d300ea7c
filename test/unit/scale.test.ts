/**
 * The device check before a GPT run (src/ui/scale.ts): budgets from the adapter, the largest
 * tensor, the step's arithmetic, and the power-of-two scale-down that keeps heads dividing
 * d-model, or a refusal naming the limit.
 */
import { llamaPresetRun } from '../../src/cli/args.ts';
import { describe, expect, it } from 'vitest';
import { GPT_NANO_RUN, GptRunConfigSchema, type GptRunConfig } from '../../src/protocol/run.ts';
import {
  DEVICE_BUDGETS,
  MAX_SCALE_FACTOR,
  checkFit,
  describeChanges,
  deviceBudget,
  headsFor,
  largestTensor,
  peakBytes,
  planForDevice,
  refusalOf,
  scaleGpt,
  stepFlops,
  type DeviceBudget,
} from '../../src/ui/scale.ts';

const MiB = 2 ** 20;
const GiB = 2 ** 30;

const software = deviceBudget({ isFallbackAdapter: true, limits: { maxBufferSize: GiB, maxStorageBufferBindingSize: 128 * MiB } });
const gpu = deviceBudget({ isFallbackAdapter: false, limits: { maxBufferSize: 4 * GiB, maxStorageBufferBindingSize: 2 * GiB } });

/** gpt2-xl's shape as the run panel maps it (the form's seq and batch). */
const xl = (over: Partial<GptRunConfig> = {}): GptRunConfig => ({
  ...GPT_NANO_RUN,
  vocab: 50257,
  dModel: 1600,
  heads: 25,
  layers: 48,
  seq: 16,
  batch: 1,
  steps: 1,
  ...over,
});

describe('deviceBudget', () => {
  it('states 1 GiB for a software adapter and 4 GiB otherwise, with the adapter limits', () => {
    expect(software).toMatchObject({ software: true, memoryBytes: GiB, maxBufferSize: GiB, maxStorageBufferBindingSize: 128 * MiB });
    expect(gpu).toMatchObject({ software: false, memoryBytes: 4 * GiB, maxStorageBufferBindingSize: 2 * GiB });
    expect(software.stepFlops).toBe(DEVICE_BUDGETS.software.stepFlops);
    expect(gpu.stepFlops).toBeGreaterThan(software.stepFlops);
  });

  it('falls back to the WebGPU default limits when the adapter does not report them', () => {
    const b = deviceBudget({ isFallbackAdapter: false, limits: { maxBufferSize: Number.NaN } });
    expect(b.maxBufferSize).toBe(256 * MiB);
    expect(b.maxStorageBufferBindingSize).toBe(128 * MiB);
  });
});

describe('largestTensor and stepFlops', () => {
  it('finds the logits for a long batch and the token table for a big vocabulary', () => {
    expect(largestTensor({ ...GPT_NANO_RUN, batch: 64, seq: 64 })).toEqual({ name: 'logits (batch·seq × vocab)', bytes: 4 * 64 * 64 * 256 });
    expect(largestTensor(xl()).name).toBe('token embedding (vocab × d-model)');
    expect(largestTensor(xl()).bytes).toBe(4 * 50257 * 1600);
  });

  it('counts eager attention probabilities only for eager attention', () => {
    const c = { ...GPT_NANO_RUN, dModel: 8, heads: 8, vocab: 16, seq: 512, batch: 2 };
    expect(largestTensor({ ...c, attention: 'eager' })).toEqual({ name: 'attention probabilities (batch × heads × seq × seq)', bytes: 4 * 2 * 8 * 512 * 512 });
    expect(largestTensor({ ...c, attention: 'fused' }).name).not.toMatch(/attention/);
  });

  it('counts 6 FLOP per parameter per token plus attention', () => {
    const c = { ...GPT_NANO_RUN, batch: 1, seq: 16 };
    const params = 12 * 2 * 64 * 64 + 256 * 64;
    expect(stepFlops(c)).toBe(6 * 16 * params + 12 * 2 * 16 * 16 * 64);
  });
});

describe('headsFor and scaleGpt', () => {
  it('keeps heads when they divide d-model, else the largest divisor (even head size for 16-bit)', () => {
    expect(headsFor(100, 25, 'fp32')).toBe(25);
    expect(headsFor(96, 12, 'fp32')).toBe(12);
    expect(headsFor(48, 25, 'fp32')).toBe(24);
    expect(headsFor(50, 25, 'amp-bf16')).toBe(25);
    expect(headsFor(8, 25, 'amp-fp16')).toBe(4);
  });

  it('divides d-model, vocab, layers, seq and batch by the factor, down to their floors', () => {
    const s = scaleGpt(xl({ seq: 1024, batch: 8 }), 16);
    expect(s).toMatchObject({ dModel: 100, heads: 25, layers: 3, vocab: 3141, seq: 64, batch: 1 });
    const tiny = scaleGpt({ ...GPT_NANO_RUN, seq: 4 }, 1024);
    expect(tiny).toMatchObject({ dModel: 8, layers: 1, vocab: 16, seq: 4, batch: 1 });
    expect(scaleGpt(xl(), 1)).toEqual(xl());
    expect(() => scaleGpt(xl(), 3)).toThrow(RangeError);
  });

  it('always gives a configuration the engine accepts', () => {
    for (const precision of ['fp32', 'amp-fp16', 'amp-bf16'] as const) {
      for (let f = 1; f <= MAX_SCALE_FACTOR; f *= 2) {
        for (const base of [xl({ precision }), { ...GPT_NANO_RUN, precision }, xl({ precision, dModel: 768, heads: 12, layers: 12 })]) {
          expect(GptRunConfigSchema.safeParse(scaleGpt(base, f)).success, `${precision} ×${f}`).toBe(true);
        }
      }
    }
  });

  it('describes only what changed', () => {
    expect(describeChanges(xl(), scaleGpt(xl(), 16))).toBe('d 1600→100, layers 48→3, vocab 50257→3141, seq 16→8');
    expect(describeChanges(xl(), xl())).toBe('');
  });
});

describe('planForDevice', () => {
  it('keeps a given depth while it divides the rest (minLayers), and divides the depth without it', () => {
    const llama = llamaPresetRun('llama-3.2-1b');
    const kept = planForDevice({ ...llama, layers: 2 }, software, 2);
    const divided = planForDevice({ ...llama, layers: 2 }, software);
    expect(kept.kind).toBe('scaled');
    expect(divided.kind).toBe('scaled');
    if (kept.kind !== 'scaled' || divided.kind !== 'scaled') return;
    expect(kept.config.layers).toBe(2);
    expect(divided.config.layers).toBe(1);
    expect(kept.config.dModel).toBeLessThan(llama.dModel);
  });

  it('runs gpt-nano at batch 1, seq 16 at full size on a software adapter', () => {
    const plan = planForDevice({ ...GPT_NANO_RUN, batch: 1, seq: 16 }, software);
    expect(plan.kind).toBe('fits');
    if (plan.kind === 'fits') expect(plan.check.peakBytes).toBe(peakBytes({ ...GPT_NANO_RUN, batch: 1, seq: 16 }));
  });

  it('scales gpt2-xl down by a power of two until it fits, and says so with the factor', () => {
    const plan = planForDevice(xl(), software);
    expect(plan.kind).toBe('scaled');
    if (plan.kind !== 'scaled') return;
    expect(plan.factor).toBe(16);
    expect(plan.message).toMatch(/^Scaled down ×16 to fit this device: d 1600→100, layers 48→3, vocab 50257→3141, seq 16→8 \(/);
    expect(plan.message).toContain('maxStorageBufferBindingSize');
    expect(plan.message).toContain('memory budget of 1.00 GiB (a software adapter)');
    expect(plan.config.dModel % plan.config.heads).toBe(0);
    expect(checkFit(plan.config, software).over).toEqual([]);
    // The smallest factor: half of it does not fit.
    expect(checkFit(scaleGpt(xl(), plan.factor / 2), software).over.length).toBeGreaterThan(0);
    expect(plan.original.over.map((e) => e.limit)).toEqual(['maxStorageBufferBindingSize', 'memory budget', 'compute budget']);
    expect(refusalOf(plan, software)).toMatch(/^Refused at full size: .*maxStorageBufferBindingSize.*Tick "run scaled down" to run the ×16 model\.$/);
  });

  it('needs less scaling on a GPU budget', () => {
    const onGpu = planForDevice(xl({ seq: 1024, batch: 8 }), gpu);
    const onCpu = planForDevice(xl({ seq: 1024, batch: 8 }), software);
    expect(onGpu.kind).toBe('scaled');
    expect(onCpu.kind).toBe('scaled');
    if (onGpu.kind === 'scaled' && onCpu.kind === 'scaled') {
      expect(onGpu.factor).toBeLessThan(onCpu.factor);
      expect(onGpu.check.peakBytes).toBeLessThanOrEqual(4 * GiB);
    }
  });

  it('refuses with a sentence naming the limit when even the smallest model is over it', () => {
    const stingy: DeviceBudget = { ...software, maxStorageBufferBindingSize: 256 };
    const plan = planForDevice(xl(), stingy);
    expect(plan.kind).toBe('refused');
    if (plan.kind === 'refused') {
      expect(plan.message).toMatch(/^Refused: even scaled down as far as it goes, the largest tensor, .* is over this device's maxStorageBufferBindingSize of /);
      expect(refusalOf(plan, stingy)).toBe(plan.message);
    }
  });
});
