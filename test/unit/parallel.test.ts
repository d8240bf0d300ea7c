/**
 * Many GPUs: Korthikanti et al.'s tensor- and sequence-parallel activation formulas, the
 * pipeline schedules' micro-batches in flight, the layout's product checks, and what each rank
 * of a plan holds.
 */
import { describe, expect, it } from 'vitest';
import { estimate } from '../../src/estimate/index.ts';
import { korthikantiLayerBytes } from '../../src/estimate/formulas.ts';
import { inFlight, korthikantiTpLayerBytes, parallelLayout, stageLayers } from '../../src/estimate/parallel.ts';
import { resolveModel } from '../../src/estimate/presets.ts';
import { DEFAULT_PLAN, type PlanConfig } from '../../src/protocol/config.ts';
import type { ParallelLayout, Plan } from '../../src/protocol/plan.ts';

const MiB = 2 ** 20;
const plan = (over: Partial<PlanConfig>) => estimate({ ...DEFAULT_PLAN, ...over });
const commBytes = (p: Plan) => p.terms.find((t) => t.label === 'communication buffers')?.bytes ?? 0;
const layout = (over: Partial<ParallelLayout>): ParallelLayout => ({
  tp: 1,
  sp: false,
  pp: 4,
  microbatches: 8,
  ppSchedule: '1f1b',
  virtualStages: 1,
  cp: 1,
  dp: 1,
  ep: 1,
  gpus: 4,
  zero: 0,
  shard: 1,
  ...over,
});

describe('Korthikanti et al. 2022: activations per layer under tensor and sequence parallelism', () => {
  it('t = 1 is eq. 1, sbh(34 + 5as/h): 85.5 MiB at h 768, a 12, s 1024, b 1', () => {
    expect(korthikantiTpLayerBytes(1024, 1, 768, 12, 1)).toBe(korthikantiLayerBytes(1024, 1, 768, 12));
    expect(korthikantiTpLayerBytes(1024, 1, 768, 12, 1) / MiB).toBeCloseTo(85.5, 6);
  });

  it('tensor parallel t is sbh(10 + 24/t + 5as/(ht)): 27 MiB at t = 4', () => {
    // sbh = 786,432; 10 + 6 + 5·12·1024/(768·4) = 36.
    expect(korthikantiTpLayerBytes(1024, 1, 768, 12, 4)).toBe(1024 * 768 * 36);
    expect(korthikantiTpLayerBytes(1024, 1, 768, 12, 4) / MiB).toBe(27);
  });

  it('with sequence parallel everything is divided by t: sbh(34 + 5as/h)/t = 21.375 MiB at t = 4', () => {
    expect(korthikantiTpLayerBytes(1024, 1, 768, 12, 4, { sp: true }) / MiB).toBe(85.5 / 4);
  });

  it('selective recompute drops the 5as/h term: 10 + 24/t, and 34/t with sp', () => {
    const sbh = 2048 * 2 * 4096;
    expect(korthikantiTpLayerBytes(2048, 2, 4096, 32, 8, { selective: true })).toBe(sbh * 13);
    expect(korthikantiTpLayerBytes(2048, 2, 4096, 32, 8, { selective: true, sp: true })).toBe((sbh * 34) / 8);
  });
});

describe('pipeline schedules: micro-batches of activations each stage holds', () => {
  it('1F1B: stage i holds min(p − i, m)', () => {
    expect([0, 1, 2, 3].map((i) => inFlight(layout({}), i))).toEqual([4, 3, 2, 1]);
    expect([0, 1, 2, 3].map((i) => inFlight(layout({ microbatches: 2 }), i))).toEqual([2, 2, 2, 1]);
  });

  it('GPipe: all m on every stage', () => {
    expect([0, 1, 2, 3].map((i) => inFlight(layout({ ppSchedule: 'gpipe' }), i))).toEqual([8, 8, 8, 8]);
  });

  it('interleaved: the first stage holds p + (p − 1)/v = p·(1 + (p − 1)/(p·v)) (Korthikanti §4.2.3)', () => {
    const l = layout({ ppSchedule: 'interleaved', virtualStages: 2 });
    expect(inFlight(l, 0)).toBe(4 + 3 / 2);
    expect(inFlight(l, 0)).toBe(4 * (1 + 3 / (4 * 2)));
    // Megatron's warm-up for the last stage: (v − 1)·p chunks, + 1, over v.
    expect(inFlight(l, 3)).toBe((4 + 1) / 2);
  });

  it('layers split evenly, the remainder to the first stages', () => {
    expect([0, 1, 2].map((i) => stageLayers(32, 3, i))).toEqual([
      { from: 0, to: 11 },
      { from: 11, to: 22 },
      { from: 22, to: 32 },
    ]);
  });
});

describe('the layout: --gpus = tp · pp · cp · dp, ep within dp', () => {
  const spec = resolveModel({ ...DEFAULT_PLAN, model: 'llama-2-7b' });
  const lay = (over: Partial<PlanConfig>) => parallelLayout({ ...DEFAULT_PLAN, model: 'llama-2-7b', ...over }, spec);

  it('fills the data-parallel size and the ZeRO group (dp × cp)', () => {
    const l = lay({ gpus: 64, zero: 1, parallel: { tp: 4, pp: 2, cp: 2 } });
    expect(l).toMatchObject({ tp: 4, pp: 2, cp: 2, dp: 4, ep: 1, shard: 8, microbatches: 2, ppSchedule: '1f1b' });
  });

  it.each<[Partial<PlanConfig>, RegExp]>([
    [{ gpus: 8, parallel: { tp: 3 } }, /--gpus 8 is not a multiple of tp × pp × cp = 3 × 1 × 1 = 3.*use --gpus 3/],
    [{ gpus: 6, parallel: { tp: 2, pp: 2 } }, /not a multiple of tp × pp × cp = 2 × 2 × 1 = 4/],
    [{ gpus: 2, ep: 2 }, /--ep 2: expert parallel.* has none.*use --ep 1/],
    [{ gpus: 2, parallel: { sp: true } }, /--sp .* needs --tp 2 or more/],
    [{ gpus: 3, parallel: { tp: 3 } }, /--tp 3 must divide the 32 attention heads/],
    [{ gpus: 64, parallel: { pp: 64 } }, /--pp 64 is more stages than .* 32 layers/],
    [{ gpus: 2, batch: 6, parallel: { pp: 2, microbatches: 4 } }, /--microbatches 4 must divide --batch 6/],
    [{ gpus: 2, microBatch: 2, parallel: { pp: 2 } }, /drop --micro-batch/],
    [{ gpus: 3, batch: 6, parallel: { pp: 3, ppSchedule: 'interleaved' } }, /32 layers must split evenly into pp × virtual stages = 3 × 2/],
    [{ gpus: 1, parallel: { microbatches: 4 } }, /shape a pipeline; set --pp 2 or more/],
    [{ gpus: 4, seq: 1022, parallel: { cp: 4 } }, /--cp 4 must divide --seq 1022/],
  ])('refuses %o', (over, message) => {
    expect(() => lay(over)).toThrow(message);
  });

  it('refuses model parallelism for a model that is not a transformer', () => {
    expect(() => plan({ model: 'resnet50', gpus: 2, parallel: { tp: 2 } })).toThrow(/not a transformer/);
  });
});

describe('plans per rank', () => {
  const gpt = { model: 'gpt2-small', batch: 8, seq: 1024, attention: 'eager' } as const;

  it('tensor + sequence parallel t divides every activation, the logits and the matmul weights by t', () => {
    const one = plan(gpt);
    const four = plan({ ...gpt, gpus: 4, parallel: { tp: 4, sp: true } });
    expect(four.bytes.activations).toBeCloseTo(one.bytes.activations / 4, -2);
    expect(four.bytes.logits).toBeCloseTo(one.bytes.logits / 4, -2);
    // fp32 params under autocast: the master copy is the parameters' bytes on this GPU.
    const spec = resolveModel({ ...DEFAULT_PLAN, model: 'gpt2-small' });
    if (spec.kind !== 'transformer') throw new Error('gpt2 is a transformer');
    const h = spec.hidden;
    // Whole on every rank: positions, norms and biases (2 per layer norm, 4 + 2 biases per layer, final norm).
    const whole = spec.maxPositions * h + spec.layers * (4 * h + (3 * h + h + 4 * h + h)) + 2 * h;
    // The vocabulary-parallel embedding takes ⌈V/t⌉ rows.
    const split = one.params - whole - spec.vocab * h;
    expect(four.bytes.masterWeights).toBe(4 * (whole + split / 4 + Math.ceil(spec.vocab / 4) * h));
    expect(four.layout).toMatchObject({ tp: 4, sp: true, dp: 1 });
  });

  it('tensor parallel without sp keeps the 10·sbh Korthikanti replicates: more than the sp plan, less than one GPU', () => {
    const one = plan(gpt);
    const tp = plan({ ...gpt, gpus: 4, parallel: { tp: 4 } });
    const sp = plan({ ...gpt, gpus: 4, parallel: { tp: 4, sp: true } });
    expect(tp.bytes.activations).toBeGreaterThan(sp.bytes.activations);
    expect(tp.bytes.activations).toBeLessThan(one.bytes.activations);
    expect(commBytes(sp)).toBe(8 * 1024 * 768 * 2); // the b·s·h all-gather buffer
  });

  it('1F1B: every stage listed, worst first; the first holds p micro-batches of its layers', () => {
    const p = plan({ model: 'llama-2-7b', batch: 8, seq: 2048, checkpoint: 'full', gpus: 4, parallel: { pp: 4, microbatches: 8 } });
    expect(p.devices).toHaveLength(4);
    const totals = p.devices!.map((d) => d.totalBytes);
    expect([...totals].sort((a, b) => b - a)).toEqual(totals);
    expect(p.totalBytes).toBe(totals[0]);
    const s0 = p.devices!.find((d) => d.stage === 0)!;
    const s2 = p.devices!.find((d) => d.stage === 2)!;
    // Full checkpointing keeps b·s·h fp32 residuals per layer: 8 layers × 1 × 2048 × 4096 × 4 B, × in flight.
    const kept = 8 * 2048 * 4096 * 4;
    expect(s0.bytes.activations - s2.bytes.activations).toBeCloseTo(2 * kept, -6);
    expect(p.terms.find((t) => t.label === 'communication buffers')!.formula).toMatch(/PP send\/receive/);
    expect(p.notes.join(' ')).toMatch(/1f1b: stage i holds min\(p − i, m\)/);
  });

  it('GPipe holds every micro-batch: its worst stage needs more than 1F1B', () => {
    const base = { model: 'llama-2-7b', batch: 8, seq: 2048, checkpoint: 'full', gpus: 4 } as const;
    const gpipe = plan({ ...base, parallel: { pp: 4, microbatches: 8, ppSchedule: 'gpipe' } });
    const ofob = plan({ ...base, parallel: { pp: 4, microbatches: 8 } });
    expect(gpipe.bytes.activations).toBeGreaterThan(ofob.bytes.activations);
  });

  it('context parallel: the sequence split c ways, with the ring K/V exchange as a buffer', () => {
    const one = plan({ ...gpt, attention: 'fused' });
    // ZeRO-1: no DDP buckets, so the buffers are the exchange alone.
    const cp = plan({ ...gpt, attention: 'fused', gpus: 4, zero: 1, parallel: { cp: 4 } });
    expect(cp.bytes.logits).toBeCloseTo(one.bytes.logits / 4, -2);
    expect(cp.terms.find((t) => t.label === 'communication buffers')!.formula).toMatch(/CP key\/value exchange/);
    // K and V of one 256-token chunk, 12 heads × 64, 16-bit, send + receive.
    expect(commBytes(cp)).toBe(2 * 2 * 8 * 256 * 12 * 64 * 2);
  });

  it('inference under tensor parallel divides the weights and the KV cache', () => {
    const one = plan({ model: 'llama-2-7b', mode: 'inference', precision: 'bf16', seq: 4096 });
    const tp = plan({ model: 'llama-2-7b', mode: 'inference', precision: 'bf16', seq: 4096, gpus: 2, parallel: { tp: 2 } });
    expect(tp.bytes.kvCache).toBe(one.bytes.kvCache / 2);
    expect(tp.bytes.weights).toBeLessThan(one.bytes.weights / 2 + 2 * 4096 * 65 * 2);
    expect(tp.params).toBe(one.params);
  });

  it('pipeline, context and sequence parallelism are for training', () => {
    expect(() => plan({ mode: 'inference', gpus: 2, parallel: { pp: 2 } })).toThrow(/for inference use --tp/);
  });
});
