import { describe, expect, it } from 'vitest';
import type { EngineRunReport } from '../../src/protocol/engine-api.ts';
import { PLAN_CATEGORIES } from '../../src/protocol/plan.ts';
import { stepWork } from '../../src/estimate/index.ts';
import { learnSpeed, predictRunMs, priorSpeed, shapeKey, type SpeedModel } from '../../src/ui/device-speed.ts';
import { LESSON_IDS, LESSONS, LESSON_TARGET_MS, lessonEffect, sizeLesson, type LessonOutcome } from '../../src/ui/lesson-plans.ts';
import { estimateRun } from '../../src/ui/run-estimate.ts';
import { deviceBudget, scaleGpt } from '../../src/ui/scale.ts';
import { llamaPresetRun } from '../../src/cli/args.ts';
import { LabRunner } from '../../src/ui/lab-runner.ts';

const GiB = 2 ** 30;
const swiftshader = deviceBudget({ isFallbackAdapter: true, limits: { maxBufferSize: GiB, maxStorageBufferBindingSize: GiB } });
const bigGpu = deviceBudget({ isFallbackAdapter: false, limits: { maxBufferSize: 4 * GiB, maxStorageBufferBindingSize: 4 * GiB } });
const fmt = (b: number) => `${b} B`;

/**
 * A report as the engine gives it: the ledger equals the framework-vramlab estimate to the
 * byte (the GPU tests prove it), so the estimate stands in for the measurement here.
 */
function reportOf(o: Omit<LessonOutcome, 'report'>): LessonOutcome {
  const plan = estimateRun(o.variant.config);
  const report = {
    config: o.variant.config,
    estimate: plan,
    actual: { peakBytes: plan.peak.bytes, bytes: plan.bytes, aliveAtPeak: plan.peak.alive },
    timing: { stepsMs: [100, 10, 12] },
  } as unknown as EngineRunReport;
  return { ...o, report };
}

describe('lessons on a software adapter', () => {
  const speed = priorSpeed(true, 0.3);
  for (const id of LESSON_IDS) {
    const def = LESSONS[id];
    const sizing = sizeLesson(def, swiftshader, speed, stepWork, new Set());

    it(`${id}: runs here, and its variants differ by at least 30 % in ${def.quantity}`, () => {
      expect(sizing.refusal).toBeNull();
      expect(sizing.variants.length).toBeGreaterThanOrEqual(2);
      const effect = lessonEffect(id, sizing.variants.map((variant) => reportOf({ variant })), fmt);
      expect(effect).not.toBeNull();
      expect(Math.abs(effect!.changePct)).toBeGreaterThanOrEqual(30);
      expect(effect!.headline).toMatch(/%|×/);
    });

    it(`${id}: the quantity it teaches is the largest part of the first variant's peak`, () => {
      const plan = estimateRun(sizing.variants[0]!.config);
      const taught = def.taught ?? [def.quantity];
      const share = taught.reduce((a, c) => a + plan.peak.alive[c], 0) / plan.peak.bytes;
      expect(share).toBeGreaterThanOrEqual(0.5);
      const largest = PLAN_CATEGORIES.reduce((a, c) => (plan.peak.alive[c] > plan.peak.alive[a] ? c : a));
      expect(taught).toContain(largest);
    });
  }

  it('checkpointing keeps 6 blocks and one shape, so √n differs from full and the kernels compile once', () => {
    const v = sizeLesson(LESSONS.checkpointing, swiftshader, speed, stepWork, new Set()).variants;
    expect(v.map((x) => x.id)).toEqual(['none', 'selective', 'sqrt', 'full']);
    for (const x of v) expect(x.config.model === 'gpt' && x.config.layers).toBeGreaterThanOrEqual(6);
    expect(new Set(v.map((x) => shapeKey(x.config))).size).toBe(1);
    const act = v.map((x) => estimateRun(x.config).bytes.activations);
    expect(act[2]).toBeGreaterThan(act[3]!); // √n keeps more than full
    expect(act[0]).toBeGreaterThan(act[1]!); // selective drops the probabilities
  });

  it('lora: full fine-tune, LoRA and QLoRA of one scaled Llama; the adapters cut gradients and states, not activations; NF4 cuts the weights', () => {
    const v = sizeLesson(LESSONS.lora, swiftshader, speed, stepWork, new Set()).variants;
    expect(v.map((x) => x.id)).toEqual(['full', 'lora', 'qlora']);
    // llama-3.2-1b scaled ×16 by scale.ts, its 2 blocks kept: one shape for all three runs.
    const llama = v.map((x) => (x.config.model === 'llama' ? x.config : null));
    expect(llama.every((c) => c !== null)).toBe(true);
    expect(scaleGpt(llamaPresetRun('llama-3.2-1b'), 16, 2)).toMatchObject({ dModel: 128, heads: 32, kvHeads: 8, headDim: 4, inner: 512, layers: 2, tied: true });
    for (const c of llama) expect(c).toMatchObject({ dModel: 128, heads: 32, kvHeads: 8, headDim: 4, inner: 512, layers: 2, vocab: 256, seq: 16, batch: 1, precision: 'amp-bf16' });
    expect(llama.map((c) => [c!.loraRank ?? 0, c!.qlora ?? false])).toEqual([[0, false], [8, false], [8, true]]);
    expect(new Set(v.map((x) => shapeKey(x.config))).size).toBe(1);
    const [full, lora, qlora] = v.map((x) => estimateRun(x.config));
    expect(lora!.bytes.gradients + lora!.bytes.optimizer).toBeLessThan(0.3 * (full!.bytes.gradients + full!.bytes.optimizer));
    expect(lora!.bytes.activations / full!.bytes.activations).toBeGreaterThanOrEqual(1);
    expect(lora!.bytes.activations / full!.bytes.activations).toBeLessThan(1.25);
    expect(qlora!.bytes.weights).toBeLessThan(lora!.bytes.weights);
    expect(qlora!.bytes.activations).toBe(lora!.bytes.activations);
    const effect = lessonEffect('lora', v.map((variant) => reportOf({ variant })), fmt)!;
    expect(effect.headline).toMatch(/^LoRA r8 cut gradients and optimizer states −\d+% .* on the same scaled Llama: .* and QLoRA's NF4 base cut the weights −\d+% more\.$/);
    expect(effect.details.some((d) => d.startsWith('QLoRA stores the projections in NF4'))).toBe(true);
  });

  it('cnn: a ResNet on cnn-cifar without and with full checkpointing, one shape; the headline is computed from the measured reports', () => {
    const v = sizeLesson(LESSONS.cnn, swiftshader, speed, stepWork, new Set()).variants;
    expect(v.map((x) => x.id)).toEqual(['none', 'full']);
    for (const x of v) expect(x.config).toMatchObject({ model: 'cnn-cifar', blocks: 2, width: 8 });
    expect(new Set(v.map((x) => shapeKey(x.config))).size).toBe(1);
    const outcomes = v.map((variant) => reportOf({ variant }));
    const [none, full] = outcomes.map((o) => o.report);
    // The parameters are a small part of the peak: weights, their gradients and Adam's states.
    const a = none!.actual.aliveAtPeak;
    expect((a.weights + a.gradients + a.optimizer) / none!.actual.peakBytes).toBeLessThan(0.25);
    const effect = lessonEffect('cnn', outcomes, fmt)!;
    const share = Math.round((100 * a.activations) / none!.actual.peakBytes);
    expect(effect.headline).toContain(`activations were ${share}% of the peak (${a.activations} B of ${none!.actual.peakBytes} B)`);
    expect(effect.headline).toContain(`(${none!.actual.bytes.activations} B → ${full!.actual.bytes.activations} B)`);
    expect(effect.changePct).toBeLessThan(-50);
    // Other measurements, another headline: nothing in it is fixed text.
    const halved = outcomes.map((o, i) => (i === 1 ? { ...o, report: { ...o.report, actual: { ...o.report.actual, bytes: { ...o.report.actual.bytes, activations: 1000 } } } } : o));
    expect(lessonEffect('cnn', halved, fmt)!.headline).toContain(`→ 1000 B`);
    expect(lessonEffect('cnn', outcomes.slice(0, 1), fmt)).toBeNull();
  });

  it('the time a compiled shape would take again is not counted twice', () => {
    const cold = sizeLesson(LESSONS.checkpointing, swiftshader, speed, stepWork, new Set());
    const warm = sizeLesson(LESSONS.checkpointing, swiftshader, speed, stepWork, new Set([shapeKey(cold.variants[0]!.config)]));
    expect(cold.predictedMs - warm.predictedMs).toBeCloseTo(speed.compileMs, 6);
  });
});

describe('lessons grow with the device', () => {
  const fast: SpeedModel = { ...priorSpeed(false, 20_000) };
  for (const id of LESSON_IDS) {
    it(`${id}: a fast GPU gets a larger batch, still within the time target and the memory budget`, () => {
      const s = sizeLesson(LESSONS[id], bigGpu, fast, stepWork, new Set());
      expect(s.multiplier).toBeGreaterThan(1);
      expect(s.predictedMs).toBeLessThanOrEqual(LESSON_TARGET_MS);
      for (const v of s.variants) expect(estimateRun(v.config).peak.bytes).toBeLessThanOrEqual(bigGpu.memoryBytes);
      // One more doubling would break the time target, the device or the cap.
      if (s.limitedBy === 'the time target') {
        const more = sizeLesson(LESSONS[id], bigGpu, fast, stepWork, new Set(), s.predictedMs - 1);
        expect(more.multiplier).toBeLessThanOrEqual(s.multiplier);
      }
    });
  }

  it('a device too small for the smallest shapes refuses the lesson, naming the limit', () => {
    const tiny = deviceBudget({ isFallbackAdapter: true, limits: { maxBufferSize: 1024, maxStorageBufferBindingSize: 1024 } });
    const s = sizeLesson(LESSONS.checkpointing, tiny, priorSpeed(true), stepWork, new Set());
    expect(s.refusal).toMatch(/maxStorageBufferBindingSize|maxBufferSize/);
  });
});

describe('the time model', () => {
  it('learns a run: its steady step is then predicted exactly, and its warm-up and first step set the compile time', () => {
    const m0 = priorSpeed(true, 0.3);
    const work = stepWork(LESSONS.checkpointing.variants(1, 3)[0]!.config);
    const report = { timing: { warmupMs: 6000, stepsMs: [2800, 1200, 1100, 1300] } } as unknown as EngineRunReport;
    const m1 = learnSpeed(m0, work, report, false);
    expect(predictRunMs(m1, work, 1, true)).toBeCloseTo(1200, 6);
    // 6000 ms of warm-up and the first step's 1600 ms over the steady 1200.
    expect(m1.compileMs).toBeCloseTo(7600, 6);
    // Already compiled: the compile time stays as it was.
    expect(learnSpeed(m1, work, report, true).compileMs).toBeCloseTo(7600, 6);
  });
});

describe('the shared runner', () => {
  const engine = (gflops: number | Error) => {
    let calls = 0;
    return {
      calls: () => calls,
      run: async () => {
        throw new Error('not used');
      },
      cancel: async () => {},
      measureThroughput: async () => {
        calls++;
        if (gflops instanceof Error) throw gflops;
        return { gflops };
      },
    };
  };

  it('measures the device once, for the panel holding the engine, and takes the rate as its own', async () => {
    const e = engine(0.25);
    const runner = new LabRunner(e);
    runner.setAdapterKind(true);
    await runner.measureOnce('lessons'); // not holding the engine: nothing
    expect(e.calls()).toBe(0);
    expect(runner.acquire('lessons')).toBe(true);
    expect(runner.acquire('run')).toBe(false);
    expect(runner.blockedFor('run')).toMatch(/A lesson is running/);
    await runner.measureOnce('lessons');
    await runner.measureOnce('lessons');
    expect(e.calls()).toBe(1);
    expect(runner.measuredGflops).toBe(0.25);
    expect(runner.speed.flopsPerMs).toBeCloseTo(0.25e6, 6);
    runner.release('lessons');
    expect(runner.blockedFor('run')).toBeNull();
  });

  it('keeps its priors when the probe fails', async () => {
    const runner = new LabRunner(engine(new Error('Busy')));
    runner.setAdapterKind(true);
    const before = runner.speed;
    runner.acquire('lessons');
    await runner.measureOnce('lessons');
    expect(runner.measuredGflops).toBeNull();
    expect(runner.speed).toEqual(before);
  });
});
