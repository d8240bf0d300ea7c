import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { estimate } from '../../src/estimate/index.ts';
import { FIT_LEVERS, makeItFit, type FitResult, type PlanPatch } from '../../src/estimate/fit.ts';
import { forwardFlops, stepFlops } from '../../src/estimate/flops.ts';
import { resolveModel } from '../../src/estimate/presets.ts';
import { DEFAULT_PLAN, LIMITS, type PlanConfig } from '../../src/protocol/config.ts';

const GiB = 2 ** 30;
const plan = (c: Partial<PlanConfig>): PlanConfig => ({ ...DEFAULT_PLAN, ...c });

/** Re-estimates a patched configuration on its own and asks the planner's fit list about it. */
function independently(cfg: PlanConfig, patch: PlanPatch, capacityBytes: number) {
  const p = estimate({ ...cfg, ...patch, gpuMemoryGiB: capacityBytes / GiB });
  return { peak: p.peak.bytes, total: p.totalBytes, fits: p.fits.at(-1)!.fits };
}

const rank = (levers: readonly string[]) => FIT_LEVERS.indexOf(levers.at(-1) as (typeof FIT_LEVERS)[number]);

/** Every claim of a FitResult, checked against the estimator. */
function checkResult(cfg: PlanConfig, r: FitResult): void {
  const cap = r.capacityBytes;
  const now = independently(cfg, {}, cap);
  expect(r.current.totalBytes).toBe(now.total);
  expect(r.current.fits).toBe(now.fits);
  for (const s of r.suggestions) {
    const again = independently(cfg, s.patch, cap);
    expect(again.fits, s.change).toBe(true);
    expect(s.totalBytes, s.change).toBe(again.total);
    expect(s.peakBytes, s.change).toBe(again.peak);
    expect(s.headroomBytes).toBe(cap - again.total);
    expect(s.levers.every((l) => r.levers.includes(l)), s.change).toBe(true);
  }
  // Sorted by the documented cost order: the rank of the most expensive lever never falls.
  const ranks = r.suggestions.map((s) => rank(s.levers));
  expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
  const ckpt = r.suggestions.filter((s) => !r.combined && s.levers[0] === 'checkpoint').map((s) => s.cost.extraFlopsFraction);
  expect(ckpt).toEqual([...ckpt].sort((a, b) => a - b));
  if (r.combined) {
    const sizes = r.suggestions.map((s) => [rank(s.levers), s.levers.length]);
    expect(sizes).toEqual([...sizes].sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!));
  }
  for (const [what, l] of [
    ['batch', r.largestBatch],
    ['seq', r.largestSeq],
  ] as const) {
    if (!l) continue;
    const at = independently(cfg, l.patch, cap);
    expect(at.fits, what).toBe(true);
    expect(l.totalBytes).toBe(at.total);
    if (l.atLimit) {
      expect(l.value).toBe(l.limit);
      continue;
    }
    const more: PlanPatch = what === 'seq' ? { seq: l.value + 1 } : cfg.microBatch === undefined ? { batch: l.value + 1 } : { batch: (l.value + 1) * (cfg.batch / cfg.microBatch), microBatch: l.value + 1 };
    expect(independently(cfg, more, cap).fits, `${what} ${l.value + 1}`).toBe(false);
  }
}

describe('makeItFit on real presets', () => {
  it('llama-3.2-1b, batch 4, seq 2048 on 24 GiB: no single change fits, combinations do, each minimal', () => {
    const cfg = plan({ model: 'llama-3.2-1b', batch: 4, seq: 2048 });
    const r = makeItFit(cfg, 24 * GiB);
    checkResult(cfg, r);
    expect(r.current.fits).toBe(false);
    expect(r.combined).toBe(true);
    expect(r.suggestions.length).toBeGreaterThan(0);
    expect(r.message).toMatch(/no single change fits/);
    for (const s of r.suggestions) {
      expect(s.levers.length).toBeGreaterThan(1);
      // Dropping any one of its changes no longer fits: no combination carries a spare change.
      for (const l of s.levers) {
        const rest = Object.fromEntries(Object.entries(s.patch).filter(([k]) => !leverFields(l).includes(k)));
        expect(independently(cfg, rest, 24 * GiB).fits, `${s.change} without ${l}`).toBe(false);
      }
    }
    // The batch of 4 does not fit as it is, so the largest batch is smaller.
    expect(r.largestBatch === null || r.largestBatch.value < 4).toBe(true);
    expect(r.largestSeq?.value ?? 0).toBeLessThan(2048);
  });

  it('gpt2-small fp32 with eager attention, b8 s1024 on 8 GiB: single changes, recompute ordered by FLOPs', () => {
    const cfg = plan({ model: 'gpt2-small', batch: 8, seq: 1024, precision: 'fp32', attention: 'eager' });
    const r = makeItFit(cfg, 8 * GiB);
    checkResult(cfg, r);
    expect(r.combined).toBe(false);
    const changes = r.suggestions.map((s) => s.change);
    expect(changes).toContain('checkpoint full');
    const full = r.suggestions.find((s) => s.change === 'checkpoint full')!;
    // Full recompute: one more forward of the 12 layers, a bit under a third of a step (the LM head is not recomputed).
    expect(full.cost.kind).toBe('flops');
    expect(full.cost.extraFlopsFraction).toBeGreaterThan(0.2);
    expect(full.cost.extraFlopsFraction).toBeLessThan(1 / 3);
    const micro = r.suggestions.find((s) => s.levers[0] === 'micro-batch');
    expect(micro?.cost.extraFlopsFraction).toBe(0);
    expect(r.levers).toEqual(['attention', 'optimizer', 'checkpoint', 'precision', 'micro-batch', 'lora', 'zero', 'seq']);
    expect(r.largestSeq!.value).toBeLessThan(1024);
  });

  it('llama-2-7b on 24 GiB: QLoRA and ZeRO over several GPUs, the GPUs named', () => {
    const cfg = plan({ model: 'llama-2-7b', batch: 1, seq: 2048 });
    const r = makeItFit(cfg, 24 * GiB);
    checkResult(cfg, r);
    const zero = r.suggestions.find((s) => s.levers[0] === 'zero')!;
    expect(zero.cost.kind).toBe('gpus');
    expect(zero.cost.gpus).toBe(zero.patch.gpus);
    expect(zero.cost.gpus).toBeGreaterThan(1);
    // The fewest GPUs: half as many do not fit at any stage.
    for (const stage of [1, 2, 3] as const) expect(independently(cfg, { zero: stage, gpus: zero.cost.gpus / 2 }, 24 * GiB).fits).toBe(false);
    expect(r.suggestions.some((s) => s.patch.qlora === true)).toBe(true);
  });

  it('a configuration that fits already: no suggestions, the headroom, the largest batch and sequence', () => {
    const cfg = plan({ model: 'gpt2-small', batch: 1, seq: 128 });
    const r = makeItFit(cfg, 24 * GiB);
    checkResult(cfg, r);
    expect(r.current.fits).toBe(true);
    expect(r.suggestions).toEqual([]);
    expect(r.fitsNowhere).toBe(false);
    expect(r.message).toMatch(/^Fits: .* to spare\.$/);
    expect(r.largestBatch!.value).toBeGreaterThan(1);
    // GPT-2 has 1024 learned positions: the search stops there.
    expect(r.largestSeq).toMatchObject({ value: 1024, limit: 1024, atLimit: true });
  });

  it('a 13B model on 1 GiB fits nowhere and says what was tried', () => {
    const cfg = plan({ model: 'llama-2-13b', batch: 1, seq: 4096 });
    const r = makeItFit(cfg, 1 * GiB);
    checkResult(cfg, r);
    expect(r.fitsNowhere).toBe(true);
    expect(r.suggestions).toEqual([]);
    expect(r.largestBatch).toBeNull();
    expect(r.largestSeq).toBeNull();
    expect(r.message).toMatch(/^Fits nowhere in 1\.00 GiB: tried .*ZeRO sharding.* alone and together \(up to 64 GPUs\); the least needed was \d+\.\d\d GiB/);
  });

  it('"fits" is the fit list\'s rule: a capacity of exactly the total fits, one byte less does not', () => {
    const cfg = plan({ model: 'gpt2-medium', batch: 2, seq: 512 });
    const total = estimate(cfg).totalBytes;
    expect(makeItFit(cfg, total).current.fits).toBe(true);
    const short = makeItFit(cfg, total - 1);
    expect(short.current.fits).toBe(false);
    checkResult(cfg, short);
    expect(short.suggestions.length).toBeGreaterThan(0);
  });

  it('keeps the accumulation steps when searching the largest batch', () => {
    const cfg = plan({ model: 'gpt2-small', batch: 16, microBatch: 4, seq: 512 });
    const r = makeItFit(cfg, 12 * GiB);
    checkResult(cfg, r);
    expect(r.largestBatch!.patch).toEqual({ batch: r.largestBatch!.value * 4, microBatch: r.largestBatch!.value });
  });
});

describe('what applies to which model and mode', () => {
  it('the mlp gets no sequence, LoRA or attention changes, and no largest sequence', () => {
    const cfg = plan({ model: 'mlp', mlp: { d: 1024, hidden: 4096, layers: 4, activation: 'gelu' }, batch: 4096, precision: 'fp32' });
    const r = makeItFit(cfg, 1.5 * GiB);
    checkResult(cfg, r);
    expect(r.levers).toEqual(['optimizer', 'checkpoint', 'precision', 'micro-batch', 'zero']);
    expect(r.largestSeq).toBeUndefined();
    expect(r.suggestions.length).toBeGreaterThan(0);
    expect(r.suggestions.every((s) => s.patch.seq === undefined && s.patch.loraRank === undefined && s.patch.checkpoint !== 'selective')).toBe(true);
  });

  it('a ResNet gets no sequence, LoRA, attention or selective checkpointing', () => {
    const cfg = plan({ model: 'resnet50', batch: 256, imageSize: 224 });
    const r = makeItFit(cfg, 16 * GiB);
    checkResult(cfg, r);
    expect(r.levers).not.toContain('seq');
    expect(r.levers).not.toContain('lora');
    expect(r.suggestions.some((s) => s.patch.checkpoint === 'selective')).toBe(false);
    expect(r.largestSeq).toBeUndefined();
  });

  it('inference: precision, batch and sequence only, and fp32 → 16-bit first', () => {
    const cfg = plan({ model: 'llama-2-7b', mode: 'inference', batch: 8, seq: 4096, precision: 'fp32' });
    const r = makeItFit(cfg, 40 * GiB);
    checkResult(cfg, r);
    expect(r.levers).toEqual(['precision', 'batch', 'seq']);
    expect(r.suggestions[0]!.patch).toEqual({ precision: 'bf16' });
    for (const s of r.suggestions) expect(s.patch.zero ?? 0).toBe(0);
  });

  it('framework vramlab skips what the engine cannot run (ZeRO, accumulation) and offers the LoRA it runs', () => {
    const cfg = plan({ model: 'gpt-nano', framework: 'vramlab', batch: 64, seq: 64, precision: 'fp32', optimizer: 'adam', attention: 'eager' });
    const total = estimate(cfg).totalBytes;
    const r = makeItFit(cfg, total - 2 ** 20);
    checkResult(cfg, r);
    expect(r.suggestions.length).toBeGreaterThan(0);
    expect(r.levers).toContain('lora');
    for (const s of r.suggestions) {
      expect(s.patch.gpus ?? 1).toBe(1);
      expect(s.patch.microBatch).toBeUndefined();
    }
  });

  it('refuses a capacity that is not a positive number of bytes', () => {
    for (const bad of [0, -1, Number.NaN, Infinity]) expect(() => makeItFit(DEFAULT_PLAN, bad)).toThrow(/capacity/);
  });
});

describe('step FLOPs', () => {
  it('ResNet-50 at 224 px: 4.1 G multiply-adds per image (torchvision: 4.09 GFLOPS counted as MACs)', () => {
    const f = forwardFlops(resolveModel(plan({ model: 'resnet50' })), plan({ model: 'resnet50', batch: 1, imageSize: 224 }));
    expect((f.body + f.other) / 2 / 1e9).toBeCloseTo(4.09, 1);
  });

  it('the mlp recomputes its whole forward under full checkpointing: exactly a third more', () => {
    const cfg = plan({ model: 'mlp', batch: 32 });
    const spec = resolveModel(cfg);
    const none = stepFlops(spec, cfg).total;
    expect(stepFlops(spec, { ...cfg, checkpoint: 'full' }).total / none - 1).toBeCloseTo(1 / 3, 12);
    expect(stepFlops(spec, { ...cfg, checkpoint: 'sqrt' }).total).toBe(stepFlops(spec, { ...cfg, checkpoint: 'full' }).total);
  });

  it('a transformer: selective < full, fused attention costs a little, LoRA skips the weight gradients', () => {
    const cfg = plan({ model: 'llama-2-7b', batch: 1, seq: 4096, attention: 'eager' });
    const spec = resolveModel(cfg);
    const base = stepFlops(spec, cfg).total;
    const frac = (c: Partial<PlanConfig>) => stepFlops(spec, { ...cfg, ...c }).total / base - 1;
    expect(frac({ checkpoint: 'selective' })).toBeGreaterThan(0);
    expect(frac({ checkpoint: 'selective' })).toBeLessThan(frac({ checkpoint: 'full' }));
    expect(frac({ checkpoint: 'full' })).toBeGreaterThan(0.3);
    expect(frac({ checkpoint: 'full' })).toBeLessThan(1 / 3);
    expect(frac({ attention: 'fused' })).toBeCloseTo(frac({ checkpoint: 'selective' }) / 2, 12);
    expect(frac({ loraRank: 16 })).toBeCloseTo(-1 / 3, 12);
  });
});

/** The config fields each lever sets, to take one change out of a combination. */
function leverFields(lever: string): string[] {
  const fields: Record<string, string[]> = {
    attention: ['attention'],
    optimizer: ['optimizer'],
    checkpoint: ['checkpoint'],
    precision: ['precision'],
    'micro-batch': ['microBatch'],
    lora: ['loraRank', 'qlora'],
    zero: ['zero', 'gpus'],
    batch: ['batch', 'microBatch'],
    seq: ['seq'],
  };
  return fields[lever]!;
}

describe('makeItFit properties', () => {
  const small = ['mlp', 'gpt-nano', 'gpt2-small', 'bert-base', 'qwen2.5-0.5b', 'resnet18'];
  const arb = fc
    .record({
      model: fc.constantFrom(...small),
      mode: fc.constantFrom('train', 'inference'),
      batch: fc.integer({ min: 1, max: 16 }),
      seq: fc.integer({ min: 16, max: 1024 }),
      precision: fc.constantFrom('fp32', 'amp-bf16', 'bf16'),
      optimizer: fc.constantFrom('adamw', 'sgd-momentum', 'adam-8bit'),
      checkpoint: fc.constantFrom('none', 'sqrt'),
      attention: fc.constantFrom('eager', 'fused'),
      /** Capacity as a fraction of what the configuration needs now. */
      share: fc.double({ min: 0.05, max: 1.2, noNaN: true }),
    })
    .map(({ share, ...c }) => ({ cfg: plan({ ...c, imageSize: 64, mlp: { d: 256, hidden: 1024, layers: 3, activation: 'gelu' } } as Partial<PlanConfig>), share }));

  it('every suggestion fits when re-estimated, and the largest batch and sequence are maximal', { timeout: 120_000 }, () => {
    fc.assert(
      fc.property(arb, ({ cfg, share }) => {
        const cap = Math.max(1, Math.round(estimate(cfg).totalBytes * share));
        const r = makeItFit(cfg, cap, { maxGpus: 16 });
        checkResult(cfg, r);
        expect(r.fitsNowhere).toBe(!r.current.fits && r.suggestions.length === 0);
        if (r.largestBatch) expect(r.largestBatch.value).toBeLessThanOrEqual(LIMITS.batch);
      }),
      { numRuns: 200 },
    );
  });
});
