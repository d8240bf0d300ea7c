/** The page's "many GPUs and offload" settings: the form's draft and the URL keep them exactly. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_PLAN, parsePlanConfig, type PlanConfig } from '../../src/protocol/config.ts';
import { decodePlanState, encodePlanState } from '../../src/protocol/url.ts';
import { draftFrom, rawConfig } from '../../src/ui/plan-form-model.ts';

const configs: PlanConfig[] = [
  { ...DEFAULT_PLAN, model: 'llama-2-7b', gpus: 32, zero: 1, parallel: { tp: 4, sp: true, pp: 4, microbatches: 8, ppSchedule: 'interleaved' }, offload: { optimizer: true, to: 'nvme' }, hostMemoryGiB: 512, optimizerImpl: 'fused', optimizerDtype: 'bf16' },
  { ...DEFAULT_PLAN, model: 'llama-2-7b', mode: 'inference', precision: 'fp8', gpuLayers: 16, kvOnHost: true, kvDtype: 'q4_0', logits: 'all', hostMemoryGiB: 64 },
  { ...DEFAULT_PLAN, gpus: 8, zero: 3, offload: { optimizer: true, params: true }, hostMemoryGiB: 256, parallel: { cp: 2 } },
];

describe('many GPUs and offload in the page', () => {
  it.each(configs.map((c, i) => [i, c] as const))('config %i: draft → raw config → the same plan config', (_, c) => {
    expect(parsePlanConfig(rawConfig(draftFrom(c), undefined))).toEqual(c);
  });

  it('an untouched section adds nothing to the config', () => {
    expect(parsePlanConfig(rawConfig(draftFrom(DEFAULT_PLAN), undefined))).toEqual(DEFAULT_PLAN);
  });

  it.each(configs.map((c, i) => [i, c] as const))('config %i: URL → the same config, no problems', (_, c) => {
    const { config, problems } = decodePlanState(encodePlanState(c));
    expect(problems).toEqual([]);
    expect(config).toEqual(c);
  });

  it('a URL whose offload lacks host memory says so and drops the offload', () => {
    const { config, problems } = decodePlanState('g=8&z=2&oo=1');
    expect(problems.join(' ')).toMatch(/host memory/);
    expect(() => parsePlanConfig(config)).not.toThrow();
  });
});
