/** The plan → run mapping of the page's Run panel (src/ui/run-config.ts) for LoRA and QLoRA, and for the CNNs. */
import { describe, expect, it } from 'vitest';
import { stepWork } from '../../src/estimate/index.ts';
import { DEFAULT_CNN_RUN, isCnnRun } from '../../src/protocol/cnn.ts';
import { DEFAULT_PLAN, type PlanConfig } from '../../src/protocol/config.ts';
import { GPT_NANO_RUN } from '../../src/protocol/run.ts';
import { describeRun, ignoredSettings, runBlockers, runConfigFor, runnableModel, validate } from '../../src/ui/run-config.ts';
import { checkFit, describeChanges, deviceBudget, largestTensor, planForDevice, scaleCnn, scaleGpt, scaleRun, stepFlops } from '../../src/ui/scale.ts';

const software = deviceBudget({ isFallbackAdapter: true, limits: { maxBufferSize: 2 ** 28, maxStorageBufferBindingSize: 2 ** 27 } });

const plan = (over: Partial<PlanConfig>): PlanConfig => ({ ...DEFAULT_PLAN, model: 'gpt-nano', mode: 'train', precision: 'fp32', optimizer: 'adam', checkpoint: 'none', ...over });

describe('Run panel: LoRA and QLoRA', () => {
  it('a GPT plan with a LoRA rank (and QLoRA) runs with them; nothing is ignored', () => {
    const c = plan({ loraRank: 8, qlora: true });
    const v = validate(c, '3', '1');
    expect(v.errors).toBeNull();
    expect(v.config).toMatchObject({ model: 'gpt', loraRank: 8, qlora: true });
    expect(ignoredSettings(c)).toEqual([]);
    expect(validate(plan({ loraRank: 0 }), '3', '1').config).not.toHaveProperty('loraRank');
  });

  it('a Llama plan with a LoRA rank (and QLoRA) runs with them; nothing is ignored', () => {
    const c = plan({ model: 'llama-3.2-1b', loraRank: 8, qlora: true, seq: 16 });
    const v = validate(c, '3', '1');
    expect(v.errors).toBeNull();
    expect(v.config).toMatchObject({ model: 'llama', loraRank: 8, qlora: true });
    expect(ignoredSettings(c)).toEqual([]);
    expect(validate(plan({ model: 'llama-3.2-1b', seq: 16 }), '3', '1').config).not.toHaveProperty('loraRank');
  });

  it('the mlp has no projections to adapt: its LoRA settings are listed as ignored', () => {
    const c = plan({ model: 'mlp', loraRank: 8 });
    expect(ignoredSettings(c)).toContain('LoRA rank 8');
    expect(validate(c, '3', '1').config).not.toHaveProperty('loraRank');
  });

  it('a rank above the width is refused with the field named', () => {
    const v = validate(plan({ loraRank: 65 }), '3', '1');
    expect(v.errors?.config).toMatch(/^loraRank: lora rank must be at most d-model \(64\)/);
  });

  it('scaling a GPT down keeps its LoRA rank within the scaled width, and says so', () => {
    const c = { ...GPT_NANO_RUN, loraRank: 48 };
    const s = scaleGpt(c, 4);
    expect(s.dModel).toBe(16);
    expect(s.loraRank).toBe(16);
    expect(describeChanges(c, s)).toMatch(/LoRA rank 48→16/);
    expect(scaleGpt({ ...GPT_NANO_RUN, loraRank: 4 }, 4).loraRank).toBe(4);
  });

  it('scaling keeps a depth floor when asked (a lesson that needs its blocks), never raising the depth', () => {
    const deep = { ...GPT_NANO_RUN, layers: 16 };
    expect(scaleGpt(deep, 16).layers).toBe(1);
    expect(scaleGpt(deep, 16, 4).layers).toBe(4);
    expect(scaleGpt(deep, 2, 4).layers).toBe(8);
    expect(scaleGpt({ ...GPT_NANO_RUN, layers: 2 }, 16, 4).layers).toBe(2);
  });
});

describe('Run panel: the CNNs', () => {
  const cnn = (over: Partial<PlanConfig>): PlanConfig => plan({ model: 'cnn-mnist', batch: 4, ...over });

  it('cnn-mnist maps to a CNN run of its fixed shape with the plan’s batch, precision, optimizer and checkpointing', () => {
    const c = cnn({ precision: 'amp-bf16', optimizer: 'sgd-momentum', checkpoint: 'full' });
    expect(runnableModel(c)?.kind).toBe('cnn');
    expect(runBlockers(c)).toEqual([]);
    const v = validate(c, '3', '7');
    expect(v.errors).toBeNull();
    expect(v.config).toEqual({ model: 'cnn-mnist', batch: 4, blocks: 3, width: 16, precision: 'amp-bf16', optimizer: 'sgd-momentum', checkpoint: 'full', steps: 3, seed: 7 });
    expect(describeRun(v.config!)).toBe('cnn-mnist LeNet-5, 1×28×28 images; batch 4; amp-bf16; sgd-momentum; checkpointing full; 3 steps, seed 7');
  });

  it('cnn-cifar keeps the plan’s blocks per stage and width', () => {
    expect(runConfigFor(cnn({ model: 'cnn-cifar' }), 2, 1)).toEqual({ config: expect.objectContaining({ model: 'cnn-cifar', blocks: 3, width: 16 }) });
    const made = runConfigFor(cnn({ model: 'cnn-cifar', cnn: { blocks: 1, width: 8 } }), 2, 1);
    expect(made).toEqual({ config: expect.objectContaining({ model: 'cnn-cifar', blocks: 1, width: 8, batch: 4 }) });
    expect('config' in made && describeRun(made.config)).toMatch(/^cnn-cifar ResNet-8 \(1 block per stage, width 8\), 3×32×32 images; batch 4/);
  });

  it('what a CNN cannot run is blocked, one sentence each; what it has no use for is listed as ignored', () => {
    expect(runBlockers(cnn({ checkpoint: 'selective' }))).toEqual(['checkpointing selective: the engine runs none, full or sqrt.']);
    expect(runBlockers(cnn({ mode: 'inference' }))).toEqual(['mode inference: the engine runs training steps; choose mode train.']);
    expect(runBlockers(cnn({ precision: 'fp16' }))[0]).toMatch(/^precision fp16: the engine runs fp32, amp-fp16 or amp-bf16\.$/);
    expect(runConfigFor(cnn({ checkpoint: 'selective' }), 2, 1)).toEqual({ error: 'checkpointing selective: the engine runs none, full or sqrt.' });
    expect(ignoredSettings(cnn({ loraRank: 8, zero: 2, gpus: 2 }))).toEqual(['LoRA rank 8', 'ZeRO stage 2', '2 GPUs']);
  });

  it('a CNN too big for a software adapter is scaled down in batch, blocks and width until it fits', () => {
    const made = runConfigFor(cnn({ model: 'cnn-cifar', batch: 128 }), 2, 1);
    if (!('config' in made) || !isCnnRun(made.config)) throw new Error('no CNN config');
    const p = planForDevice(made.config, software);
    expect(p.kind).toBe('scaled');
    if (p.kind !== 'scaled') return;
    expect(checkFit(p.config, software).over).toEqual([]);
    expect(checkFit(scaleRun(made.config, p.factor / 2), software).over.length).toBeGreaterThan(0);
    expect(p.message).toMatch(/^Scaled down ×\d+ to fit this device: batch 128→\d+, blocks 3→1, width 16→\d+ \(.*compute budget/);
    // LeNet-5 has one shape: only its batch is divided.
    expect(scaleCnn({ ...DEFAULT_CNN_RUN, batch: 64 }, 8)).toEqual({ ...DEFAULT_CNN_RUN, batch: 8 });
  });

  it('a CNN’s largest tensor and step work come from its description', () => {
    const c = { ...DEFAULT_CNN_RUN, model: 'cnn-cifar' as const, batch: 2 };
    // At batch 2 the last stage's 64×64×3×3 conv weight; at batch 4 the stem's output, batch × 16 channels × 32 × 32 (f32).
    expect(largestTensor(c)).toEqual({ name: 'parameter layer3.0.conv2.weight', bytes: 4 * 64 * 64 * 9 });
    expect(largestTensor({ ...c, batch: 4 })).toEqual({ name: 'activation stem.conv.out (batch × channels × height × width)', bytes: 4 * 4 * 16 * 32 * 32 });
    expect(stepFlops(c)).toBe(stepWork(c).totalFlops);
    expect(stepFlops({ ...c, checkpoint: 'full' })).toBeGreaterThan(stepFlops(c));
  });
});
