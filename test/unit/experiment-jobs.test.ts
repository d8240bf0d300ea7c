/** What the experiments run for each engine model (src/ui/experiment-jobs.ts): the modes, the sweep keys and a changed setting. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_CNN_RUN, isCnnRun, type CnnRunConfig } from '../../src/protocol/cnn.ts';
import { DEFAULT_PLAN } from '../../src/protocol/config.ts';
import { DEFAULT_RUN, GPT_NANO_RUN } from '../../src/protocol/run.ts';
import { SWEEP_DEFAULTS, describeBase, parseSweepValues, sweepDefault, sweepKeys, tradeoffModes, withSetting } from '../../src/ui/experiment-jobs.ts';
import { checkFit, deviceBudget, planForDevice } from '../../src/ui/scale.ts';
import { runConfigFor } from '../../src/ui/run-config.ts';

const cifar: CnnRunConfig = { ...DEFAULT_CNN_RUN, model: 'cnn-cifar', blocks: 1, width: 8, batch: 2, steps: 2 };
const made = runConfigFor({ ...DEFAULT_PLAN, model: 'qwen2.5-0.5b', mode: 'train', precision: 'fp32', optimizer: 'adam', checkpoint: 'none', attention: 'eager' }, 2, 1);
if (!('config' in made) || made.config.model !== 'llama') throw new Error('no Llama run config for qwen2.5-0.5b');
const llama = made.config;

describe('experiments: which settings vary for each model', () => {
  it('sweep keys: batch for all, seq for the decoders, layers for the mlp and decoders, blocks for cnn-cifar', () => {
    expect(sweepKeys(DEFAULT_RUN)).toEqual(['batch', 'layers']);
    expect(sweepKeys(GPT_NANO_RUN)).toEqual(['batch', 'seq', 'layers']);
    expect(sweepKeys(llama)).toEqual(['batch', 'seq', 'layers']);
    expect(sweepKeys(cifar)).toEqual(['batch', 'blocks']);
    expect(sweepKeys(DEFAULT_CNN_RUN)).toEqual(['batch']);
  });

  it('a CNN runs none, full and √n; a Llama with eager attention selective too', () => {
    expect(tradeoffModes(cifar)).toEqual(['none', 'full', 'sqrt']);
    expect(tradeoffModes(llama)).toEqual(['none', 'full', 'selective', 'sqrt']);
    expect(tradeoffModes({ ...llama, attention: 'fused' })).toEqual(['none', 'full', 'sqrt']);
  });

  it('a setting the model has is changed and checked by its own schema', () => {
    expect(withSetting(cifar, { blocks: 2 })).toEqual({ config: { ...cifar, blocks: 2 } });
    expect(withSetting(cifar, { checkpoint: 'full', precision: 'amp-bf16' })).toEqual({ config: { ...cifar, checkpoint: 'full', precision: 'amp-bf16' } });
    expect(withSetting(llama, { seq: 32 })).toEqual({ config: { ...llama, seq: 32 } });
    expect(withSetting(llama, { layers: 3 })).toEqual({ config: { ...llama, layers: 3 } });
    // The CNN schema still guards its values.
    expect(withSetting(cifar, { blocks: 65 })).toEqual({ error: 'blocks: blocks must be at most 64' });
  });

  it('a setting the model lacks is refused by name, saying what to sweep instead', () => {
    expect(withSetting(DEFAULT_CNN_RUN, { seq: 64 })).toEqual({ error: 'seq: cnn-mnist has no seq to vary; sweep batch instead' });
    expect(withSetting(cifar, { layers: 4 })).toEqual({ error: 'layers: cnn-cifar has no layers to vary; sweep batch or blocks instead' });
    expect(withSetting(DEFAULT_CNN_RUN, { blocks: 2 })).toEqual({ error: 'blocks: cnn-mnist has no blocks per stage to vary; sweep batch instead' });
    expect(withSetting(GPT_NANO_RUN, { blocks: 2 })).toEqual({ error: 'blocks: a GPT has no blocks per stage to vary; sweep batch, seq or layers instead' });
    expect(withSetting(DEFAULT_RUN, { seq: 64 })).toEqual({ error: 'seq: the mlp has no seq to vary; sweep batch or layers instead' });
  });

  it('a CNN’s batch sweep starts from 1, so every default point of cnn-cifar scaled to a software adapter fits it', () => {
    const software = deviceBudget({ isFallbackAdapter: true, limits: { maxBufferSize: 2 ** 30, maxStorageBufferBindingSize: 2 ** 30 } });
    const plan = planForDevice({ ...DEFAULT_CNN_RUN, model: 'cnn-cifar', batch: 4 }, software);
    if (plan.kind !== 'scaled') throw new Error('expected cnn-cifar to be scaled down on a software adapter');
    const parsed = parseSweepValues(sweepDefault(plan.config, 'batch'), 'batch');
    if (!('values' in parsed)) throw new Error(parsed.error);
    for (const batch of parsed.values) {
      const made = withSetting(plan.config, { batch });
      if (!('config' in made) || !isCnnRun(made.config)) throw new Error(`batch ${batch}: no CNN config`);
      expect(checkFit(made.config, software).over, `batch ${batch}`).toEqual([]);
    }
    expect(sweepDefault(GPT_NANO_RUN, 'batch')).toBe(SWEEP_DEFAULTS.batch);
    expect(sweepDefault(cifar, 'blocks')).toBe(SWEEP_DEFAULTS.blocks);
  });

  it('names its base in a few words', () => {
    expect(describeBase(cifar)).toBe('cnn-cifar, ResNet-8 (width 8)');
    expect(describeBase(DEFAULT_CNN_RUN)).toBe('cnn-mnist, LeNet-5');
    expect(describeBase(llama)).toMatch(/^llama, \d+ blocks, eager attention$/);
  });
});
